#!/usr/bin/env bash
# Issue 14: train loss variants of the "realistic" preset side by side on one lent GPU, to
# choose the one that gets the 60-minute CPU run. Each variant is `cig train` on JAX
# (float32, as on the CPU) for STEPS steps at the preset's crop 128 / batch 4; the
# generators come back under $OUT and are evaluated on the CPU (`cig evaluate`).
#
#   SHARDS=.gpu_data bash benchmarks/realism_sweep_gpu.sh
#
# Each variant NAME is a full run config $SHARDS/NAME.json (the realistic preset with its
# losses changed). SHARDS is a shard folder (a subset of BBBC039 train + val travels within the 64 MiB
# carry); .whl/ holds the wheels the GPU image lacks (see gpu_quick.sh).
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-.gpu_data}
OUT=${OUT:-/tmp/cig_sweep}
EPOCHS=${EPOCHS:-10}
STEPS=${STEPS:-300}
LIMIT=${LIMIT:-240}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.25
if [ -z "$NO_WHEELS" ] && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
train() {  # train NAME ARGS...
    local name=$1; shift
    timeout -k 5 "$LIMIT" python3 -m cig_k3 train --data "$SHARDS" --config "$SHARDS/$name.json" --epochs "$EPOCHS" \
        --steps-per-epoch "$STEPS" --tracking none --workers 3 --sample-every 0 --out "/tmp/sweep/$name" "$@" \
        > "/tmp/sweep_$name.log" 2>&1
    echo "=== $name rc=$? at ${SECONDS}s"
    tail -3 "/tmp/sweep_$name.log"
}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p "$OUT" /tmp/sweep
for name in ${VARIANTS:-A B C}; do train "$name" & done
wait
export_cut() {  # a run cut off by LIMIT: its generator from the last checkpoint
    local run=/tmp/sweep/$1 done_epochs
    [ -f "$run/generator.keras" ] || [ ! -f "$run/checkpoint.npz" ] && return
    done_epochs=$(python3 -c "import json; print(max(e['epoch'] for e in json.load(open('$run/history.json'))))")
    timeout -k 5 60 python3 -m cig_k3 train --data "$SHARDS" --config "$run/config.json" --resume "$run" \
        --epochs "$done_epochs" --tracking none > "/tmp/sweep_$1_export.log" 2>&1
    echo "=== $1 exported after $done_epochs epochs: rc=$?"
}
for name in ${VARIANTS:-A B C}; do export_cut "$name" & done
wait
for name in ${VARIANTS:-A B C}; do
    run=/tmp/sweep/$name
    cp "$run/generator.keras" "$OUT/$name.generator.keras" 2>/dev/null
    grid=$(ls "$run"/samples/*.png 2>/dev/null | tail -1); [ -n "$grid" ] && cp "$grid" "$OUT/$name.samples.png"
    python3 -c "import json; h=json.load(open('$run/history.json')); print('$name', json.dumps(h[-1]))" 2>/dev/null
done
ls -la "$OUT"
