#!/usr/bin/env bash
# Issue 14: is the default preset's realism gap a matter of training budget? On one lent GPU,
# side by side, from run configs $SHARDS/NAME.json (the `realistic-instance` preset):
#   fixed arms (FIXED):  trained to their configured epochs, e.g. the CPU control at two seeds;
#   long arms (LONG):    trained for as long as DEADLINE allows, in two phases so that the
#                        preset's linear learning-rate decay still ends the run:
#                        1. constant rate until PHASE1 seconds (no decay), cut by timeout;
#                        2. resumed from the last checkpoint with --epochs E+K --decay-epochs K,
#                           K the epochs that fit before DEADLINE at the rate phase 1 measured.
# Generators (and a small tar of config, history and log per arm) are copied to $OUT for
# `cig evaluate` on the CPU.
#
#   SHARDS=.gpu_data FIXED="A A2" LONG="B C" bash benchmarks/budget_gpu.sh
#
# SHARDS is a subset of BBBC039 small enough to travel (benchmarks/gpu_shards.py); .whl/
# holds the wheels the GPU image lacks (see gpu_quick.sh).
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-.gpu_data}
OUT=${OUT:-/tmp/cig_budget}
PHASE1=${PHASE1:-230}
DEADLINE=${DEADLINE:-470}
WORK=${WORK:-/tmp/budget}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/cig_jax_cache}
if [ -z "$NO_WHEELS" ] && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
mkdir -p "$OUT" "$WORK"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
START=$SECONDS

fixed() {  # fixed NAME: the config as it is
    timeout -k 5 $((DEADLINE - (SECONDS - START))) python3 -m cig_k3 train --data "$SHARDS" \
        --config "$SHARDS/$1.json" --tracking none --out "$WORK/$1" > "$WORK/$1.log" 2>&1
    echo "=== $1 rc=$? at $((SECONDS - START)) s"
}

long() {  # long NAME: phase 1 without decay, then a resume whose decay fits the time left
    local name=$1 run=$WORK/$1
    timeout -k 5 "$PHASE1" python3 -m cig_k3 train --data "$SHARDS" --config "$SHARDS/$name.json" \
        --epochs 10000 --decay-epochs 1 --tracking none --out "$run" > "$WORK/$name.log" 2>&1
    echo "=== $name phase 1 rc=$? at $((SECONDS - START)) s"
    local plan
    plan=$(python3 - "$run" $((DEADLINE - (SECONDS - START))) <<'EOF'
import json, sys
run, left = sys.argv[1], float(sys.argv[2])
history = json.load(open(f"{run}/history.json"))
config = json.load(open(f"{run}/config.json"))
done = max(e["epoch"] for e in history)
rates = [e["images_per_second"] for e in history if "images_per_second" in e][1:]  # not the compiling first
rate = min(rates[-3:])  # the slowest of the last epochs
per_epoch = config["steps_per_epoch"] * config["data"]["batch_size"] / rate
k = max(1, int((left - 90) / per_epoch))  # 90 s for the restart, the clusters and the save
print(done, k, f"{rate:.0f}")
EOF
)
    read -r done k rate <<< "$plan"
    echo "=== $name: $done epochs at $rate img/s; phase 2 adds $k epochs of decay"
    timeout -k 5 $((DEADLINE - (SECONDS - START))) python3 -m cig_k3 train --data "$SHARDS" \
        --config "$run/config.json" --resume "$run" --epochs $((done + k)) --decay-epochs "$k" \
        --tracking none >> "$WORK/$name.log" 2>&1
    echo "=== $name phase 2 rc=$? at $((SECONDS - START)) s"
}

for name in $FIXED; do fixed "$name" & done
for name in $LONG; do long "$name" & done
wait

export_cut() {  # a run cut off before it saved its generator: export its last checkpoint
    local run=$WORK/$1 done_epochs
    { [ -f "$run/generator.keras" ] || [ ! -f "$run/checkpoint.npz" ]; } && return
    done_epochs=$(python3 -c "import json; print(max(e['epoch'] for e in json.load(open('$run/history.json'))))")
    timeout -k 5 90 python3 -m cig_k3 train --data "$SHARDS" --config "$run/config.json" --resume "$run" \
        --epochs "$done_epochs" --tracking none >> "$WORK/$1.log" 2>&1
    echo "=== $1 exported after $done_epochs epochs: rc=$?"
}
for name in $FIXED $LONG; do export_cut "$name" & done
wait
for name in $FIXED $LONG; do
    run=$WORK/$name
    cp "$run/generator.keras" "$OUT/$name.generator.keras" 2>/dev/null || echo "$name: no generator"
    grid=$(ls "$run"/samples/*.png 2>/dev/null | tail -1)
    tar czf "$OUT/$name.tgz" -C "$WORK" "$name.log" "$name/config.json" "$name/history.json" \
        ${grid:+"$name/samples/$(basename "$grid")"} 2>/dev/null
    python3 -c "import json; h=json.load(open('$run/history.json')); print('$name', len(h), json.dumps(h[-1]))" 2>/dev/null
done
ls -la "$OUT"
