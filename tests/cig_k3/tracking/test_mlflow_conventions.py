"""A tiny `cig train --register NAME` run, read back through MLflow's tracking API: each
convention MLflow users expect (issue 16, part 3) is checked on what the store holds."""

import json

import keras
import mlflow
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient

from cig_k3.tracking import attach_run, log_metrics, manifest_hash, register_run
from tests.cig_k3.tracking.conftest import EPOCHS, REGISTERED, STEPS, new_store, train_tiny


def client_run(tracked):
    client = MlflowClient(tracked["store"])
    return client, client.get_run(tracked["run_id"])


def test_run_lands_in_the_cig_experiment_marked_as_model_training(tracked_run):
    client, run = client_run(tracked_run)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "cig"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.info.status == "FINISHED"


def test_user_experiment_name_is_created_and_marked(tmp_path, synthetic_shards, monkeypatch):
    from cig_k3.tracking import end_run, start_run
    from tests.helpers import tiny_config

    store = f"sqlite:///{tmp_path / 'mlruns.db'}"
    MlflowClient(store).create_experiment("nuclei-study", artifact_location=(tmp_path / "artifacts").as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "nuclei-study")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    run = start_run(tiny_config(synthetic_shards, tmp_path / "run"), {}, tmp_path / "run", tracking_uri=store,
                    system_metrics=False)
    end_run(run)
    experiment = MlflowClient(store).get_experiment(run.experiment_id)
    assert experiment.name == "nuclei-study"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_shards_are_the_runs_dataset_input(tracked_run):
    _, run = client_run(tracked_run)
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    manifest_path = tracked_run["shards"] / "manifest.json"
    assert dataset.digest == manifest_hash(manifest_path=manifest_path)[:32]
    assert run.data.tags["data_manifest_sha256"].startswith(dataset.digest)
    assert json.loads(dataset.source)["uri"] == str(tracked_run["shards"].resolve())
    splits = json.loads(dataset.profile)["splits"]
    expected = {split: values["count"] for split, values in tracked_run["manifest"]["splits"].items()}
    assert splits == expected and sum(splits.values()) == 40
    assert {tag.key: tag.value for tag in inputs[0].tags}["mlflow.data.context"] == "training"


def test_sample_grids_are_stepped_images(tracked_run):
    client, run = client_run(tracked_run)
    files = [item.path for item in client.list_artifacts(run.info.run_id, "images")]
    # MLflow names stepped images "images/<key>+step+<step>+timestamp+...": the UI's slider reads them.
    steps = sorted({int(path.split("+step+")[1].split("+")[0]) for path in files if "/samples+step+" in path})
    assert steps == [STEPS * epoch for epoch in range(1, EPOCHS + 1)]
    assert any(path.endswith(".png") for path in files) and any(path.endswith("compressed.webp") for path in files)


def test_generator_is_a_logged_model_with_signature_example_and_metrics(tracked_run, monkeypatch):
    client, run = client_run(tracked_run)
    models = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    assert len(models) == 1
    model = models[0]
    assert model.status == LoggedModelStatus.READY and model.name == "generator"
    assert [output.model_id for output in run.outputs.model_outputs] == [model.model_id]
    assert run.outputs.model_outputs[0].step == EPOCHS * STEPS
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracked_run["store"])
    info = mlflow.models.get_model_info(f"models:/{model.model_id}")
    assert "keras" in info.flavors
    spec = info.signature.inputs.inputs[0]
    assert spec.shape == (-1, -1, -1, 3)  # any batch and image size, three label channels
    assert info.saved_input_example_info is not None
    linked = {metric.key: metric.value for metric in model.metrics}
    # The last epoch's metrics are linked to the model and equal the run's values.
    assert "epoch" in linked and linked["epoch"] == EPOCHS
    assert any(key.startswith("val_") for key in linked)
    for key, value in linked.items():
        assert value == pytest.approx(run.data.metrics[key])


def test_metrics_logged_after_training_rank_logged_models(tracked_run, tmp_path, synthetic_shards):
    """`cig evaluate` logs through attach_run: its metrics land on the model, so
    search_logged_models ranks models by FID."""
    first = attach_run(tracked_run["run_dir"], tracking_uri=tracked_run["store"])
    assert first.model_id is not None
    log_metrics(first, {"test_fid_inception": 80.0})
    second_id = train_tiny(synthetic_shards, tmp_path / "second", tracked_run["store"], seed=1)
    second = attach_run(tmp_path / "second", tracking_uri=tracked_run["store"])
    assert second.run_id == second_id and second.model_id not in (None, first.model_id)
    log_metrics(second, {"test_fid_inception": 40.0})
    ranked = MlflowClient(tracked_run["store"]).search_logged_models(
        [first.experiment_id], filter_string="metrics.test_fid_inception > 0",
        order_by=[{"field_name": "metrics.test_fid_inception", "ascending": True}])
    assert [model.model_id for model in ranked] == [second.model_id, first.model_id]


def test_system_metrics_are_recorded(tracked_run):
    _, run = client_run(tracked_run)
    system = {key for key in run.data.metrics if key.startswith("system/")}
    assert "system/cpu_utilization_percentage" in system and "system/system_memory_usage_megabytes" in system


def test_register_makes_versions_with_the_candidate_alias(tracked_run):
    client = MlflowClient(tracked_run["store"])
    model_id = client.get_run(tracked_run["run_id"]).outputs.model_outputs[0].model_id
    first = client.get_model_version_by_alias(REGISTERED, "candidate")  # from `cig train --register`
    assert first.source == f"models:/{model_id}" and first.run_id == tracked_run["run_id"]
    from cig_k3.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracked_run["store"])
        assert main(["register", str(tracked_run["run_dir"]), "--name", REGISTERED]) == 0
    again = client.get_model_version_by_alias(REGISTERED, "candidate")
    assert int(again.version) == int(first.version) + 1 and again.source == f"models:/{model_id}"


def test_register_refuses_a_run_without_a_model(tmp_path):
    store = new_store(tmp_path / "store")
    client = MlflowClient(store)
    run = client.create_run(client.get_experiment_by_name("cig").experiment_id)
    with pytest.raises(ValueError, match="no logged generator"):
        register_run(run.info.run_id, "anything", tracking_uri=store)


def test_logged_model_predicts_like_the_generator(tracked_run, monkeypatch):
    """The logged model reloads through MLflow's Keras flavour and draws the saved generator's image."""
    from cig_k3.export.loading import load_generator
    from cig_k3.models import CUSTOM_OBJECTS

    client, run = client_run(tracked_run)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracked_run["store"])
    model_id = run.outputs.model_outputs[0].model_id
    condition = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    generator = load_generator(tracked_run["run_dir"] / "generator.keras")
    expected = keras.ops.convert_to_numpy(generator(condition, training=False))
    loaded = mlflow.keras.load_model(f"models:/{model_id}", custom_objects=CUSTOM_OBJECTS,
                                     load_model_kwargs={"compile": False})
    got = keras.ops.convert_to_numpy(loaded(condition, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5)
