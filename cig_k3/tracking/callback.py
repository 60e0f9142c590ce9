"""`MLflowCallback`: loss terms per step, validation per epoch, sample grids, curves, model;
and `training_callbacks`, which starts the run and hands `cig train` the callback.

Sample grids are logged as images with a key and a step (`MlflowClient.log_image`), so the
UI's image view slides through training; the generator becomes a LoggedModel at the end,
with the last epoch's metrics linked to it.

Converting a device value to a Python float waits for the device, so the callback keeps
the step's logs untouched except every `log_every` steps, converts only then, and sends
the metrics of one interval in a single `MlflowClient.log_batch` call.

If the tracking store fails (a read-only directory, a server gone away), the callback
warns once and stops logging; training and its local checkpoints go on.
"""

import json
import logging
import re
import time
import warnings
from pathlib import Path

import keras
import numpy as np
from mlflow.entities import Metric

from cig_k3.export.loading import exportable_generator
from cig_k3.tracking import models, runs

logger = logging.getLogger(__name__)

VALIDATION_PREFIX = "val_"
SAMPLES_KEY = "samples"  # the image key of the sample grids in the UI
_SAMPLE_STEP = re.compile(r"step_(\d+)")  # samples/epoch_001_step_0000100.png (training/callbacks.py)


