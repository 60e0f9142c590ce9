"""Soak: stream 100 000 samples, then train 5 000 steps on CPU at a small size, watching the
resident memory (RSS). After warm-up it must grow by less than 5%.

Not in CI (`slow`). Shorter runs: CIG_SOAK_SAMPLES=20000 CIG_SOAK_STEPS=1000. The figures
are printed (run with -s) and go to benchmarks/RESULTS.md under "Reliability soak (issue 8)".
"""

import os
import time
from pathlib import Path

import keras
import pytest

from tests.reliability.conftest import tiny_config

pytestmark = pytest.mark.slow

SAMPLES = int(os.environ.get("CIG_SOAK_SAMPLES", 100_000))
STEPS = int(os.environ.get("CIG_SOAK_STEPS", 5_000))
MAX_GROWTH = 0.05


def rss_mib():
    """Resident set size of this process, in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module")
def soak_shards(tmp_path_factory):
    if not Path("/proc/self/status").exists():
        pytest.skip("RSS is read from /proc (Linux)")
    from data_prep import prepare

    out = tmp_path_factory.mktemp("soak_shards")
    prepare("synthetic", out, count=64, size=64, seed=0, shard_size=8, ratios="0.75,0.25,0", progress=False)
    return out


def test_streaming_memory_is_flat(soak_shards):
    from cig_k3.data import AugmentConfig, BatchStream

    batch_size = 32
    stream = BatchStream(soak_shards, batch_size=batch_size, crop=32, augment=AugmentConfig(), seed=0,
                         steps_per_epoch=100)
    warm_at, readings, seen = SAMPLES // 10, [], 0
    start = time.perf_counter()
    for condition, target in stream.forever():
        seen += len(target)
        if seen >= warm_at and seen % (batch_size * 50) == 0:
            readings.append(rss_mib())
        if seen >= SAMPLES:
            break
    elapsed = time.perf_counter() - start
    growth = (max(readings) - readings[0]) / readings[0]
    print(f"\nsoak stream: {seen} samples in {elapsed:.1f} s ({seen / elapsed:.0f}/s); RSS after warm-up "
          f"{readings[0]:.1f} MiB, max {max(readings):.1f} MiB, end {readings[-1]:.1f} MiB, growth {growth:+.2%}")
    assert growth < MAX_GROWTH


def test_training_memory_is_flat(soak_shards, tmp_path):
    from cig_k3.training import train

    class RSS(keras.callbacks.Callback):
        readings = []

        def on_epoch_end(self, epoch, logs=None):
            self.readings.append(rss_mib())

    epochs = 10
    config = tiny_config(soak_shards, tmp_path / "run", epochs=epochs, steps_per_epoch=max(STEPS // epochs, 1),
                         jit="auto", data={"augment": True})
    start = time.perf_counter()
    train(config, callbacks=[RSS()])
    elapsed = time.perf_counter() - start
    readings = RSS.readings
    warm = readings[1]  # after two epochs: graphs traced, buffers and allocator pools in place
    growth = (max(readings[1:]) - warm) / warm
    steps = epochs * config.steps_per_epoch
    print(f"\nsoak train ({keras.backend.backend()}): {steps} steps in {elapsed:.1f} s; RSS after warm-up "
          f"{warm:.1f} MiB, max {max(readings[1:]):.1f} MiB, end {readings[-1]:.1f} MiB, growth {growth:+.2%}")
    assert growth < MAX_GROWTH
