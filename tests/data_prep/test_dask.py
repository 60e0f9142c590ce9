"""prepare on Dask (`--dask`): the same bytes as the local path, a killed worker's shard retried.

One LocalCluster of two single-threaded worker processes serves the module; each test joins
it by address (the path a remote scheduler takes), and the CLI test starts its own `local:2`.
"""

import os
import signal
from pathlib import Path

import pytest

from data_prep import pipeline, prepare
from data_prep.cli import main
from data_prep.cluster import parse_address
from data_prep.sources import Synthetic

distributed = pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed")

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def scheduler():
    """The address of a 2-worker LocalCluster on 127.0.0.1, closed after the module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=20)


def _folder_source(root, dp):
    names = [f"f{i}" for i in range(7)]
    dp.make_pairs(root, names, shape=(24, 20))
    splits = ["train"] * 4 + ["val"] * 2 + ["test"]
    (root / "splits.csv").write_text("name,split\n" + "".join(f"{n},{s}\n" for n, s in zip(names, splits)))
    return root


def test_dask_output_is_byte_identical_to_local(tmp_path, dp, scheduler):
    source = _folder_source(tmp_path / "source", dp)
    local = prepare(source, tmp_path / "local", shard_size=2, progress=False)
    on_dask = prepare(source, tmp_path / "dask", shard_size=2, progress=False, dask=scheduler)
    assert on_dask == local
    expected = dp.output_files(tmp_path / "local")
    assert set(expected) == {"manifest.json", "train-000000.tar", "train-000001.tar", "val-000000.tar",
                             "test-000000.tar"}
    assert dp.output_files(tmp_path / "dask") == expected
    # A rerun on the cluster finds the finished job and rewrites nothing.
    assert prepare(source, tmp_path / "dask", shard_size=2, progress=False, dask=scheduler) == local


def test_dask_stops_at_the_first_bad_file_like_local(tmp_path, dp, scheduler):
    source = _folder_source(tmp_path / "source", dp)
    (source / "images" / "f3.tif").write_bytes(b"not a tiff")
    errors = []
    for out, dask in (("local", None), ("dask", scheduler)):
        with pytest.raises(ValueError) as caught:
            prepare(source, tmp_path / out, shard_size=2, progress=False, dask=dask)
        errors.append(str(caught.value))
        assert not list((tmp_path / out).glob("*.tar")), "a failed check must write no shard"
    assert errors[0] == errors[1] and "f3.tif" in errors[0]


class KillOnce:
    """A synthetic source whose first load of field 3 kills its worker process (SIGKILL),
    as a node failure would; the marker file records that the kill happened."""

    task, needs_validation = "mask2image", False

    def __init__(self, inner, marker):
        self.inner, self.marker = inner, str(marker)

    def __getattr__(self, name):
        if name == "inner":  # during unpickling, before __dict__ is restored
            raise AttributeError(name)
        return getattr(self.inner, name)

    def load(self, field):
        if field.index == 3 and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.load(field)


def test_killed_worker_task_is_retried_and_leaves_no_partial(tmp_path, dp, scheduler, monkeypatch):
    options = dict(count=8, size=32, seed=3, shard_size=2)
    local = prepare("synthetic", tmp_path / "local", progress=False, **options)
    marker = tmp_path / "killed"
    original = pipeline.open_source
    monkeypatch.setattr(pipeline, "open_source", lambda source, opts: KillOnce(original(source, opts), marker))
    on_dask = prepare("synthetic", tmp_path / "dask", progress=False, dask=scheduler, **options)
    assert marker.exists(), "the worker was not killed: the retry was not exercised"
    assert int(marker.read_text()) != os.getpid()
    assert on_dask == local
    assert dp.output_files(tmp_path / "dask") == dp.output_files(tmp_path / "local")
    assert not [p for p in (tmp_path / "dask").iterdir() if p.name.endswith(".partial")]


def test_cli_dask_local_cluster(tmp_path, dp):
    assert main(["synthetic", "--count", "5", "--size", "32", "--shard-size", "2", "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 0
    assert main(["synthetic", "--count", "5", "--size", "32", "--shard-size", "2", "--out", str(tmp_path / "b"),
                 "--no-progress", "--dask", "local:2"]) == 0
    assert dp.output_files(tmp_path / "b") == dp.output_files(tmp_path / "a")


def test_bad_dask_address_is_one_line(tmp_path, capsys):
    assert parse_address("local") == ("local", None)
    assert parse_address("local:3") == ("local", 3)
    assert parse_address(" tcp://10.0.0.1:8786 ") == ("remote", "tcp://10.0.0.1:8786")
    status = main(["synthetic", "--count", "2", "--size", "32", "--out", str(tmp_path / "c"), "--dask", "local:0"])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("data_prep: error: --dask 'local:0'") and "\n" not in error
