#!/usr/bin/env bash
# benchmarks/gpu.sh cut to fit one ~7-minute lease on a lent GPU machine (issue 18).
#
#   bash benchmarks/gpu_quick.sh            # DEADLINE=430 seconds by default
#
# Why not gpu.sh itself: its full matrix is 32 train_step processes (each compiles its own
# GAN step), two loader fits and two 4096x4096 inference runs, well over the 15 minutes of
# device time a session gets. This runs the same scripts with the same options, in order
# of what the issue asks for, each stage under `timeout` so that a slow compile costs that
# stage and not the rest:
#   import check, reference, pix2pix bf16 at batch 16/64, cig bf16 at 16, loader-fed fit
#   with the GPU's busy fraction, tiled inference (torch), pix2pix fp32, torch profile,
#   torch.compile at batch 16, tiled inference (jax).
# Steps use `--jit auto` (XLA on JAX, eager torch, as `cig train` does by default);
# torch.compile has its own stage near the end because its compile time is unknown.
# If .whl/ holds wheels (keras, albumentations and their requirements; see
# /work/.library/device/README.md) they are installed into /tmp/site first.
# Every result is printed (one JSON line per configuration) and the scripts append their
# tables to benchmarks/RESULTS.md; with $OUT set, RESULTS.md and the GPU utilisation
# samples are copied there after every stage, so a cut-off run still returns them.
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEADLINE=${DEADLINE:-430}
STEPS=${STEPS:-20}
SHARDS=${SHARDS:-/tmp/cig_gpu_shards}
OUT=${OUT:-/tmp/cig_gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1 TF_CPP_MIN_LOG_LEVEL=3
# Keras defaults to TensorFlow, which the GPU machines lack; each stage names its own backend.
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
# Later processes that compile the same XLA step (the loader's fit) reuse the first compile.
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/cig_jax_cache}
if compgen -G ".whl/*.whl" > /dev/null; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 3; }
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi

save() { cp benchmarks/RESULTS.md "$OUT/RESULTS.md" 2>/dev/null; }
trap save EXIT

stage() {  # stage NAME SECONDS COMMAND...: run COMMAND for at most SECONDS, never past DEADLINE
    local name=$1 budget=$2 left
    shift 2
    left=$((DEADLINE - SECONDS))
    if [ "$left" -lt 25 ]; then
        echo "=== SKIP $name: ${left}s left before the deadline"
        return
    fi
    [ "$budget" -gt "$left" ] && budget=$left
    echo "=== $name (limit ${budget}s) starts at ${SECONDS}s"
    timeout -k 5 "$budget" "$@"
    echo "=== $name rc=$? ends at ${SECONDS}s"
    save
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
$PYTHON -c "import sys, torch, jax, keras, cv2, albumentations, cig_k3.data, cig_k3.training.run
print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name(0), 'jax', jax.__version__,
      jax.devices(), 'keras', keras.__version__, 'cv2', cv2.__version__, 'albumentations', albumentations.__version__)" \
    || { echo "import check failed"; exit 4; }

stage reference 60 $PYTHON benchmarks/reference_pix2pix.py --batches 16 64 --steps "$STEPS"
stage "pix2pix bf16" 200 $PYTHON benchmarks/train_step.py --backends jax torch --presets pix2pix \
    --precisions mixed_bfloat16 --jit auto --batches 16 64 --steps "$STEPS"
stage "cig bf16" 100 $PYTHON benchmarks/train_step.py --backends jax torch --presets cig \
    --precisions mixed_bfloat16 --jit auto --batches 16 --steps "$STEPS"
[ -f "$SHARDS/manifest.json" ] || stage shards 40 $PYTHON -m data_prep synthetic --count 400 --size 256 \
    --out "$SHARDS" --workers 8 --no-progress
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 > "$OUT/gpu_util.txt" &
SAMPLER=$!
stage "loader fit jax" 90 env KERAS_BACKEND=jax $PYTHON benchmarks/loader.py --shards "$SHARDS" --fit cig --crop 256 \
    --batch-size 16 --precision mixed_bfloat16 --jit auto --workers 4 8 --fit-steps 100
kill $SAMPLER
awk '{ total += $1; n += 1 } END { if (n) printf "GPU busy during the loader runs: mean utilization %.0f%% over %d samples\n", total / n, n }' "$OUT/gpu_util.txt"
stage "inference torch" 60 env KERAS_BACKEND=torch $PYTHON benchmarks/inference.py --size 4096 --tiles 256 512 1024
stage "pix2pix fp32" 100 $PYTHON benchmarks/train_step.py --backends jax torch --presets pix2pix \
    --precisions float32 --jit auto --batches 16 --steps "$STEPS"
stage "profile torch" 60 $PYTHON benchmarks/profile_step.py --backends torch --precision mixed_bfloat16 --jit auto \
    --batch 16 --steps 5
stage "pix2pix bf16 torch.compile" 120 $PYTHON benchmarks/train_step.py --backends torch --presets pix2pix \
    --precisions mixed_bfloat16 --jit on --batches 16 --steps "$STEPS"
stage "inference jax" 60 env KERAS_BACKEND=jax $PYTHON benchmarks/inference.py --size 4096 --tiles 256 512 1024
nvidia-smi --query-gpu=name,memory.used,clocks.sm,temperature.gpu --format=csv
echo "done at ${SECONDS}s"
