"""Time and peak memory of `data_prep.prepare` on the synthetic source at 1x / 4x / 16x sizes.

Run:  python benchmarks/prepare.py [--counts 50 200 800] [--size 256] [--workers 1]

Each size runs in a fresh process, so that the peak RSS (main process, and the largest
worker) belongs to that run alone. Flat memory means the peak does not grow with the count.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _one(count, size, workers):
    sys.path.insert(0, str(REPO))
    from data_prep import prepare

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        prepare("synthetic", out, count=count, size=size, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        shard_bytes = sum(p.stat().st_size for p in Path(out).glob("*.tar"))
    print(json.dumps({
        "seconds": seconds,
        "main_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "shard_mb": shard_bytes / 2**20,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return _one(args.one, args.size, args.workers)
    print(f"prepare synthetic, {args.size}x{args.size} fields, workers={args.workers}")
    print(f"{'fields':>7} {'seconds':>8} {'fields/s':>9} {'main RSS MB':>12} {'worker RSS MB':>14} {'shards MB':>10}")
    for count in args.counts:
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(count), "--size", str(args.size), "--workers", str(args.workers)],
            check=True, capture_output=True, text=True,
        )
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{count:>7} {row['seconds']:>8.2f} {count / row['seconds']:>9.1f} {row['main_rss_mb']:>12.0f} "
              f"{row['worker_rss_mb']:>14.0f} {row['shard_mb']:>10.1f}")


if __name__ == "__main__":
    main()
