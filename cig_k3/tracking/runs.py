"""Creating an MLflow run for a training run, and logging what it leaves (no autolog).

Everything goes through an explicit `MlflowClient` and run id, never MLflow's global
"active run", so several runs (and tests) never interfere. A run lands in a named experiment
(`cig` by default) marked as model training (`mlflow.experimentKind`), gets the shards as a
dataset input (`datasets.py`), system metrics while it is open, and the generator as a
LoggedModel (`models.py`) to which later metrics are linked.
"""

import json
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from cig_k3.tracking.datasets import manifest_hash

logger = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value (recent versions)
RUN_ID_FILE = "run_id.txt"
DEFAULT_EXPERIMENT = "cig"
# MLflow 3's experiment kinds: "genai_development" or "custom_model_development" (model
# training). The UI reads this tag to choose between its GenAI and its model-training views.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
SYSTEM_METRICS_INTERVAL = 10.0  # seconds between CPU / memory / GPU samples (MLflow's default)


@dataclass
class TrackedRun:
    """An MLflow run and the client that writes to it."""

    run_id: str
    experiment_id: str
    client: MlflowClient
    run_dir: str
    tracking_uri: str
    model_id: str | None = None  # the LoggedModel of the generator, once logged
    system_monitor: object = field(default=None, repr=False)

    def stop_system_metrics(self):
        """Stop sampling CPU / memory / GPU (safe to call twice)."""
        monitor, self.system_monitor = self.system_monitor, None
        if monitor is not None:
            try:
                monitor.finish()
            except Exception as error:  # noqa: BLE001 - a monitor problem must not fail the run
                logger.warning("could not stop system metrics of run %s: %s", self.run_id, error)

    def end(self, status="FINISHED"):
        """Mark the run FINISHED (or FAILED / KILLED)."""
        self.stop_system_metrics()
        self.client.set_terminated(self.run_id, status=status)


def git_commit(cwd=None):
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"


def device_name():
    """"cpu", or the accelerator's name (nvidia-smi) when Keras sees a GPU."""
    import keras

    try:
        devices = [str(device).lower() for device in keras.distribution.list_devices()]
    except (AttributeError, NotImplementedError, RuntimeError):
        # Keras' distribution API is not available on torch; ask the backend's device.
        try:
            from keras.src.backend.torch.core import get_device

            devices = [str(get_device()).lower()]
        except (ImportError, AttributeError, RuntimeError):
            devices = ["cpu"]
    if not any("gpu" in device or "cuda" in device for device in devices):
        return "cpu"
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=10)
        names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        names = []
    return names[0] if names else "gpu"


def run_name(config, backend):
    """What differs between runs, e.g. "cig-tensorflow-mixed_bfloat16-crop128-bs4"."""
    return f"{config.preset}-{backend}-{config.precision}-crop{config.data.crop}-bs{config.data.batch_size}"


def optimizer_params(optimizers):
    """{"optimizer.generator.learning_rate": 2e-4, ...} from the real optimizer objects.

    `optimizers` maps a name to a `keras.optimizers.Optimizer`; a schedule is logged by its
    starting rate (`learning_rate`) and its config (`learning_rate_schedule.*`). (Autolog would
    read the GAN's container optimizer, whose rate is 0.)
    """
    from cig_k3.config import flatten

    params = {}
    for name, optimizer in (optimizers or {}).items():
        config = dict(optimizer.get_config())
        rate = config.get("learning_rate")
        if isinstance(rate, dict):  # a schedule: its starting rate, comparable across runs, and its config
            config["learning_rate_schedule"] = rate
            config["learning_rate"] = (rate.get("config") or {}).get("learning_rate")
        config["class"] = type(optimizer).__name__
        config.pop("name", None)
        params.update(flatten(config, prefix=f"optimizer.{name}."))
    return params


def _params(values):
    params = []
    for key, value in sorted(values.items()):
        text = json.dumps(value) if isinstance(value, (dict, list, tuple)) else str(value)
        params.append(Param(key, text[:MAX_PARAM_LENGTH]))
    return params


def log_params(run, values):
    """Log a flat dict as params, in batches of 100 (MLflow's limit per call).

    A key the run already holds with another value (e.g. an MLproject parameter) is logged
    as `config.<key>` instead, since MLflow params cannot change.
    """
    held = run.client.get_run(run.run_id).data.params
    params = []
    for param in _params(values):
        if param.key in held:
            if held[param.key] == param.value:
                continue
            param = Param(f"config.{param.key}", param.value)
        params.append(param)
    for first in range(0, len(params), 100):
        run.client.log_batch(run.run_id, params=params[first:first + 100])


def model_training_experiment(client, name=DEFAULT_EXPERIMENT, experiment_id=None):
    """The id of experiment `name` (created when missing), tagged as model training.

    An experiment that already has a kind keeps it: the tag is the user's to change.
    """
    if experiment_id is None:
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found else client.create_experiment(name)
    if EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    return experiment_id


def start_system_metrics(run, interval=SYSTEM_METRICS_INTERVAL):
    """Sample CPU, memory, disk, network (psutil) and NVIDIA GPU (nvidia-ml-py, when a GPU
    and the package exist) into `system/*` metrics until `run.end()`; False without psutil.

    MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL overrides `interval`.
    """
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run.run_id, sampling_interval=interval, tracking_uri=run.tracking_uri)
    except ImportError as error:  # psutil is what the monitor needs
        logger.warning("no system metrics (%s): pip install psutil", error)
        return False
    monitor.start()
    run.system_monitor = monitor
    return True


