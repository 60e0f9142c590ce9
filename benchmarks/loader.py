"""Throughput and memory of the shard reader (`cig_k3.data.BatchStream`).

Reads 256 x 256 training crops with full augmentation (flips, rot90, Gaussian and Poisson
noise, brightness/contrast, gamma) from a shard folder, e.g. BBBC039 prepared by
`python -m data_prep /path/to/bbbc039 --out /tmp/bbbc039_shards`, and prints a table:

- samples/s: wall-clock rate after the first batch (worker start-up excluded);
- per CPU-s: samples per second of CPU time of the reader (main process and workers), that
  is the rate one fully used core gives, whatever else runs on the machine; "main CPU %"
  is the main process's share of that CPU time (collating, one-hot, reading the queues);
- peak RSS of the main process, of the largest worker, and their sum (an upper bound:
  pages shared after the fork count twice).

Each configuration runs in a fresh process, so the peaks of one do not hide another's.
The last rows read 10x more samples than the first ones: memory must stay flat.
`--field-cache-mb 0 256` compares decoding every field on every pass with keeping the
decoded fields (`BatchStream(field_cache_mb=...)`, same batches bit for bit); the memory
rows use the last budget given.

With `--fit PRESET`, it answers whether the loader or the step is the bottleneck during a
real `fit`: the preset's GAN is trained for `--fit-steps` steps from an in-memory batch and
then from the loader (same batch size and crop); it prints both images/s, their ratio (1.0:
the step is the bottleneck) and the fraction of the loader-fed fit spent waiting in the
loader's `next()`. On a GPU, pair it with `nvidia-smi --query-gpu=utilization.gpu` (the
accelerator's busy fraction).

Usage:
    python benchmarks/loader.py --shards /tmp/bbbc039_shards
    python benchmarks/loader.py --shards DIR --workers 0 1 2 --crops-per-field 1 4 --field-cache-mb 0 256
    python benchmarks/loader.py --shards DIR --fit cig --crop 128 --batch-size 4 --workers 1
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_rss_cpu(pid):
    """(RSS bytes, CPU seconds) of a live process from /proc, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    return int(fields[21]) * PAGE_SIZE, cpu


class Sampler(threading.Thread):
    """Polls RSS and CPU time of this process and its worker processes."""

    def __init__(self, interval=0.05):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = {}   # pid -> peak RSS
        self.cpu = {}    # pid -> last CPU seconds seen
        self.running = True

    def poll(self):
        import multiprocessing

        for pid in [os.getpid()] + [child.pid for child in multiprocessing.active_children()]:
            reading = _proc_rss_cpu(pid)
            if reading is not None:
                self.peak[pid] = max(self.peak.get(pid, 0), reading[0])
                self.cpu[pid] = reading[1]

    def run(self):
        while self.running:
            self.poll()
            time.sleep(self.interval)


def measure(shards, workers, samples, crop, batch_size, crops_per_field, seed, field_cache_mb=256):
    """One configuration, in this process: returns a dict of figures."""
    from cig_k3.data import AugmentConfig, BatchStream

    steps = math.ceil(samples / batch_size)
    stream = BatchStream(shards, split="train", batch_size=batch_size, crop=crop, augment=AugmentConfig(),
                         seed=seed, workers=workers, steps_per_epoch=steps, crops_per_field=crops_per_field,
                         field_cache_mb=field_cache_mb)
    sampler = Sampler()
    sampler.start()
    batches = stream.epoch(0)
    next(batches)  # start-up: workers, shuffle buffer
    sampler.poll()
    cpu_start = dict(sampler.cpu)
    start = time.perf_counter()
    timed = 0
    for condition, target in batches:
        timed += len(target)
        sampler.poll()  # last look at the workers while they are alive
    elapsed = time.perf_counter() - start
    sampler.running = False
    main = os.getpid()
    cpu = sum(seconds - cpu_start.get(pid, 0.0) for pid, seconds in sampler.cpu.items())
    main_cpu = sampler.cpu[main] - cpu_start.get(main, 0.0)
    worker_peaks = [peak for pid, peak in sampler.peak.items() if pid != main]
    return {
        "workers": workers, "crops_per_field": crops_per_field, "field_cache_mb": field_cache_mb,
        "samples": steps * batch_size, "samples_per_s": timed / elapsed, "samples_per_cpu_s": timed / max(cpu, 1e-9),
        "main_cpu_fraction": main_cpu / max(cpu, 1e-9),
        "rss_main_mb": sampler.peak[main] / 2**20,
        "rss_worker_mb": max(worker_peaks, default=0) / 2**20,
        "rss_total_mb": (sampler.peak[main] + sum(worker_peaks)) / 2**20,
    }


