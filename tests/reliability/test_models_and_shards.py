"""Broken model files and shards: truncated or foreign `.keras` files, a corrupt tar in the
middle of a shard list (skipped or fatal, as `--on-error` says), and tampered member names."""

import io
import json
import logging
import shutil
import tarfile

import numpy as np
import pytest

from cig_k3.cli import main
from cig_k3.data import BatchStream
from tests.reliability.conftest import final_outputs, one_error_line, tiny_values



def _masks(folder):
    folder.mkdir()
    mask = np.zeros((32, 32), np.uint16)
    mask[4:12, 4:12] = 1
    mask[18:28, 16:30] = 2
    import cv2

    cv2.imwrite(str(folder / "m.png"), mask)
    return folder


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def truncated_run(run_copy):
    _truncate(run_copy / "generator.keras")
    return run_copy


def test_truncated_keras_generate(truncated_run, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["generate", "--model", str(truncated_run / "generator.keras"), "--masks", str(_masks(tmp_path / "m")),
                   "--out", str(out)])
    assert status == 2
    one_error_line(capsys.readouterr().err, "cig generate: error: ", "generator.keras", "truncated or corrupt")
    assert final_outputs(out) == []


def test_truncated_keras_export(truncated_run, tmp_path, capsys):
    out = tmp_path / "exported.keras"
    assert main(["export", "--model", str(truncated_run), "--format", "keras", "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err, "cig export: error: ", "generator.keras", "truncated or corrupt")
    assert not out.exists()


def test_truncated_keras_evaluate(truncated_run, small_shards, tmp_path, capsys):
    assert main(["evaluate", "--model", str(truncated_run), "--data", str(small_shards), "--tracking", "none",
                 "--out", str(tmp_path / "eval"), "--max-images", "2", "--samples", "2"]) == 2
    one_error_line(capsys.readouterr().err, "cig evaluate: error: ", "generator.keras", "truncated or corrupt")
    assert final_outputs(tmp_path / "eval") == []


def test_gan_file_where_a_generator_is_expected(run_copy, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["generate", "--model", str(run_copy / "gan.keras"), "--masks", str(_masks(tmp_path / "m")),
                   "--out", str(out)])
    assert status == 2
    one_error_line(capsys.readouterr().err, "cig generate: error: ", "gan.keras",
                   "holds a Pix2PixGAN (cig_k3.training.gans.pix2pix), not a CIG generator")
    assert final_outputs(out) == []


def test_generator_whose_channels_do_not_match_the_masks(run_copy, binary_shards, tmp_path, capsys):
    """A semantic3 generator (3 condition channels) with the manifest of binary shards (2)."""
    out = tmp_path / "out"
    status = main(["generate", "--model", str(run_copy), "--masks", str(_masks(tmp_path / "m")), "--out", str(out),
                   "--manifest", str(binary_shards / "manifest.json")])
    assert status == 2
    err = capsys.readouterr().err
    assert final_outputs(out) == []
    one_error_line(err, "cig generate: error: ", "m.png", "encoding 'binary' gives 2 channels but the generator takes 3")


# --- shards -------------------------------------------------------------------------------

def _shards_with_corrupt_middle(small_shards, folder):
    shutil.copytree(small_shards, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    names = manifest["splits"]["train"]["shards"]
    assert len(names) >= 3
    middle = folder / names[len(names) // 2]
    data = bytearray(middle.read_bytes())
    data[600:4000] = b"\xff" * 3400  # the first member's data and the next header
    middle.write_bytes(bytes(data))
    return folder, middle


def test_corrupt_tar_in_the_middle_fails_with_one_line(small_shards, tmp_path, capsys):
    shards, middle = _shards_with_corrupt_middle(small_shards, tmp_path / "shards")
    run = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_values(shards, run, steps_per_epoch=8)))
    assert main(["train", "--tracking", "none", "--data", str(shards), "--config", str(config),
                 "--on-error", "fail"]) == 2
    line = one_error_line(capsys.readouterr().err, "cig train: error: ", middle.name, "corrupt or unreadable")
    assert "--on-error skip" in line
    assert [name for name in final_outputs(run) if name.endswith((".keras", ".npz"))] == []


def test_corrupt_tar_in_the_middle_is_skipped_with_one_warning(small_shards, tmp_path, caplog):
    shards, middle = _shards_with_corrupt_middle(small_shards, tmp_path / "shards")
    run = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_values(shards, run, steps_per_epoch=8)))
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--tracking", "none", "--data", str(shards), "--config", str(config),
                     "--on-error", "skip"]) == 0
    warnings = [r.getMessage() for r in caplog.records if middle.name in r.getMessage()]
    assert len(warnings) == 1 and "skipping" in warnings[0], warnings
    assert (run / "generator.keras").is_file() and (run / "checkpoint.npz").is_file()


def _tar_with(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.backend_independent
@pytest.mark.parametrize("evil", ["../../evil", "/tmp/evil_abs"])
def test_member_names_are_never_paths(evil, small_shards, tmp_path, monkeypatch, caplog):
    """A shard whose sample is named `../../evil`: reading it writes nothing anywhere, and the
    sample is skipped with a warning naming it (or refused with on_error='fail')."""
    shards = tmp_path / "a" / "b" / "shards"
    shutil.copytree(small_shards, shards)
    manifest = json.loads((shards / "manifest.json").read_text())
    first = shards / manifest["splits"]["val"]["shards"][0]
    with tarfile.open(first) as tar:
        good = {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()[:4]}
    evil_tar = _tar_with([(f"{evil}.{member}", data) for member, data in sorted(good.items())])
    first.write_bytes(evil_tar + first.read_bytes()[: 0])
    manifest["splits"]["val"]["shards"] = [first.name] + [s for s in manifest["splits"]["val"]["shards"] if s != first.name]
    (shards / "manifest.json").write_text(json.dumps(manifest))
    work = tmp_path / "a" / "b" / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p for p in tmp_path.rglob("*"))

    with pytest.raises(ValueError, match=r"not a safe name"):
        list(BatchStream(shards, split="val", batch_size=1, crop=32, on_error="fail").epoch(0))
    with caplog.at_level(logging.WARNING):
        list(BatchStream(shards, split="val", batch_size=1, crop=32, on_error="skip").epoch(0))
    assert any(evil in r.getMessage() and "not a safe name" in r.getMessage() for r in caplog.records)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
