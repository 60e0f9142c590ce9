"""Two JAX training processes on 127.0.0.1 (gloo collectives on CPU) train the tiny config to
the weights of one process with the same global batch; only process 0 writes.

The processes are started with Keras' variables (KERAS_DISTRIBUTION_JOB_ADDRESSES, ...),
as a launcher would; the test waits a bounded time and kills them by PID.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.training import train
from cig_k3.training.run import prepare_run
from cig_k3.training.multihost import local_rows

from tests.helpers import tiny_values

REPO = Path(__file__).resolve().parents[3]
on_jax = pytest.mark.skipif(keras.backend.backend() != "jax",
                            reason="multi-process training is JAX's (keras.distribution.initialize)")

# One training run from a JSON config file; the variables say which process this is.
SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from cig_k3.config import config_from_preset
from cig_k3.training import train
from cig_k3.training.run import prepare_run
train(config_from_preset("cig", json.load(open(sys.argv[1]))))
"""


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(config_path, log_path, **variables):
    env = {**os.environ, "KERAS_BACKEND": "jax", **variables}
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, str(config_path)], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(processes, logs, limit):
    """Wait for every process up to `limit` seconds; kill the survivors by PID; the codes."""
    deadline = time.monotonic() + limit
    try:
        for process in processes:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    codes = [process.returncode for process in processes]
    assert codes == [0] * len(processes), "\n".join(Path(log).read_text()[-3000:] for log in logs)
    return codes


class JoinedStream:
    """The global batches of `count` processes in one process: the per-process streams'
    batches (BatchStream(process=(p, count)), as each process reads them) joined in
    process order, which is how Keras lays the processes' slices out in the global batch."""

    def __init__(self, streams):
        self.streams, self.task = streams, streams[0].task

    def forever(self, start_epoch=0):
        for parts in zip(*(stream.forever(start_epoch) for stream in self.streams)):
            yield tuple(np.concatenate([part[i] for part in parts]) for i in range(2))


def _train_on_joined_batches(config, count):
    """train() in this one process, fed the global batches that `count` processes feed."""
    from cig_k3.data import BatchStream

    prepared = prepare_run(config)
    streams = [BatchStream(config.data.shards, split="train", batch_size=config.data.batch_size // count,
                           crop=config.data.crop, seed=config.seed, steps_per_epoch=config.steps_per_epoch,
                           process=(index, count)) for index in range(count)]
    return train(config, prepared=dataclasses.replace(prepared, stream=JoinedStream(streams)))


def _weights(run_dir):
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files if key != "header"}


@pytest.fixture(scope="module")
def four_shards(tmp_path_factory):
    """Synthetic 48x48 fields whose train split is four shards (two per process)."""
    from data_prep import prepare

    out = tmp_path_factory.mktemp("four_shards")
    manifest = prepare("synthetic", out, count=16, size=48, seed=2, shard_size=3, ratios="0.75,0.25,0",
                       progress=False)
    assert len(manifest["splits"]["train"]["shards"]) == 4, manifest["splits"]
    return out


@on_jax
def test_two_processes_train_like_one(four_shards, tmp_path):
    common = dict(epochs=1, steps_per_epoch=2, jit="on", data={"batch_size": 4, "validation_batches": 1})
    configs = {}
    for name, overrides in (("single", {"distribute": "none"}),
                            ("multi", {"distribute": "data_parallel"})):
        values = tiny_values(four_shards, tmp_path / name, **{**common, **overrides})
        configs[name] = tmp_path / f"{name}.json"
        configs[name].write_text(json.dumps(values))
    address = f"127.0.0.1:{_free_port()}"
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    processes = [_start(configs["multi"], logs[i], KERAS_DISTRIBUTION_JOB_ADDRESSES=address,
                        KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(i))
                 for i in range(2)]
    try:  # the single-process reference runs here meanwhile (this process is on JAX already)
        _train_on_joined_batches(config_from_preset("cig", json.loads(configs["single"].read_text())), 2)
    finally:
        _wait(processes, logs, limit=180)
    assert "training process 1 of 2" in logs[1].read_text()
    single, multi = _weights(tmp_path / "single"), _weights(tmp_path / "multi")
    assert single.keys() == multi.keys()
    difference = max(float(np.max(np.abs(single[k].astype("float64") - multi[k]))) for k in single
                     if single[k].dtype.kind == "f")
    assert difference < 1e-4, difference
    history = {name: json.loads((tmp_path / name / "history.json").read_text()) for name in ("single", "multi")}
    for key, value in history["single"][-1].items():
        if key == "images_per_second":
            continue
        assert history["multi"][-1][key] == pytest.approx(value, rel=1e-3, abs=1e-4), key
    # Process 0 alone wrote: one checkpoint, one grid per epoch, no stray temporaries.
    assert len(list((tmp_path / "multi" / "samples").glob("*.png"))) == 1
    assert not list((tmp_path / "multi").glob(".*tmp*"))


@pytest.mark.backend_independent
def test_shards_not_shared_evenly_stop_in_one_line(tmp_path):
    from cig_k3.data import BatchStream
    from data_prep import prepare

    shards = tmp_path / "three"
    manifest = prepare("synthetic", shards, count=10, size=48, seed=2, shard_size=3, ratios="0.75,0.25,0",
                       progress=False)
    assert len(manifest["splits"]["train"]["shards"]) == 3
    with pytest.raises(ValueError, match="has 3 shards, which 2 training processes cannot share evenly") as caught:
        BatchStream(shards, batch_size=2, crop=32, process=(1, 2))
    assert "\n" not in str(caught.value)
    # Each of three processes reads one shard; its batches differ from the others'.
    firsts = [next(iter(BatchStream(shards, batch_size=2, crop=32, steps_per_epoch=1, process=(p, 3)).epoch(0)))
              for p in range(3)]
    assert not np.array_equal(firsts[0][1], firsts[1][1]) and not np.array_equal(firsts[1][1], firsts[2][1])


@pytest.mark.backend_independent
def test_local_rows_give_each_process_its_slice_of_every_global_batch():
    condition = np.arange(8)[:, None] * np.ones((1, 3))
    target = {"raw": np.arange(8) * 10}
    first = local_rows((condition, target), batch_size=4, index=0, count=2)
    second = local_rows((condition, target), batch_size=4, index=1, count=2)
    assert first[0][:, 0].tolist() == [0, 1, 4, 5] and second[0][:, 0].tolist() == [2, 3, 6, 7]
    assert first[1]["raw"].tolist() == [0, 10, 40, 50] and second[1]["raw"].tolist() == [20, 30, 60, 70]
