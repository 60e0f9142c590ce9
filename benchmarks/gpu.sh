#!/usr/bin/env bash
# The GPU half of the speed suite (issue 7) in one command, on a CUDA machine with JAX and/or
# PyTorch (TensorFlow is not needed) and this repository's requirements importable:
#
#   bash benchmarks/gpu.sh                 # every figure, appended to benchmarks/RESULTS.md
#   BACKENDS="jax" STEPS=10 bash benchmarks/gpu.sh
#
# On the lent H100/H200 machines, which reach no registry, carry keras, webdataset,
# albumentations (and their missing requirements) as wheels, as /work/.library/device/README.md
# explains, and start with:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BACKENDS=${BACKENDS:-"jax torch"}
STEPS=${STEPS:-20}
SHARDS=${SHARDS:-/tmp/cig_gpu_shards}
export PYTHONUNBUFFERED=1
# The scripts import cig_k3 from this checkout; on the GPU machines it is not pip-installed.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
# 1. the yardstick: PyTorch pix2pix as the reference runs it (fp32, eager), on this GPU
$PYTHON benchmarks/reference_pix2pix.py --batches 1 4 16 --steps "$STEPS"
# 2. images/s, GPU memory and fraction of the measured bf16 matmul peak, compiled steps
$PYTHON benchmarks/train_step.py --backends $BACKENDS --presets pix2pix cig \
    --precisions float32 mixed_bfloat16 --jit on --batches 1 4 16 64 --steps "$STEPS"
# 3. where the time goes, per backend (torch: CUDA kernel self time; jax needs TensorFlow's
#    XSpace parser, so it is skipped where TensorFlow is absent)
for backend in $BACKENDS; do
    $PYTHON benchmarks/profile_step.py --backends "$backend" --precision mixed_bfloat16 --jit on --batch 16 \
        --steps 5 || echo "profile for $backend failed"
done
# 4. loader vs step in a real fit, with the GPU's busy fraction sampled by nvidia-smi
[ -f "$SHARDS/manifest.json" ] || $PYTHON -m data_prep synthetic --count 400 --size 256 --out "$SHARDS" --workers 8
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 > /tmp/cig_gpu_util.txt &
SAMPLER=$!
for backend in $BACKENDS; do
    KERAS_BACKEND=$backend $PYTHON benchmarks/loader.py --shards "$SHARDS" --fit cig --crop 256 --batch-size 16 --precision mixed_bfloat16 --jit on \
        --workers 4 8 --fit-steps 100
done
kill $SAMPLER
awk '{ total += $1; n += 1 } END { if (n) printf "GPU busy during the loader runs: mean utilization %.0f%% over %d samples\n", total / n, n }' /tmp/cig_gpu_util.txt
# 5. tiled vs untiled inference on a 4096x4096 mask
for backend in $BACKENDS; do
    KERAS_BACKEND=$backend $PYTHON benchmarks/inference.py --size 4096 --tiles 256 512 1024
done
