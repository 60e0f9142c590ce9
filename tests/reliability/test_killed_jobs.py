"""Killed or failing jobs lose nothing: prepare killed five times gives the same bytes, a
checkpoint write cut short keeps the previous checkpoint, export and generate never leave
a half-written file under the final name, and a tracking store that fails mid-run only
stops the tracking."""

import json
import os
import signal
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from cig_k3.cli import main
from cig_k3.training import train
from cig_k3.training.checkpoint import CHECKPOINT, read_header
from tests.data_prep.conftest import output_files
from tests.reliability.conftest import REPO, final_outputs, one_error_line, tiny_config


def _prepare_arguments(out):
    return ["synthetic", "--count", "48", "--size", "48", "--shard-size", "3", "--no-progress", "--out", str(out)]


def _prepare_command(out):
    return [sys.executable, "-m", "data_prep", *_prepare_arguments(out)]


# `python -m data_prep` that SIGKILLs itself at a chosen point of its own writing: in the
# middle of the Nth shard (after its first member), just after the Nth shard is in place, or
# half way through the manifest. A kill at a point, not after a delay, so that every run is cut
# short on a busy 2-core machine too (a timed kill there could land after the job had finished).
_KILLED_AT = """
import json, os, signal, sys, tarfile
from data_prep import sharding
from data_prep.cli import main

what, at, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = {"shard": 0, "manifest": 0}
real = {"shard": sharding.write_shard, "manifest": sharding.write_manifest}
real_addfile = tarfile.TarFile.addfile


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def addfile_then_die(tar, *args):  # the shard's first member is written, then the kill
    real_addfile(tar, *args)
    tar.fileobj.flush()
    die()


def dump_half_then_die(obj, handle, **options):
    handle.write(json.dumps(obj, **options)[:40])
    handle.flush()
    die()


def writer(kind):
    def write(*args):
        calls[kind] += 1
        if kind == what and calls[kind] == at and when == "during":
            tarfile.TarFile.addfile, json.dump = addfile_then_die, dump_half_then_die
        real[kind](*args)
        if kind == what and calls[kind] == at:
            die()
    return write


sharding.write_shard, sharding.write_manifest = writer("shard"), writer("manifest")
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.backend_independent
def test_prepare_killed_five_times_then_rerun_is_byte_identical(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    subprocess.run(_prepare_command(clean), check=True, cwd=REPO, env=env, capture_output=True)
    clean_files = output_files(clean)
    shards = [name for name in clean_files if name.endswith(".tar")]
    assert len(shards) >= 12
    kills = [("shard", 3, "during"), ("shard", 1, "during"), ("shard", 7, "after"),
             ("shard", len(shards), "after"), ("manifest", 1, "during")]
    for what, at, when in kills:
        command = [sys.executable, "-c", _KILLED_AT, what, str(at), when, *_prepare_arguments(killed)]
        process = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=300)
        assert process.returncode == -signal.SIGKILL, (what, at, when, process.stderr.decode()[-2000:])
        left = output_files(killed)
        # Nothing half-written under a final name: every shard there is the clean run's, byte
        # for byte, and there is no manifest to point at a set that is not complete.
        assert "manifest.json" not in left
        finished = {name: data for name, data in left.items() if not name.startswith(".")}
        assert finished and all(data == clean_files[name] for name, data in finished.items())
    subprocess.run(_prepare_command(killed), check=True, cwd=REPO, env=env, capture_output=True)
    assert output_files(killed) == clean_files


def test_checkpoint_write_cut_short_keeps_the_previous_one(run_copy, small_shards, monkeypatch, capsys):
    """np.savez fails half way (disk full): the epoch-1 checkpoint stays byte for byte, no
    temporary is left, and a later resume finishes the run."""
    checkpoint = run_copy / CHECKPOINT
    before = checkpoint.read_bytes()
    real_savez = np.savez

    def savez_then_fail(file, **arrays):
        real_savez(file, **dict(list(arrays.items())[: len(arrays) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    assert main(["train", "--tracking", "none", "--data", str(small_shards), "--resume", str(run_copy),
                 "--epochs", "2"]) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", "No space left on device")
    assert checkpoint.read_bytes() == before
    assert read_header(run_copy)["epoch"] == 1
    assert [p.name for p in run_copy.iterdir() if p.name.startswith(".")] == []

    monkeypatch.setattr(np, "savez", real_savez)
    # A SIGKILL during the write leaves the temporary behind: simulate it, then resume.
    stale = run_copy / f".{CHECKPOINT}.99999.tmp"
    stale.write_bytes(before[: len(before) // 3])
    result = train(tiny_config(small_shards, run_copy, epochs=2), resume=run_copy)
    assert result.epochs_done == 2 and read_header(run_copy)["epoch"] == 2
    assert not stale.exists()


def test_generate_failing_mid_write_leaves_no_file(run_copy, tmp_path, monkeypatch, capsys):
    import cig_k3.inference.generate as generate_module

    masks = tmp_path / "masks"
    masks.mkdir()
    for name in ("a", "b"):
        mask = np.zeros((32, 32), np.uint16)
        mask[4:20, 6:22] = 1
        import cv2

        cv2.imwrite(str(masks / f"{name}.png"), mask)
    real_imwrite = generate_module.tifffile.imwrite
    calls = []

    def imwrite_then_fail(path, data, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # the second image: a few bytes on disk, then the failure
            with open(path, "wb") as handle:
                handle.write(b"II*\x00partial")
            raise OSError(28, "No space left on device")
        return real_imwrite(path, data, **kwargs)

    monkeypatch.setattr(generate_module.tifffile, "imwrite", imwrite_then_fail)
    out = tmp_path / "out"
    assert main(["generate", "--model", str(run_copy), "--masks", str(masks), "--out", str(out),
                 "--tile", "32", "--overlap", "8"]) == 2
    one_error_line(capsys.readouterr().err, "cig generate: error: ", "No space left on device")
    assert sorted(p.name for p in out.iterdir()) == ["a.tif"]  # the finished one, nothing else
    assert all(not str(p).endswith("b.tif") for p in calls[1:]), "written under the final name"


def test_export_failing_mid_write_keeps_the_previous_export(run_copy, tmp_path, monkeypatch, capsys):
    out = tmp_path / "exports" / "g.keras"
    out.parent.mkdir()
    out.write_bytes(b"previous export")

    def save_then_fail(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", save_then_fail)
    assert main(["export", "--model", str(run_copy), "--format", "keras", "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err, "cig export: error: ", "No space left on device")
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in out.parent.iterdir()) == ["g.keras"]


def test_training_goes_on_when_the_tracking_store_breaks(small_shards, tmp_path, monkeypatch):
    """A file-store MLflow tracking URI whose folder stops accepting writes after the first step
    (replaced by a plain file: as root, a read-only mode would not stop us): training
    finishes, warns once, and keeps its local checkpoints."""
    from cig_k3 import tracking

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps file stores for those who ask
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlruns"
    config = tiny_config(small_shards, tmp_path / "run", epochs=2)

    class BreakStore(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if store.is_dir():
                store.rename(tmp_path / "mlruns-gone")
                store.write_text("the store's folder is gone")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks, finish = tracking.training_callbacks(config, run_dir=config.out, tracking_uri=store.as_uri(),
                                                        log_every=1)
        assert callbacks, [str(w.message) for w in caught]
        try:
            result = train(config, callbacks=[BreakStore(), *callbacks])
        finally:
            finish()
    stopped = [w for w in caught if "MLflow logging stopped" in str(w.message)]
    assert len(stopped) == 1, [str(w.message) for w in caught]
    assert result.epochs_done == 2 and read_header(config.out)["epoch"] == 2
    assert {"checkpoint.npz", "generator.keras", "gan.keras"} <= set(final_outputs(config.out))
