"""MLproject end to end: a tiny `mlflow run -e train` and a tracking server comparing runs.

Both run once, not once per backend: they start their own processes.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MLFLOW = shutil.which("mlflow", path=str(BIN)) or shutil.which("mlflow")


def test_mlproject_entry_points_and_conda_env():
    project = yaml.safe_load((ROOT / "MLproject").read_text())
    assert project["conda_env"] == "conda.yaml"
    points = project["entry_points"]
    assert {"main", "prepare", "train", "evaluate", "export", "generate"} <= set(points)
    for name in ("main", "train"):
        assert {"epochs", "steps_per_epoch", "batch_size", "crop", "preset", "backend", "precision"} <= set(
            points[name]["parameters"])
        assert points[name]["command"].startswith("env KERAS_BACKEND={backend} python -m cig_k3 ")
        # The preset's own crop and batch size unless given (tests/reliability/test_validate_first.py).
        assert points[name]["parameters"]["crop"]["default"] == points[name]["parameters"]["batch_size"]["default"] \
            == "preset"
    for name, point in points.items():
        assert "python -m cig_k3 " in point["command"], name
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    pip = next(item for item in conda["dependencies"] if isinstance(item, dict))["pip"]
    assert "python=3.11" in conda["dependencies"] and "torch==2.13.0" in pip and "-e ." in pip


def _environment(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_RUN_ID", None)
    return env


def _train_available():
    from importlib.util import find_spec

    return find_spec("cig_k3.commands.train") is not None and find_spec("cig_k3.training.run") is not None


@pytest.mark.skipif(not _train_available(), reason="`cig train` (cig_k3/commands/train.py) is not in the tree yet")
def test_mlflow_run_train_logs_params_metrics_artifacts(tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    env = _environment(tmp_path)
    shards, run_dir = tmp_path / "shards", tmp_path / "run"
    subprocess.run([sys.executable, "-m", "cig_k3", "prepare", "synthetic", "--out", str(shards), "--count", "20", "--ratios", "0.6,0.2,0.2",
                    "--size", "64", "--no-progress"], cwd=ROOT, env=env, check=True, capture_output=True)
    result = subprocess.run(
        [MLFLOW, "run", str(ROOT), "--env-manager", "local", "-e", "train", "--experiment-name", "cig-test",
         "-P", f"data={shards}", "-P", f"out={run_dir}", "-P", "epochs=2", "-P", "steps_per_epoch=2",
         "-P", "batch_size=2", "-P", "crop=32", "-P", "backend=tensorflow"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["cig-test"], output_format="list")
    assert len(runs) == 1  # the MLproject run and the training's run are one
    run = runs[0]
    assert run.info.status == "FINISHED"
    params, tags = run.data.params, run.data.tags
    assert params["data.crop"] == "32" and params["steps_per_epoch"] == "2"
    assert float(params["optimizer.generator.learning_rate"]) > 0  # the real one, not the container's 0
    assert tags["backend"] == "tensorflow" and tags["preset"] == "realistic-instance" and len(tags["data_manifest_sha256"]) == 64
    assert (run_dir / "run_id.txt").read_text().strip() == run.info.run_id

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    for name in ("d_loss", "g_l1", "g_total"):
        steps = [metric.step for metric in client.get_metric_history(run.info.run_id, name)]
        assert steps and steps == sorted(steps) and steps[-1] == 4, (name, steps)
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"config.json", "data", "loss_curves.png"} <= artifacts
    # The generator is an MLflow 3 LoggedModel of the run, in the same experiment.
    assert len(run.outputs.model_outputs) == 1
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url, payload=None):
    if payload is None:
        request = urllib.request.Request(url)
    else:
        request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_tracking_server_compares_two_runs(tmp_path):
    from cig_k3.config import config_from_preset
    from cig_k3.tracking import end_run, log_metrics, start_run

    store = f"sqlite:///{tmp_path / 'mlruns.db'}"
    ids = []
    for batch_size in (2, 4):
        config = config_from_preset("cig", {"data": {"batch_size": batch_size}})
        run = start_run(config, {"task": "mask2image"}, tmp_path / f"run{batch_size}", tracking_uri=store,
                        experiment="compare")
        for step in (1, 2, 3):
            log_metrics(run, {"g_l1": 1.0 / (step * batch_size)}, step=step)
        end_run(run)
        ids.append(run.run_id)

    port = _free_port()
    server = subprocess.Popen(
        [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port), "--backend-store-uri", store,
         "--workers", "1"],
        cwd=tmp_path, env=_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, "mlflow server exited"
                assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
                time.sleep(1)
        experiment = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=compare")["experiment"]
        found = _get(f"{base}/api/2.0/mlflow/runs/search",
                     {"experiment_ids": [experiment["experiment_id"]], "order_by": ["params.`data.batch_size` ASC"]})
        runs = found["runs"]
        assert sorted(r["info"]["run_id"] for r in runs) == sorted(ids)
        batch_sizes = {r["info"]["run_id"]: {p["key"]: p["value"] for p in r["data"]["params"]}["data.batch_size"]
                       for r in runs}
        assert sorted(batch_sizes.values()) == ["2", "4"]
        curves = {}
        for run_id in ids:
            history = _get(f"{base}/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=g_l1")["metrics"]
            curves[batch_sizes[run_id]] = [(m["step"], m["value"]) for m in history]
        assert [s for s, _ in curves["2"]] == [1, 2, 3] and curves["4"][0][1] < curves["2"][0][1]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
