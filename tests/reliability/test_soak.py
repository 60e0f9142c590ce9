"""Soak: stream samples, then train at a small size, watching the resident memory (RSS).
After warm-up it must grow by less than 5%.

Two sizes of the same checks:
- `test_one_minute_soak` runs in `make test`, once (with the backend-independent tests, on
  the default KERAS_BACKEND): 10 000 streamed samples and 400 training steps, under a
  minute on 2 CPU cores.
- the full soak is `slow` (not in CI): 100 000 samples, then 5 000 steps. Shorter runs:
  CIG_SOAK_SAMPLES=20000 CIG_SOAK_STEPS=1000. The figures are printed (run with -s) and go
  to benchmarks/RESULTS.md under "Reliability soak (issue 8)".
"""

import os
import time
from pathlib import Path

import keras
import pytest

from tests.helpers import tiny_config

SAMPLES = int(os.environ.get("CIG_SOAK_SAMPLES", 100_000))
STEPS = int(os.environ.get("CIG_SOAK_STEPS", 5_000))
MINUTE_SAMPLES, MINUTE_STEPS = 10_000, 400
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


def stream_growth(shards, samples):
    """Stream `samples` augmented crops; the RSS growth after the first tenth (warm-up)."""
    from cig_k3.data import AugmentConfig, BatchStream

    batch_size = 32
    stream = BatchStream(shards, batch_size=batch_size, crop=32, augment=AugmentConfig(), seed=0,
                         steps_per_epoch=100)
    warm_at, readings, seen = samples // 10, [], 0
    start = time.perf_counter()
    for condition, target in stream.forever():
        seen += len(target)
        if seen >= warm_at and seen % (batch_size * 25) == 0:
            readings.append(rss_mib())
        if seen >= samples:
            break
    elapsed = time.perf_counter() - start
    growth = (max(readings) - readings[0]) / readings[0]
    print(f"\nsoak stream: {seen} samples in {elapsed:.1f} s ({seen / elapsed:.0f}/s); RSS after warm-up "
          f"{readings[0]:.1f} MiB, max {max(readings):.1f} MiB, end {readings[-1]:.1f} MiB, growth {growth:+.2%}")
    return growth


def training_growth(shards, out, steps, epochs=10):
    """Train the tiny config for `steps` in `epochs`; the RSS growth after two epochs (warm-up)."""
    from cig_k3.training import train

    readings = []

    class RSS(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            readings.append(rss_mib())

    config = tiny_config(shards, out, epochs=epochs, steps_per_epoch=max(steps // epochs, 1), jit="auto",
                         data={"augment": True})
    start = time.perf_counter()
    result = train(config, callbacks=[RSS()])
    elapsed = time.perf_counter() - start
    assert result.steps_done == epochs * config.steps_per_epoch and len(readings) == epochs
    warm = readings[1]  # after two epochs: graphs traced, buffers and allocator pools in place
    growth = (max(readings[1:]) - warm) / warm
    print(f"\nsoak train ({keras.backend.backend()}): {result.steps_done} steps in {elapsed:.1f} s; RSS after "
          f"warm-up {warm:.1f} MiB, max {max(readings[1:]):.1f} MiB, end {readings[-1]:.1f} MiB, growth {growth:+.2%}")
    return growth


# "backend_independent" here means "run once": make test runs this set once, on its default
# KERAS_BACKEND, rather than once per backend; the full soak below covers each backend.
@pytest.mark.backend_independent
def test_one_minute_soak(soak_shards, tmp_path):
    assert stream_growth(soak_shards, MINUTE_SAMPLES) < MAX_GROWTH
    assert training_growth(soak_shards, tmp_path / "run", MINUTE_STEPS) < MAX_GROWTH


@pytest.mark.slow
def test_streaming_memory_is_flat(soak_shards):
    assert stream_growth(soak_shards, SAMPLES) < MAX_GROWTH


@pytest.mark.slow
def test_training_memory_is_flat(soak_shards, tmp_path):
    assert training_growth(soak_shards, tmp_path / "run", STEPS) < MAX_GROWTH
