"""Generator inference throughput: untiled vs tiled (overlap 32), megapixels per second.

Uses the `cig` preset generator, UNetGenerator(in_channels=3, out_channels=1,
base_filters=32, depth=5, max_filters=256), on a one-hot semantic3 condition of
--size x --size pixels (default 4096). Prints a table and appends it to
benchmarks/RESULTS.md with the machine named (--no-record: print only).

"work" is the pixels the tiles compute (overlaps twice) over the field's pixels, so
1 / work is what tiled inference can reach against untiled on a model whose cost grows
with the pixels; "vs untiled" is what it reached.

    KERAS_BACKEND=tensorflow python benchmarks/inference.py --size 4096 --tiles 256 512
"""

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def condition(size, seed=0):
    labels = np.random.default_rng(seed).integers(0, 3, (size // 16, size // 16))
    labels = np.kron(labels, np.ones((16, 16), np.int64))  # blobs, like a mask
    return np.eye(3, dtype=np.float32)[labels]


def interleaved(functions, repeats):
    """Best time of each function over `repeats` rounds that run them in turn, so that a
    busy machine slows all of them alike. One warm-up call each first."""
    best = {name: float("inf") for name in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512, 1024],
                        help="largest tile sides (tiles shrink to cover the field evenly)")
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per generator call")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--no-record", action="store_true", help="print the table, do not append it")
    args = parser.parse_args(argv)

    import keras

    from cig_k3.inference import predict_tiled
    from cig_k3.inference.tiling import computed_pixels
    from cig_k3.models import UNetGenerator

    generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=32, depth=5, max_filters=256)
    image = condition(args.size)
    megapixels = args.size * args.size / 1e6

    def run(batch):
        return keras.ops.convert_to_numpy(generator(batch, training=False))

    functions = {"untiled": lambda: run(image[None])}
    for tile in args.tiles:
        functions[f"tiled {tile}"] = (lambda tile=tile: predict_tiled(
            run, image, tile, args.overlap, generator.size_multiple, batch_size=args.batch_size))
    best = interleaved(functions, args.repeats)
    rows = [(name, "-" if name == "untiled" else str(args.overlap), seconds) for name, seconds in best.items()]

    untiled = rows[0][2]
    header = (f"### Generator inference, {keras.backend.backend()}, {args.size}x{args.size}, "
              f"{datetime.date.today()}\n\nMachine: {cpu_model()}, {os.cpu_count()} cores. Model: `cig` preset "
              f"U-Net (32 filters, depth 5). Best of {args.repeats} interleaved rounds; tiles batched by {args.batch_size}; load average before: {os.getloadavg()[0]:.1f}.\n")
    lines = ["| mode | overlap | seconds | MP/s | work | vs untiled |", "|---|---|---|---|---|---|"]
    for mode, overlap, seconds in rows:
        ratio = untiled / seconds if np.isfinite(untiled) else float("nan")
        work = 1.0 if mode == "untiled" else computed_pixels(
            args.size, args.size, int(mode.split()[-1]), args.overlap, generator.size_multiple) / args.size**2
        lines.append(f"| {mode} | {overlap} | {seconds:.2f} | {megapixels / seconds:.2f} | {work:.3f} | {ratio:.0%} |")
    table = header + "\n" + "\n".join(lines) + "\n"
    print(table)
    if not args.no_record:
        with open(args.results, "a", encoding="utf-8") as handle:
            handle.write("\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
