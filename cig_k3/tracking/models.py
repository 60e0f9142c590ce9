"""The generator as an MLflow 3 LoggedModel, and registering it as a model version.

A LoggedModel is MLflow 3's record of a model: it has its own id (`models:/m-...`), points
back to the run that made it, and holds metrics of its own, which is what the UI's "Logged
models" tab and `search_logged_models(order_by=...)` rank by. The model files are saved with
the MLflow Keras flavour (a `.keras` file inside), which works on the TensorFlow, JAX and
PyTorch backends alike because Keras 3 writes the same file on each.

Example:
    >>> model_id = log_generator(run, generator, example_inputs(generator), step=600)
    >>> log_metrics(run, {"test_fid_inception": 41.2})   # linked to model_id too
    >>> register_model(run.client, run.run_id, "cig-nuclei")  # version 1, alias "candidate"
"""

import logging
import os
import tempfile
from importlib import metadata

import numpy as np
from mlflow.entities import LoggedModelOutput, LoggedModelStatus

logger = logging.getLogger(__name__)

MODEL_NAME = "generator"
MODEL_TYPE = "generator"
CANDIDATE_ALIAS = "candidate"


def _requirements(backend):
    """Pinned pip requirements of the model: given, not inferred, so nothing reloads it."""
    names = ["keras", "numpy", {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, "")]
    requirements = []
    for name in filter(None, names):
        try:
            requirements.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if name == "tensorflow":
                try:
                    requirements.append(f"tensorflow-cpu=={metadata.version('tensorflow-cpu')}")
                except metadata.PackageNotFoundError:
                    pass
    return requirements


def _tensor_spec(shape, name):
    """A float32 TensorSpec; unknown sizes (batch, and height/width of a fully
    convolutional generator) become -1, so the signature accepts any image size."""
    from mlflow.types import TensorSpec

    dims = tuple(-1 if dim is None else int(dim) for dim in shape)
    return TensorSpec(np.dtype(np.float32), (-1, *dims[1:]), name)


def generator_signature(generator):
    """The model signature from the generator's own input and output shapes.

    One input is left unnamed, so that a plain array is accepted; several are named by
    their Keras input names (e.g. noise and class).
    """
    from mlflow.models import ModelSignature
    from mlflow.types import Schema

    inputs = list(generator.inputs)
    named = len(inputs) > 1
    input_specs = [_tensor_spec(t.shape, t.name if named else None) for t in inputs]
    outputs = generator.outputs if isinstance(generator.outputs, (list, tuple)) else [generator.outputs]
    output_specs = [_tensor_spec(t.shape, None) for t in outputs[:1]]
    return ModelSignature(inputs=Schema(input_specs), outputs=Schema(output_specs))


def log_generator(run, generator, example, step=0, name=MODEL_NAME):
    """Log `generator` as a LoggedModel of `run` (Keras flavour, signature, input example).

    Args:
        run: the `TrackedRun`; its `model_id` is set, so that later `log_metrics` calls
            link their metrics to this model.
        generator: the Keras generator.
        example: a small float32 batch (an array, or a dict of arrays for several inputs),
            stored as the input example.
        step: the training step the model is from (the run's output records it).
        name: the model's name in the UI.

    Returns:
        The model id (`m-...`); its URI is `models:/<id>`.
    """
    import keras
    import mlflow
    from mlflow.models import Model

    client = run.client
    backend = keras.backend.backend()
    model = client.create_logged_model(run.experiment_id, name=name, source_run_id=run.run_id, model_type=MODEL_TYPE,
                                       tags={"backend": backend, "keras_version": keras.__version__})
    try:
        client.log_outputs(run.run_id, [LoggedModelOutput(model.model_id, step=int(step))])
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "model")
            # MLflow 3.17's keras save_model writes the input example before it creates the
            # folder; an empty folder made first is accepted and avoids that crash.
            os.makedirs(path)
            description = Model(artifact_path=model.artifact_location, run_id=run.run_id, model_id=model.model_id,
                                model_uuid=model.model_id)
            mlflow.keras.save_model(generator, path, mlflow_model=description, signature=generator_signature(generator),
                                    input_example=example, pip_requirements=_requirements(backend))
            client.log_model_artifacts(model.model_id, path)
    except Exception:
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    run.model_id = model.model_id
    logger.info("logged the generator as MLflow model %s (models:/%s)", name, model.model_id)
    return model.model_id


def logged_model_of(run):
    """The id of the last model a run (an `mlflow.entities.Run`) logged, or None."""
    outputs = getattr(run, "outputs", None)
    models = list(getattr(outputs, "model_outputs", None) or [])
    return models[-1].model_id if models else None


def register_model(client, run_id, name, alias=CANDIDATE_ALIAS):
    """Register the run's logged generator as a new version of registered model `name`
    (created when missing) and point `alias` at it.

    Returns:
        The `ModelVersion` (its `.version` is the new number).

    Raises:
        ValueError: the run logged no model (trained with --tracking none, or failed early).
    """
    from mlflow.exceptions import MlflowException

    run = client.get_run(run_id)
    model_id = logged_model_of(run)
    if model_id is None:
        raise ValueError(f"run {run_id} has no logged generator to register: train it with MLflow tracking on")
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    logger.info("registered %s version %s (alias %s) from run %s", name, version.version, alias, run_id)
    return version


def register_run(run_id, name, alias=CANDIDATE_ALIAS, tracking_uri=None):
    """`register_model` with a client of `tracking_uri` (default MLFLOW_TRACKING_URI); a store
    error becomes a one-line ValueError naming the run and the model."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return register_model(MlflowClient(tracking_uri=tracking_uri), run_id, name, alias=alias)
    except MlflowException as error:
        raise ValueError(f"cannot register run {run_id} as {name}: {str(error).splitlines()[0]}") from None
