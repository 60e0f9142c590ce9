import os
import zipfile

import keras
import numpy as np
import pytest

from cig_k3.export import FORMATS, export_model, export_route, load_generator, run_onnx, run_savedmodel
from cig_k3.export import formats


def test_load_generator_missing_and_truncated(tmp_path, run_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(tmp_path / "nope.keras")
    data = (run_dir / "generator.keras").read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.keras .*truncated or corrupt"):
        load_generator(truncated)
    assert load_generator(run_dir).size_multiple == 8  # a run folder works too


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_round_trip(tmp_path, run_dir, fmt):
    out = tmp_path / "exports" / {"keras": "g.keras", "savedmodel": "g_savedmodel", "onnx": "g.onnx"}[fmt]
    result = export_model(run_dir / "generator.keras", fmt, out)
    assert result.max_abs_diff <= 1e-4
    assert out.exists()
    assert not [p for p in out.parent.iterdir() if "partial" in p.name]  # nothing left behind

    # Dynamic batch and spatial size: a new shape, checked against Keras here.
    model = load_generator(run_dir)
    condition = np.random.default_rng(5).random((3, 24, 40, 3), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(condition, training=False))
    if fmt == "keras":
        actual = keras.ops.convert_to_numpy(load_generator(out)(condition))
    elif fmt == "onnx":
        actual = run_onnx(out, condition)
    else:
        actual = run_savedmodel(out, condition)
    np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_export_overwrites_savedmodel_folder(tmp_path, run_dir):
    out = tmp_path / "exports" / "sm"
    export_model(run_dir, "savedmodel", out)
    export_model(run_dir, "savedmodel", out)
    assert (out / "saved_model.pb").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["sm"]


def test_failed_check_leaves_nothing(tmp_path, run_dir):
    out = tmp_path / "exports" / "g.onnx"
    with pytest.raises(ValueError, match="differs from the Keras model"):
        export_model(run_dir, "onnx", out, tolerance=-1.0)
    assert list(out.parent.iterdir()) == []


def test_unknown_format_and_unsupported_pair(tmp_path, run_dir, monkeypatch):
    with pytest.raises(ValueError, match="unknown export format 'tflite'"):
        export_model(run_dir, "tflite", tmp_path / "g.tflite")
    with pytest.raises(ValueError, match="must end in .keras"):
        export_model(run_dir, "keras", tmp_path / "g.h5")
    monkeypatch.setattr(formats, "tensorflow_available", lambda: False)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        assert export_route("savedmodel") == "tensorflow"
    else:
        with pytest.raises(ValueError, match="goes through TensorFlow, which is not installed"):
            export_model(run_dir, "savedmodel", tmp_path / "sm")
        assert not (tmp_path / "sm").exists()
    assert export_route("onnx", backend="torch") == "torch.onnx"
    assert export_route("keras") == "keras"


def test_export_command(tmp_path, run_dir, caplog):
    from cig_k3.cli import main

    caplog.set_level("INFO")
    assert main(["export", "--model", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "g.onnx")]) == 0
    assert "max abs diff from Keras" in caplog.text
    assert main(["export", "--model", str(tmp_path / "missing.keras"), "--format", "onnx",
                 "--out", str(tmp_path / "x.onnx")]) == 2