def fit_bottleneck(shards, preset, workers, crop, batch_size, steps, seed, precision="float32", jit="auto"):
    """In-memory vs loader-fed `fit` of the preset's GAN, in this process."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from train_step import compiled_gan

    from cig_k3.data import AugmentConfig, BatchStream

    gan, in_memory, _ = compiled_gan(preset, batch_size, precision, jit, crop)
    stream = BatchStream(shards, split="train", batch_size=batch_size, crop=crop, augment=AugmentConfig(),
                         seed=seed, workers=workers, steps_per_epoch=steps)
    waits = []

    def timed(batches):
        while True:
            start = time.perf_counter()
            batch = next(batches)
            waits.append(time.perf_counter() - start)
            yield batch

    gan.fit(in_memory(), steps_per_epoch=2, epochs=1, verbose=0)  # compile + warm-up
    start = time.perf_counter()
    gan.fit(in_memory(), steps_per_epoch=steps, epochs=1, verbose=0)
    memory_rate = steps * batch_size / (time.perf_counter() - start)
    batches = timed(stream.forever())
    gan.fit(batches, steps_per_epoch=2, epochs=1, verbose=0)  # loader start-up
    waits.clear()
    start = time.perf_counter()
    gan.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    elapsed = time.perf_counter() - start
    return {"preset": preset, "workers": workers, "crop": crop, "batch": batch_size, "steps": steps,
            "in_memory_img_s": memory_rate, "loader_img_s": steps * batch_size / elapsed,
            "ratio": steps * batch_size / elapsed / memory_rate, "loader_wait_fraction": sum(waits) / elapsed}


def _run_in_subprocess(args, workers, samples, crops_per_field, field_cache_mb):
    command = [sys.executable, os.path.abspath(__file__), "--shards", args.shards, "--crop", str(args.crop),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed),
               "--one", json.dumps([workers, samples, crops_per_field, field_cache_mb])]
    environment = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1")
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", required=True, help="shard folder with manifest.json")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--crops-per-field", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--field-cache-mb", type=float, nargs="+", default=[0, 256],
                        help="decoded-field cache budgets per reader process (0: decode on every pass)")
    parser.add_argument("--samples", type=int, default=2000, help="samples per throughput run")
    parser.add_argument("--memory-samples", type=int, nargs=2, default=[500, 5000],
                        help="the two lengths of the memory check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit", metavar="PRESET", help="measure the loader against this preset's step in fit")
    parser.add_argument("--fit-steps", type=int, default=50)
    parser.add_argument("--precision", default="float32", help="of the --fit step")
    parser.add_argument("--jit", default="auto", help="of the --fit step")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    if args.fit:
        for workers in args.workers:
            row = fit_bottleneck(args.shards, args.fit, workers, args.crop, args.batch_size, args.fit_steps, args.seed,
                                 args.precision, args.jit)
            print(json.dumps(row), flush=True)
            bound = "step" if row["ratio"] > 0.9 else "loader"
            print(f"{args.fit} crop {args.crop} batch {args.batch_size}, {workers} loader workers: in-memory "
                  f"{row['in_memory_img_s']:.1f} img/s, loader-fed {row['loader_img_s']:.1f} img/s "
                  f"(ratio {row['ratio']:.2f}), {row['loader_wait_fraction']:.0%} of the fit waiting on the "
                  f"loader: the {bound} is the bottleneck", flush=True)
        return

    if args.one:
        workers, samples, crops_per_field, field_cache_mb = json.loads(args.one)
        print(json.dumps(measure(args.shards, workers, samples, args.crop, args.batch_size,
                                 crops_per_field, args.seed, field_cache_mb)))
        return

    runs = [(workers, args.samples, crops, cache) for cache in args.field_cache_mb
            for crops in args.crops_per_field for workers in args.workers]
    memory_workers = max(args.workers)
    runs += [(memory_workers, samples, args.crops_per_field[0], args.field_cache_mb[-1])
             for samples in args.memory_samples]
    print(f"shards {args.shards}, crop {args.crop}, batch {args.batch_size}, full augmentation, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    header = ("workers", "crops/field", "cache MB", "samples", "samples/s", "per CPU-s", "main CPU %",
              "RSS main MB", "RSS worker MB", "RSS sum MB")
    print(" | ".join(header))
    rows = []
    for workers, samples, crops, cache in runs:
        row = _run_in_subprocess(args, workers, samples, crops, cache)
        rows.append(row)
        print(" | ".join([f"{row['workers']:7d}", f"{row['crops_per_field']:11d}", f"{row['field_cache_mb']:8.0f}",
                          f"{row['samples']:7d}", f"{row['samples_per_s']:9.0f}", f"{row['samples_per_cpu_s']:9.0f}",
                          f"{100 * row['main_cpu_fraction']:10.0f}", f"{row['rss_main_mb']:11.0f}",
                          f"{row['rss_worker_mb']:13.0f}", f"{row['rss_total_mb']:10.0f}"]), flush=True)
    small, large = rows[-2], rows[-1]
    print(f"memory check ({memory_workers} workers): {small['samples']} -> {large['samples']} samples, "
          f"RSS sum {small['rss_total_mb']:.0f} -> {large['rss_total_mb']:.0f} MB "
          f"({large['rss_total_mb'] - small['rss_total_mb']:+.0f} MB)")


if __name__ == "__main__":
    main()
