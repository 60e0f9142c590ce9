"""Side by side, one table: the PyTorch reference and each Keras backend training the presets.

Rows: the reference pix2pix step (`reference_pix2pix.py`), then tensorflow, jax and torch
for each preset (pix2pix, cig, realistic by default) at each batch size (1 and 4), float32,
at 256 x 256. Columns: images per second, the ratio to the reference at the same batch,
the fraction of the machine's measured fp32 matmul peak, and the peak RSS of the process.

Everything is measured in this one run on this one machine, which is named at the top:
- each row runs in a fresh subprocess (KERAS_BACKEND is set before keras is imported), by
  the workers of `train_step.py` and `reference_pix2pix.py`, so the figures are theirs;
- the peak is the largest fp32 matmul rate any of this run's processes measured (each
  train_step worker measures one through its backend), so every row has one denominator;
- the reference runs first and again last ("reference, again"): the spread of its two
  runs is the noise of the machine during the run (no second run with --quick).

    python benchmarks/compare.py                         # the full table (long on a CPU)
    python benchmarks/compare.py --quick                 # smoke test: 1 step, batch 1, not recorded
    python benchmarks/compare.py --presets pix2pix --batches 1 4 --steps 10

The table is appended to RESULTS.md unless --no-record (or --quick).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
COLUMNS = ["preset", "implementation", "batch", "img/s", "vs reference", "fraction of fp32 peak",
           "GFLOP/img", "peak RSS MB", "error"]


def _worker(script, args, backend=None, timeout=1800):
    """One worker's JSON figures, or {"error": ...}: a crash or a timeout is a row, not the end."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    try:
        return _common.run_worker(script, args, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}


def reference_row(batch, steps, crop, timeout, label="reference (PyTorch eager)"):
    result = _worker(HERE / "reference_pix2pix.py", [batch, steps, crop], timeout=timeout)
    return {"preset": "pix2pix", "implementation": label, "batch": batch, **result}


def backend_row(backend, preset, batch, steps, crop, timeout):
    result = _worker(HERE / "train_step.py", [preset, batch, "float32", "auto", steps, crop], backend, timeout)
    return {"preset": preset, "implementation": backend, "batch": batch, **result}


def finish(rows):
    """Fill the table's columns: ratios to the (first) reference, fractions of the run's peak."""
    peak = max((row.get("peak_fp32_gflops") or 0.0 for row in rows), default=0.0)
    reference = {}
    for row in rows:
        if row["implementation"].startswith("reference") and "images_per_second" in row:
            reference.setdefault(row["batch"], row["images_per_second"])  # the first run, not "again"
    for row in rows:
        rate = row.get("images_per_second")
        if rate is None:
            continue
        row["img/s"] = rate
        row["GFLOP/img"] = row.get("gflop_per_image")
        row["peak RSS MB"] = row.get("peak_rss_mb")
        if reference.get(row["batch"]):
            row["vs reference"] = rate / reference[row["batch"]]
        if peak and row.get("gflop_per_image"):
            row["fraction of fp32 peak"] = rate * row["gflop_per_image"] / peak
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["pix2pix", "cig", "realistic"])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--crop", type=int, default=256, help="image side; the reference needs 256")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row")
    parser.add_argument("--no-reference", action="store_true", help="leave the reference rows out")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per row")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 timed step, batch 1 unless --batches, no second reference, not recorded")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = 1
        if args.batches == parser.get_default("batches"):
            args.batches = [1]
    with_reference = not args.no_reference
    if with_reference and args.crop != 256:
        print(f"compare.py: the reference pix2pix is a 256 x 256 network; --crop {args.crop} runs without it",
              file=sys.stderr)
        with_reference = False

    print(f"Machine: {_common.machine()}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    start = time.perf_counter()
    rows = []

    def add(row):
        rows.append(row)
        print(json.dumps(row), flush=True)

    if with_reference:
        for batch in args.batches:
            add(reference_row(batch, args.steps, args.crop, args.timeout))
    for preset in args.presets:
        for backend in args.backends:
            for batch in args.batches:
                add(backend_row(backend, preset, batch, args.steps, args.crop, args.timeout))
    if with_reference and not args.quick:
        for batch in args.batches:
            add(reference_row(batch, args.steps, args.crop, args.timeout, label="reference, again"))
    peak = finish(rows)
    minutes = (time.perf_counter() - start) / 60
    body = (f"Machine: {_common.machine()}. float32, {args.crop} x {args.crop}, {args.steps} timed steps per row, "
            f"jit auto (XLA on JAX, as `cig train`); each row a fresh process. Measured fp32 matmul peak "
            f"{peak:.0f} GFLOP/s (the largest of the run). Load average {os.getloadavg()[0]:.1f} at the end; "
            f"{minutes:.1f} minutes in all.\n\n" + _common.table(rows, COLUMNS))
    _common.publish(f"Side by side at {args.crop}x{args.crop} (compare.py)", body,
                    record=not (args.no_record or args.quick))
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
