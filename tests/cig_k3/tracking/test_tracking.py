import json
import os
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.helpers import tiny_config as shared_tiny_config
from cig_k3.tracking import MLflowCallback, end_run, log_metrics, manifest_hash, start_run

MANIFEST = {"task": "mask2image", "encoding": "semantic3", "num_classes": 3, "raw_dtype": "uint16",
            "stats": {"raw": {"p_low": [0.0], "p_high": [100.0]}}}


def tiny_config(tmp_path):
    """The shared tiny config; 2 epochs of 3 steps, as the step and epoch checks below expect."""
    return shared_tiny_config("", tmp_path / "run", epochs=2, steps_per_epoch=3)


def backend_sees_a_gpu():
    """Asked of the backend itself, not through cig_k3's device_name."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def expected_device():
    """"cpu" without a GPU; with one, its name as nvidia-smi gives it (or "gpu")."""
    if not backend_sees_a_gpu():
        return "cpu"
    import subprocess

    try:
        lines = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        lines = []
    names = [line.strip() for line in lines if line.strip()]
    return names[0] if names else "gpu"


def tiny_model():
    from cig_k3.models import UNetGenerator

    model = UNetGenerator(in_channels=3, out_channels=1, base_filters=4, depth=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    return model


def data(count=6):
    rng = np.random.default_rng(0)
    return rng.random((count, 16, 16, 3), dtype=np.float32), rng.random((count, 16, 16, 1), dtype=np.float32)


@pytest.fixture
def store(tmp_path):
    """A sqlite store whose `cig` experiment keeps artifacts and models in tmp_path."""
    from tests.cig_k3.tracking.conftest import new_store

    return new_store(tmp_path / "store")


def test_start_run_params_tags_artifacts(tmp_path, store):
    config = tiny_config(tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_bytes(json.dumps(MANIFEST).encode())
    optimizers = {"generator": keras.optimizers.Adam(3e-4, beta_1=0.5), "discriminator": keras.optimizers.Adam(1e-4)}
    run = start_run(config, MANIFEST, tmp_path / "run", tracking_uri=store, augmentation={"flip": True},
                    optimizers=optimizers, manifest_path=manifest_path)
    assert (tmp_path / "run" / "run_id.txt").read_text().strip() == run.run_id
    log_metrics(run, {"test_psnr": 21.5}, step=7)
    end_run(run)
    got = MlflowClient(store).get_run(run.run_id)
    params, tags = got.data.params, got.data.tags
    assert params["data.crop"] == "32" and params["epochs"] == "2" and params["augmentation.flip"] == "True"
    assert float(params["optimizer.generator.learning_rate"]) == pytest.approx(3e-4)
    assert float(params["optimizer.discriminator.learning_rate"]) == pytest.approx(1e-4)
    assert tags["backend"] == keras.backend.backend() and tags["preset"] == "cig"
    assert tags["device"] == expected_device()
    assert tags["data_manifest_sha256"] == manifest_hash(manifest_path=manifest_path)
    assert tags["mlflow.runName"] == f"cig-{keras.backend.backend()}-float32-crop32-bs2"
    assert got.data.metrics["test_psnr"] == 21.5 and got.info.status == "FINISHED"
    artifacts = {a.path for a in MlflowClient(store).list_artifacts(run.run_id)}
    assert {"config.json", "data"} <= artifacts


def test_callback_logs_steps_epochs_samples_model(tmp_path, store):
    config = tiny_config(tmp_path)
    run = start_run(config, MANIFEST, tmp_path / "run", tracking_uri=store)
    samples = tmp_path / "run" / "samples"
    samples.mkdir()
    (samples / "epoch-001.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "run" / "history.json").write_text(json.dumps([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]))
    x, y = data()
    model = tiny_model()
    callback = MLflowCallback(run, log_every=2, batch_size=2)
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:2], y[:2]), callbacks=[callback], verbose=0)
    end_run(run)

    client = MlflowClient(store)
    history = client.get_metric_history(run.run_id, "loss")
    assert [m.step for m in history] == [2, 4, 6]  # 3 steps per epoch, every 2nd step, global
    assert [m.step for m in client.get_metric_history(run.run_id, "val_loss")] == [3, 6]
    assert client.get_metric_history(run.run_id, "images_per_second")[0].value > 0
    top = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"samples", "loss_curves.png", "history.json"} <= top
    assert "samples/epoch-001.png" in {a.path for a in client.list_artifacts(run.run_id, "samples")}
    # The model is an MLflow 3 LoggedModel of the run, not a run artifact.
    (output,) = client.get_run(run.run_id).outputs.model_outputs
    assert output.model_id == run.model_id and output.step == 6
    model = client.get_logged_model(run.model_id)
    assert "signature" in (Path(model.artifact_location.removeprefix("file://")) / "MLmodel").read_text()


def test_store_failure_warns_once_and_training_goes_on(tmp_path, store):
    run = start_run(tiny_config(tmp_path), MANIFEST, tmp_path / "run", tracking_uri=store)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise OSError("Read-only file system")

    run.client.log_batch = broken
    run.client.log_artifact = broken
    run.client.log_artifacts = broken
    x, y = data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(x, y, batch_size=2, epochs=2, callbacks=[MLflowCallback(run, log_every=1)],
                                   verbose=0)
    run.stop_system_metrics()
    assert len(history.history["loss"]) == 2  # training finished
    mine = [w for w in caught if "MLflow logging stopped" in str(w.message)]
    assert len(mine) == 1 and len(calls) == 1
