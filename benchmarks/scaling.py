"""How cost grows: prepare at 1x / 4x / 16x data (local and on a 2-worker LocalCluster),
generate throughput on 1 and 2 Dask workers, and the two-process training step.

Run:  python benchmarks/scaling.py [--base 25] [--size 256] [--masks 16] [--train-steps 6]

Every measurement runs in fresh processes, so that peak memory (ru_maxrss) belongs to that
run alone: for the Dask rows, the client's peak and the largest worker's. The table is
printed with the machine named; `benchmarks/RESULTS.md` records it.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare_one(count, size, dask):
    from data_prep import prepare

    with tempfile.TemporaryDirectory() as out:
        worker_mb = 0.0
        start = time.perf_counter()
        if dask:
            from data_prep.cluster import dask_client

            with dask_client("local:2") as client:
                started = time.perf_counter()
                prepare("synthetic", out, count=count, size=size, progress=False, dask=client.scheduler.address)
                seconds = time.perf_counter() - started
                worker_mb = max(client.run(_peak_mb).values())
        else:
            prepare("synthetic", out, count=count, size=size, progress=False)
            seconds = time.perf_counter() - start
    return {"seconds": seconds, "main_mb": _peak_mb(), "worker_mb": worker_mb}


def _masks(folder, count, size):
    import cv2

    from data_prep.synthetic import field_rng, make_field

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        _, instances = make_field(field_rng(11, index), size)
        cv2.imwrite(str(folder / f"mask{index:04d}.png"), instances)
    return folder


def _run_folder(folder):
    import numpy as np

    from cig_k3.models import UNetGenerator

    folder.mkdir(parents=True, exist_ok=True)
    generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=16, depth=4, seed=1)
    generator(np.zeros((1, 64, 64, 3), np.float32))
    generator.save(folder / "generator.keras")
    manifest = {"task": "mask2image", "encoding": "semantic3", "raw_dtype": "uint16", "raw_channels": ["dna"],
                "stats": {"raw": {"p_low": [100.0], "p_high": [4000.0]}}, "splits": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _generate_one(masks, size, workers):
    from cig_k3.cli import main

    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        run = _run_folder(root / "run")
        folder = _masks(root / "masks", masks, size)
        start = time.perf_counter()
        status = main(["generate", "--model", str(run), "--masks", str(folder), "--out", str(root / "g"),
                       "--as-shards", str(root / "s"), "--shard-size", str(max(masks // 4, 1)),
                       "--dask", f"local:{workers}"])
        seconds = time.perf_counter() - start
    assert status == 0
    return {"seconds": seconds, "pairs_per_second": masks / seconds}


def _train_one(steps):
    """Seconds per step of the tiny config (global batch 4), one process against two
    (127.0.0.1, gloo), from the second epoch's images per second."""
    sys.path.insert(0, str(REPO))
    from tests.cig_k3.training import test_multihost as harness
    from tests.helpers import tiny_values

    from cig_k3.config import config_from_preset
    from data_prep import prepare

    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        shards = root / "shards"
        prepare("synthetic", shards, count=16, size=48, seed=2, shard_size=3, ratios="0.75,0.25,0", progress=False)
        # Two epochs: the second one's throughput (the Throughput callback) has no compilation in it.
        common = dict(epochs=2, steps_per_epoch=steps, jit="on", data={"batch_size": 4, "validation_batches": 1})
        harness._train_on_joined_batches(config_from_preset("cig", tiny_values(shards, root / "one", distribute="none",
                                                                               **common)), 2)
        multi_path = root / "two.json"
        multi_path.write_text(json.dumps(tiny_values(shards, root / "two", distribute="data_parallel", **common)))
        address = f"127.0.0.1:{harness._free_port()}"
        logs = [root / f"p{i}.log" for i in range(2)]
        processes = [harness._start(multi_path, logs[i], KERAS_DISTRIBUTION_JOB_ADDRESSES=address,
                                    KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(i))
                     for i in range(2)]
        harness._wait(processes, logs, limit=600)
        rates = {name: json.loads((root / name / "history.json").read_text())[-1]["images_per_second"]
                 for name in ("one", "two")}
    return {name: 4 / rate for name, rate in rates.items()}


def _child(kind, *arguments):
    """Run one measurement in a fresh process; its JSON result."""
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    result = subprocess.run([sys.executable, __file__, "--one", kind, *map(str, arguments)], cwd=REPO, env=env,
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _machine():
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB, Python {platform.python_version()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=25, help="fields at 1x (default 25)")
    parser.add_argument("--size", type=int, default=256, help="field side in pixels")
    parser.add_argument("--masks", type=int, default=16, help="masks generated per throughput run")
    parser.add_argument("--train-steps", type=int, default=6, help="training steps timed (0: skip)")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, *values = args.one
        if kind == "prepare":
            result = _prepare_one(int(values[0]), int(values[1]), values[2] == "dask")
        elif kind == "generate":
            result = _generate_one(int(values[0]), int(values[1]), int(values[2]))
        else:
            result = _train_one(int(values[0]))
        print(json.dumps(result))
        return
    print(f"machine: {_machine()}")
    print(f"\nprepare, synthetic {args.size}x{args.size} fields")
    print("| data | fields | where | seconds | fields/s | client peak MB | worker peak MB |")
    print("|---|---|---|---|---|---|---|")
    for factor in (1, 4, 16):
        count = args.base * factor
        for where in ("local", "dask"):
            row = _child("prepare", count, args.size, where)
            name = "local, 1 process" if where == "local" else "LocalCluster, 2 workers"
            print(f"| {factor}x | {count} | {name} | {row['seconds']:.2f} | {count / row['seconds']:.1f} | "
                  f"{row['main_mb']:.0f} | {row['worker_mb']:.0f} |", flush=True)
    print(f"\ngenerate --as-shards --dask, {args.masks} masks of {args.size}x{args.size}, U-Net depth 4 / 16 filters "
          f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND', 'jax')}); time includes worker start-up and model load")
    print("| workers | seconds | pairs/s |")
    print("|---|---|---|")
    for workers in (1, 2):
        row = _child("generate", args.masks, args.size, workers)
        print(f"| {workers} | {row['seconds']:.1f} | {row['pairs_per_second']:.2f} |", flush=True)
    if args.train_steps:
        row = _child("train", args.train_steps)
        print("\ntraining step, tiny cig config, global batch 4, jit on, JAX on CPU (gloo between processes)")
        print("| processes | seconds per step |")
        print("|---|---|")
        print(f"| 1 | {row['one']:.3f} |\n| 2 (127.0.0.1) | {row['two']:.3f} |")


if __name__ == "__main__":
    main()
