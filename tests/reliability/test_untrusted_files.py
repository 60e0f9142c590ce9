"""Untrusted files never run code: models load with Keras safe_mode, nothing is unpickled,
metadata is plain JSON, and the MLflow UI listens on 127.0.0.1 only."""

import ast
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from cig_k3.cli import main
from tests.reliability.conftest import REPO, one_error_line

PACKAGES = ("cig_k3", "data_prep")


def _rewrite_config(source, target, edit):
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return target


def _small_model(path, activation="relu"):
    import keras

    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Activation(activation)(inputs)).save(path)
    return path


def _lambda_model(path):
    import keras

    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs)).save(path)
    return path


def _point_activation_at(module, name):
    def edit(config):
        layer = config["config"]["layers"][1]
        layer["config"]["activation"] = {"module": module, "class_name": "function", "config": name,
                                         "registered_name": name}
    return edit


def _layer_class_is(module, name):
    def edit(config):
        layer = config["config"]["layers"][1]
        layer.update(module=module, class_name=name, registered_name=None)
    return edit


@pytest.fixture
def recorded_calls(monkeypatch):
    """os.system replaced by a recorder: a load that ran it would show."""
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(("os.system", args)) or 0)
    return calls


UNSAFE = {
    "lambda layer": lambda path, tmp: _lambda_model(path),
    "activation os.system": lambda path, tmp: _rewrite_config(_small_model(tmp / "base.keras"), path,
                                                              _point_activation_at("os", "system")),
    "activation builtins.exec": lambda path, tmp: _rewrite_config(_small_model(tmp / "base.keras"), path,
                                                                  _point_activation_at("builtins", "exec")),
    "layer class os.system": lambda path, tmp: _rewrite_config(_small_model(tmp / "base.keras"), path,
                                                               _layer_class_is("os", "system")),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_load_generator_refuses_code_in_a_model_file(case, tmp_path, recorded_calls):
    from cig_k3.export import load_generator

    path = UNSAFE[case](tmp_path / "evil.keras", tmp_path)
    with pytest.raises(ValueError) as caught:
        load_generator(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert "refused" in str(caught.value)
    assert recorded_calls == []


@pytest.mark.parametrize("case", ["lambda layer", "activation os.system"])
def test_cli_refuses_code_in_a_model_file(case, run_copy, tmp_path, recorded_calls, capsys):
    evil = run_copy / "generator.keras"
    evil.unlink()
    UNSAFE[case](evil, tmp_path)
    out = tmp_path / "exported.keras"
    assert main(["export", "--model", str(run_copy), "--format", "keras", "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err, "cig export: error: ", str(evil))
    assert not out.exists()
    assert recorded_calls == []


def _python_files():
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


@pytest.mark.backend_independent
def test_every_np_load_forbids_pickle():
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("np.load", "numpy.load"):
                flags = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if flags.get("allow_pickle") != "False":
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


@pytest.mark.backend_independent
def test_no_pickle_joblib_or_dill_imports():
    banned = {"pickle", "cPickle", "joblib", "dill", "cloudpickle", "shelve"}
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}:{node.lineno} {name}" for name in names
                          if name.split(".")[0] in banned]
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("torch.load", "pd.read_pickle"):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node.func)}")
    assert offenders == []


@pytest.mark.backend_independent
def test_manifest_and_shard_metadata_are_plain_json(small_shards):
    from tests.data_prep.conftest import read_shards

    manifest, samples, _ = read_shards(small_shards)
    assert json.loads(json.dumps(manifest)) == manifest
    for members in samples.values():
        assert set(members) <= {"raw.tif", "label.png", "instances.png", "source.tif", "json"}
        json.loads(members["json"].decode("utf-8"))


def _mlflow_ui_lines():
    """Lines of the Makefile, scripts and docs that start an MLflow UI or server."""
    candidates = [REPO / "Makefile", REPO / "MLproject", REPO / "README.md"]
    candidates += [p for p in REPO.rglob("*") if p.suffix in (".sh", ".py", ".md", ".yaml", ".yml", ".cfg", ".toml")
                   and ".venv" not in p.parts and "tests" not in p.parts and "mlruns" not in p.parts]
    found = []
    for path in sorted(set(candidates)):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.search(r"mlflow\s+(ui|server)\b", line) or re.search(r"mlflow\.server|\"mlflow\",\s*\"(ui|server)\"",
                                                                     line):
                found.append((f"{path.relative_to(REPO)}:{number}", line))
    return found


@pytest.mark.backend_independent
def test_mlflow_ui_listens_on_localhost_only():
    found = _mlflow_ui_lines()
    assert any(where.startswith("Makefile:") for where, _ in found), "the Makefile ui target is gone"
    # A command line passes --host 127.0.0.1; a line of documentation says 127.0.0.1.
    commands = [(where, line) for where, line in found if ".md:" not in where]
    exposed = [where for where, line in commands if not re.search(r"(--host|-h)[ =]127\.0\.0\.1\b", line)]
    exposed += [where for where, line in found if ".md:" in where and "127.0.0.1" not in line]
    assert exposed == [], f"an MLflow UI/server reachable beyond 127.0.0.1: {exposed}"
    assert not any("0.0.0.0" in line for _, line in found)