class MLflowCallback(keras.callbacks.Callback):
    """Log a training run to MLflow.

    Args:
        run: the `TrackedRun` from `start_run`.
        log_every: steps between metric logs (the step is the global step).
        batch_size: images per step, for the images-per-second metric.
        initial_step: global step at which this fit starts (when resuming).
        log_model: log the generator (MLflow Keras flavour) at the end of training.
        sample_shape: (H, W) of the condition used for the model signature.

    Example:
        >>> run = start_run(config, manifest, run_dir)
        >>> gan.fit(data, epochs=2, callbacks=[MLflowCallback(run, log_every=10, batch_size=4)])
        >>> end_run(run)
    """

    def __init__(self, run, log_every=10, batch_size=1, initial_step=0, log_model=True, sample_shape=(32, 32)):
        super().__init__()
        self.run = run
        self.run_dir = Path(run.run_dir)
        self.log_every = max(int(log_every), 1)
        self.batch_size = int(batch_size)
        self.step = int(initial_step)
        self.log_model = log_model
        self.sample_shape = tuple(sample_shape)
        self.disabled = False
        self.history = {}  # metric name -> [(step, value)], for the loss-curve figure
        self._logged_samples = set()
        self._interval_start = None
        self._interval_steps = 0
        self._optimizers_logged = False
        self._final_epoch = None  # (values, step) of the last epoch, held until the model is logged
        self.finished = False  # set when on_train_end ran

    # -- Keras hooks --------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._interval_start = time.perf_counter()
        self._interval_steps = 0
        if not self._optimizers_logged:
            optimizers = {}
            for name in ("generator", "discriminator"):
                optimizer = getattr(self.model, f"{name}_optimizer", None) if self.model is not None else None
                if optimizer is not None:
                    optimizers[name] = optimizer
            if optimizers:
                self._safely(runs.log_params, self.run, runs.optimizer_params(optimizers))
            self._optimizers_logged = True

    def on_epoch_begin(self, epoch, logs=None):
        # Resumed fits start at initial_epoch: keep the global step aligned with it.
        steps = (self.params or {}).get("steps")
        if steps:
            self.step = max(self.step, epoch * int(steps))

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._interval_steps += 1
        if self.step % self.log_every or self.disabled:
            return
        # Only here are device values turned into floats (this waits for the step to finish).
        values = {key: _scalar(value) for key, value in (logs or {}).items()}
        now = time.perf_counter()
        elapsed = now - self._interval_start
        if elapsed > 0:
            values["images_per_second"] = self._interval_steps * self.batch_size / elapsed
        self._interval_start, self._interval_steps = now, 0
        self._log(values, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self.disabled:
            return
        logs = {key: _scalar(value) for key, value in (logs or {}).items()}
        values = {key: value for key, value in logs.items() if key.startswith(VALIDATION_PREFIX)}
        values.update({f"epoch_{key}": value for key, value in logs.items() if not key.startswith(VALIDATION_PREFIX)})
        values["epoch"] = epoch + 1
        if self.log_model and epoch + 1 >= int((self.params or {}).get("epochs") or 0) > 0:
            # The last epoch's metrics are logged once the generator is a logged model, so
            # that they are linked to it (and appear once in the run's history).
            self._final_epoch = (values, self.step)
        else:
            self._log(values, self.step)
        self._log_new_samples()

    def on_train_end(self, logs=None):
        self.finished = True
        if self.disabled:
            return
        self._log_new_samples()
        if self.log_model and self.model is not None:
            self._safely(self._log_generator)
        if self._final_epoch is not None:
            self._log(*self._final_epoch)
            self._final_epoch = None
        self._log_curves()
        history = self.run_dir / "history.json"
        if history.is_file():
            self._safely(runs.log_artifact, self.run, history)

    # -- Helpers ------------------------------------------------------------------------------
    def _log_generator(self):
        # An instance generator (its clusters fitted by now) is logged as the one graph its
        # exports are: label channels then instance ids in.
        generator = exportable_generator(getattr(self.model, "generator", self.model))
        models.log_generator(self.run, generator, example_inputs(generator, self.sample_shape), step=self.step)

    def _log(self, values, step):
        values = {key: value for key, value in values.items() if value is not None and np.isfinite(value)}
        for key, value in values.items():
            self.history.setdefault(key, []).append((step, value))
        now = int(time.time() * 1000)
        model_id = getattr(self.run, "model_id", None)  # set once the generator is a logged model
        metrics = [Metric(key, value, now, step, model_id=model_id, run_id=self.run.run_id)
                   for key, value in values.items()]
        if metrics:
            self._safely(self.run.client.log_batch, self.run.run_id, metrics=metrics)

    def _log_new_samples(self):
        folder = self.run_dir / "samples"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.png")):
            if path.name in self._logged_samples:
                continue
            if self._safely(runs.log_artifact, self.run, path, "samples") and self._log_image(path):
                self._logged_samples.add(path.name)

    def _log_image(self, path):
        """The grid as a stepped image (key `samples`); a file that is not an image is
        kept as an artifact only."""
        from PIL import Image, UnidentifiedImageError

        found = _SAMPLE_STEP.search(path.stem)
        step = int(found.group(1)) if found else self.step
        try:
            with Image.open(path) as opened:
                image = opened.convert("RGB") if opened.mode not in ("L", "RGB", "RGBA") else opened.copy()
        except (OSError, UnidentifiedImageError) as error:
            logger.warning("%s is not an image MLflow can show: %s", path, error)
            return True
        return self._safely(self.run.client.log_image, self.run.run_id, image, key=SAMPLES_KEY, step=step,
                            synchronous=True)

    def _log_curves(self):
        path = self.run_dir / "loss_curves.png"
        try:
            drawn = write_loss_curves(self.history, path, self.run_dir / "history.json")
        except (OSError, ValueError, TypeError) as error:  # a figure problem is not a store failure
            logger.warning("could not draw %s: %s", path, error)
            return
        if drawn:
            self._safely(runs.log_artifact, self.run, path)

    def _safely(self, function, *args, **kwargs):
        """Call `function`; on a tracking failure warn once, disable logging, return False."""
        if self.disabled:
            return False
        try:
            function(*args, **kwargs)
            return True
        except Exception as error:  # noqa: BLE001 - any store failure must not stop training
            self.disabled = True
            message = (f"MLflow logging stopped ({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}); "
                       "training continues and local checkpoints are still written.")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            logger.warning(message)
            return False


def example_inputs(generator, sample_shape=(32, 32)):
    """Zero inputs shaped like the generator's: an image condition (unknown height and width
    become `sample_shape`, rounded to the generator's size multiple), a noise vector, or a
    dict of several named inputs (e.g. noise and class)."""
    multiple = int(getattr(generator, "size_multiple", 1) or 1)
    spatial = [max(multiple, side // multiple * multiple) for side in sample_shape]
    arrays = {}
    for tensor in generator.inputs:
        unknown = iter(spatial)
        dims = [next(unknown, 1) if d is None else d for d in tensor.shape[1:]]
        arrays[tensor.name] = np.zeros((1, *dims), np.float32)
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


def _scalar(value):
    try:
        return float(np.asarray(keras.ops.convert_to_numpy(value)).mean())
    except (TypeError, ValueError):
        return None


def read_epoch_history(path):
    """{metric: [value per epoch]} from history.json: a list of per-epoch dicts (the
    trainer's) or a dict of lists (Keras' History); {} when missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if isinstance(value, list)}
    epochs = {}
    for row in data if isinstance(data, list) else []:
        for key, value in (row.items() if isinstance(row, dict) else ()):
            if key != "epoch" and isinstance(value, (int, float)):
                epochs.setdefault(key, []).append(value)
    return epochs


def write_loss_curves(history, path, history_file=None):
    """A PNG of every loss term over steps (and of history.json's epochs when given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {key: points for key, points in history.items() if not key.startswith(("epoch", "images"))}
    epochs = read_epoch_history(history_file) if history_file is not None else {}
    if not series and not epochs:
        return False
    figure, axes = plt.subplots(1, 2 if epochs else 1, figsize=(12 if epochs else 7, 4), squeeze=False)
    for key, points in sorted(series.items()):
        steps, values = zip(*points)
        axes[0, 0].plot(steps, values, label=key)
    axes[0, 0].set(xlabel="step", ylabel="value", title="per-step losses", yscale="symlog")
    axes[0, 0].legend(fontsize=7)
    if epochs:
        for key, values in sorted(epochs.items()):
            try:
                axes[0, 1].plot(range(1, len(values) + 1), [float(v) for v in values], label=key)
            except (TypeError, ValueError):
                continue
        axes[0, 1].set(xlabel="epoch", title="history.json", yscale="symlog")
        axes[0, 1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return True


def training_callbacks(config, run_dir, run_name=None, tracking_uri=None, experiment=runs.DEFAULT_EXPERIMENT,
                       log_every=10, augmentation=None):
    """What `cig train` needs: ([MLflowCallback], finish).

    Starts the run (`start_run`, manifest read from the config's shard folder) and returns
    the callback and a `finish()` to call when training is over (in a `finally`): it ends the
    run FINISHED when training reached its end, else FAILED. If the tracking store cannot be
    reached at all, it warns and returns ([], None): training never depends on MLflow.
    """
    manifest_path = Path(config.data.shards) / "manifest.json"
    if not manifest_path.is_file():
        manifest_path = Path(run_dir) / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
        run = runs.start_run(config, manifest, run_dir, tracking_uri=tracking_uri, experiment=experiment,
                             augmentation=augmentation, manifest_path=manifest_path, name=run_name)
    except Exception as error:  # noqa: BLE001 - an unreachable store must not stop training
        warnings.warn(f"MLflow tracking is off: {type(error).__name__}: {error}", RuntimeWarning, stacklevel=2)
        return [], None
    # Short runs still get per-step curves: at least one point per epoch.
    log_every = max(1, min(int(log_every), int(config.steps_per_epoch)))
    callback = MLflowCallback(run, log_every=log_every, batch_size=config.data.batch_size)

    def finish():
        run.stop_system_metrics()
        if callback.disabled:
            return
        try:
            run.end("FINISHED" if callback.finished else "FAILED")
        except Exception as error:  # noqa: BLE001
            logger.warning("could not end MLflow run %s: %s", run.run_id, error)

    return [callback], finish
