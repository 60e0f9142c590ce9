"""Tiny tracked training runs in a temporary MLflow store, made the way a user makes them
(`cig train ... --register NAME`), shared by the tracking and browser tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tiny_config

REPO = Path(__file__).resolve().parents[3]
EPOCHS, STEPS = 2, 2  # two sample grids (one per epoch) at steps 2 and 4
REGISTERED = "cig-test-generator"


def new_store(folder):
    """A sqlite store in `folder` whose `cig` experiment keeps its artifacts there too
    (MLflow's default would be ./mlruns of the working directory)."""
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlruns.db'}"
    MlflowClient(uri).create_experiment("cig", artifact_location=(folder / "artifacts").as_uri())
    return uri


def train_tiny(shards, out, store, backend=None, register=None, seed=0):
    """`cig train` of the tiny config (2 epochs of 2 steps) into `store`; in this process, or
    in a fresh one (the `cig` entry point) when `backend` names another Keras backend.
    Returns the run's MLflow id."""
    import keras

    config = tiny_config(shards, out, epochs=EPOCHS, steps_per_epoch=STEPS, seed=seed)
    config_file = Path(out).parent / f"{Path(out).name}_config.json"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config.to_json(), encoding="utf-8")
    argv = ["train", "--data", str(shards), "--config", str(config_file), "--out", str(out)]
    argv += ["--register", register] if register else []
    environment = {"MLFLOW_TRACKING_URI": store, "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.5"}
    if backend and backend != keras.backend.backend():
        env = {**os.environ, **environment, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-c", "import sys; from cig_k3.cli import main; sys.exit(main(sys.argv[1:]))"]
        done = subprocess.run([*command, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    else:
        from cig_k3.cli import main

        with pytest.MonkeyPatch.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, value)
            patch.delenv("MLFLOW_RUN_ID", raising=False)
            patch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
            assert main(argv) == 0
    return (Path(out) / "run_id.txt").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, synthetic_shards):
    """One tiny run, trained with `--register`: {"store", "run_id", "run_dir", "shards"}."""
    folder = tmp_path_factory.mktemp("tracked")
    store = new_store(folder / "store")
    run_dir = folder / "run"
    run_id = train_tiny(synthetic_shards, run_dir, store, register=REGISTERED)
    return {"store": store, "run_id": run_id, "run_dir": run_dir, "shards": synthetic_shards,
            "manifest": json.loads((Path(synthetic_shards) / "manifest.json").read_text())}
