"""Train images per second, peak memory and achieved fraction of peak for GAN presets.

Each (backend, precision, jit, preset, batch) runs in a fresh process, on in-memory batches
(the loader has its own benchmark), timed over `--steps` steps of a real `fit()` after a
warm-up `fit()` that includes compilation. FLOPs come from cig_k3.models.flops
(3 F_G + 9 F_D per image, the pix2pix reference step). The peak is measured here: a large
matmul per backend in float32 and bfloat16.

    python benchmarks/train_step.py                          # CPU defaults
    python benchmarks/train_step.py --backends jax torch --precisions mixed_bfloat16 \
        --batches 1 4 16 64 --jit on                         # on a GPU
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def matmul_peak(dtype, size=None, repeats=10):
    import keras

    size = size or (8192 if _common.on_gpu() else 2048)  # a GPU needs a large product to reach its peak
    a = keras.random.normal((size, size), dtype=dtype)
    b = keras.random.normal((size, size), dtype=dtype)
    keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.sum(keras.ops.matmul(a, b)), "float32"))
    start = time.perf_counter()
    for _ in range(repeats):
        c = keras.ops.matmul(a, b)
    keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.sum(c), "float32"))
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def compiled_gan(preset, batch, precision, jit, crop):
    """The preset's GAN, compiled as `cig train` compiles it, an endless source of one
    in-memory batch, and the model FLOPs per image per step."""
    import keras
    import numpy as np

    from cig_k3.config import config_from_preset
    from cig_k3.models.flops import gan_step_flops
    from cig_k3.training.run import build_gan, jit_setting, make_optimizers

    config = config_from_preset(preset, {"data": {"crop": crop, "batch_size": batch}, "precision": precision,
                                         "jit": jit})
    keras.config.set_dtype_policy(precision)
    gan = build_gan(config, 3, 1)
    gan.compile(*make_optimizers(config), jit_compile=jit_setting(jit))
    flops = gan_step_flops(gan.generator, gan.discriminator, (crop, crop, 3), (crop, crop, 1))["step"]
    rng = np.random.default_rng(0)
    condition = np.eye(3, dtype="float32")[rng.integers(0, 3, (batch, crop, crop))]
    target = np.tanh(rng.normal(size=(batch, crop, crop, 1))).astype("float32")

    def batches():
        while True:
            yield condition, target

    return gan, batches, flops


def worker(preset, batch, precision, jit, steps, crop):
    import keras

    gan, batches, flops = compiled_gan(preset, batch, precision, jit, crop)
    gan.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)  # compile + warm-up
    start = time.perf_counter()
    gan.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    images_per_second = steps * batch / seconds
    gpu_peak = _common.gpu_peak_mb()  # before the matmul peak allocates its own
    keras.config.set_dtype_policy("float32")
    peak = {d: matmul_peak(d) for d in ("float32", "bfloat16")}
    achieved = images_per_second * flops
    return {
        "images_per_second": images_per_second, "peak_rss_mb": _common.peak_rss_mb(),
        "gpu_peak_mb": gpu_peak,
        "gflop_per_image": flops / 1e9, "achieved_gflops": achieved / 1e9,
        "peak_fp32_gflops": peak["float32"] / 1e9, "peak_bf16_gflops": peak["bfloat16"] / 1e9,
        "fraction_of_peak": achieved / max(peak["float32"] if precision == "float32" else peak["bfloat16"], 1.0),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--presets", nargs="+", default=["pix2pix", "cig"])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--jit", nargs="+", default=["auto"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args, rest = parser.parse_known_args()
    if args.worker:
        preset, batch, precision, jit, steps, crop = rest
        print(json.dumps(worker(preset, int(batch), precision, jit, int(steps), int(crop))))
        return

    rows = []
    for backend in args.backends:
        for preset in args.presets:
            for precision in args.precisions:
                for jit in args.jit:
                    for batch in args.batches:
                        result = _common.run_worker(
                            __file__, [preset, batch, precision, jit, args.steps, args.crop],
                            env={"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
                        )
                        row = {"backend": backend, "preset": preset, "precision": precision, "jit": jit,
                               "batch": batch, **result}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    columns = ["backend", "preset", "precision", "jit", "batch", "images_per_second", "peak_rss_mb", "gpu_peak_mb",
               "gflop_per_image", "achieved_gflops", "fraction_of_peak", "peak_fp32_gflops", "peak_bf16_gflops",
               "error"]
    _common.publish(f"train_step at {args.crop}x{args.crop}", _common.table(rows, columns), record=not args.no_record)


if __name__ == "__main__":
    main()