def start_run(config, manifest, run_dir, tracking_uri=None, experiment=DEFAULT_EXPERIMENT, augmentation=None,
              optimizers=None, manifest_path=None, name=None, system_metrics=True):
    """Create the MLflow run of a training run and log what is known before training.

    Args:
        config: the `TrainConfig`; logged whole, flattened (`cig_k3.config.flatten`).
        manifest: the data manifest dict; logged as `manifest.json` and hashed into a tag.
        run_dir: the training run's folder; `run_id.txt` is written there.
        tracking_uri: MLflow tracking URI (default: MLFLOW_TRACKING_URI or MLflow's default).
        experiment: experiment name, created if needed and tagged as model training
            (MLFLOW_EXPERIMENT_NAME overrides it).
        augmentation: optional dict of augmentation options, logged as `augmentation.*`.
        optimizers: optional {"generator": opt, "discriminator": opt}; their real
            hyperparameters are logged as `optimizer.<name>.*` (also possible later with
            `MLflowCallback`, which reads them from the compiled GAN).
        manifest_path: the manifest file, hashed byte for byte when given.
        name: run name (default: `run_name(config, backend)`).
        system_metrics: sample CPU / memory / GPU into `system/*` until the run ends.

    Returns:
        TrackedRun (run_id, client, ...). The run stays open: end it with `end_run(run)`.
    """
    import keras

    from cig_k3.config import flatten

    backend = keras.backend.backend()
    client = MlflowClient(tracking_uri=tracking_uri)
    commit = git_commit(cwd=Path(__file__).resolve().parent)
    tags = {
        "backend": backend,
        "precision": config.precision,
        "device": device_name(),
        "git_commit": commit,
        "mlflow.source.git.commit": commit,
        "data_manifest_sha256": manifest_hash(manifest, manifest_path),
        "preset": config.preset,
        "keras_version": keras.__version__,
    }
    name = name or run_name(config, backend)
    existing = os.environ.get("MLFLOW_RUN_ID")
    if existing:
        # Under `mlflow run` (MLproject) the run already exists: log into it.
        created = client.get_run(existing)
        tags["mlflow.runName"] = name
        client.log_batch(existing, tags=[RunTag(key, str(value)) for key, value in tags.items()])
    else:
        experiment_id = model_training_experiment(client, os.environ.get("MLFLOW_EXPERIMENT_NAME") or experiment)
        created = client.create_run(experiment_id, tags=tags, run_name=name)
    run = TrackedRun(run_id=created.info.run_id, experiment_id=created.info.experiment_id, client=client,
                     run_dir=str(run_dir), tracking_uri=client.tracking_uri)
    if existing:
        model_training_experiment(client, experiment_id=run.experiment_id)
    params = flatten(config.to_dict())
    if augmentation:
        params.update(flatten(dict(augmentation), prefix="augmentation."))
    params.update(optimizer_params(optimizers))
    log_params(run, params)
    os.makedirs(run_dir, exist_ok=True)
    Path(run_dir, RUN_ID_FILE).write_text(run.run_id + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        manifest_file = manifest_path if manifest_path and os.path.isfile(manifest_path) else None
        if manifest_file is None:
            manifest_file = os.path.join(scratch, "manifest.json")
            Path(manifest_file).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        client.log_artifact(run.run_id, manifest_file, artifact_path="data")
        config_file = os.path.join(scratch, "config.json")
        Path(config_file).write_text(config.to_json(), encoding="utf-8")
        client.log_artifact(run.run_id, config_file)
    from cig_k3.tracking.datasets import log_shards

    log_shards(run, manifest, manifest_path=manifest_path, shards=config.data.shards)
    if system_metrics:
        start_system_metrics(run)
    logger.info("MLflow run %s (%s) in %s", run.run_id, name, client.tracking_uri)
    return run


def end_run(run, status="FINISHED"):
    run.end(status)


def log_metrics(run, values, step=0):
    """Log a dict of scalar metrics (e.g. evaluation results) at `step`, in one call.

    Once the run has a logged generator (`run.model_id`), the metrics are linked to that
    model too, so `search_logged_models(order_by=...)` can rank models by them.
    """
    import time

    now = int(time.time() * 1000)
    model_id = getattr(run, "model_id", None)
    metrics = [Metric(key, float(value), now, int(step), model_id=model_id, run_id=run.run_id)
               for key, value in values.items()]
    for first in range(0, len(metrics), 1000):
        run.client.log_batch(run.run_id, metrics=metrics[first:first + 1000])


def set_tags(run, values):
    run.client.log_batch(run.run_id, tags=[RunTag(key, str(value)) for key, value in values.items()])


def log_artifact(run, path, artifact_path=None):
    run.client.log_artifact(run.run_id, str(path), artifact_path=artifact_path)


def attach_run(run_dir, tracking_uri=None):
    """The MLflow run a training run folder was logged to (RUN_DIR/run_id.txt), reopened
    for more metrics and artifacts, e.g. by `cig evaluate`; metrics logged to it are linked
    to its logged generator. Under `mlflow run` (MLFLOW_RUN_ID set) that run is used instead.

    `run_dir` may also be a run id."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    path = Path(run_dir) / RUN_ID_FILE
    if not run_id and not Path(run_dir).exists() and re.fullmatch(r"[0-9a-f]{32}", str(run_dir)):
        run_id = str(run_dir)
    if not run_id:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run was not tracked, so there is no MLflow run to log to")
        run_id = path.read_text(encoding="utf-8").strip()
    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_run(run_id)
    from cig_k3.tracking.models import logged_model_of

    return TrackedRun(run_id=run_id, experiment_id=found.info.experiment_id, client=client,
                      run_dir=str(run_dir), tracking_uri=client.tracking_uri, model_id=logged_model_of(found))
