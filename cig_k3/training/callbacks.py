"""Callbacks around the GAN loop: sample grids, checkpoints, the NaN guard, history, speed."""

import json
import logging
import math
import os
import time
from pathlib import Path

import cv2
import keras
import numpy as np

from cig_k3.training.checkpoint import save_checkpoint

log = logging.getLogger(__name__)

# Colours for label classes in sample grids: background, interior, boundary, then more.
_CLASS_COLOURS = np.array(
    [[0, 0, 0], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180]], dtype=np.float32
) / 255.0


def _sync(model):
    """On JAX the variables live in the trainer's state during an epoch; attach them."""
    if keras.backend.backend() == "jax" and hasattr(model, "jax_state_sync"):
        model.jax_state_sync()


class StepCounter(keras.callbacks.Callback):
    """Counts global steps across epochs and resumes; other callbacks read `.step`."""

    def __init__(self, initial_step=0):
        super().__init__()
        self.step = int(initial_step)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1


class Throughput(keras.callbacks.Callback):
    """Adds `images_per_second` (train steps only, excluding validation) to epoch logs."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._steps:
            logs["images_per_second"] = self._steps * self.batch_size / max(self._end - self._start, 1e-9)


class NaNGuard(keras.callbacks.Callback):
    """Stops training when a loss becomes NaN or Inf, before a bad checkpoint is written.

    Loss trackers are running means, so one non-finite step keeps the epoch's means
    non-finite: checking every `every` steps (and at each epoch end) catches it without a
    device sync on every step.
    """

    def __init__(self, counter, every=10):
        super().__init__()
        self.counter = counter
        self.every = every
        self.message = None

    def _check(self, logs, epoch):
        for name, value in (logs or {}).items():
            value = float(keras.ops.convert_to_numpy(value))
            if not math.isfinite(value):
                self.message = f"loss {name} became {value} at epoch {epoch + 1}, step {self.counter.step}"
                self.model.stop_training = True
                return

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.message is None and (batch + 1) % self.every == 0:
            self._check(logs, self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.message is None:
            self._check({k: v for k, v in (logs or {}).items() if not k.startswith("val_")}, epoch)


class Checkpointer(keras.callbacks.Callback):
    """Writes RUN_DIR/checkpoint.npz at the end of every good epoch."""

    def __init__(self, run_dir, counter, guard, extra=None):
        super().__init__()
        self.run_dir = run_dir
        self.counter = counter
        self.guard = guard
        self.extra = extra or {}

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.message is not None:
            return
        save_checkpoint(self.model, self.run_dir, epoch + 1, self.counter.step, self.extra)


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to RUN_DIR/history.json (rewritten atomically)."""

    def __init__(self, run_dir):
        super().__init__()
        self.path = Path(run_dir) / "history.json"
        self.history = json.loads(self.path.read_text()) if self.path.exists() else []

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch + 1}
        entry.update({k: float(keras.ops.convert_to_numpy(v)) for k, v in (logs or {}).items()})
        self.history = [h for h in self.history if h["epoch"] <= epoch] + [entry]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.history, indent=1))
        os.replace(tmp, self.path)


def _to_rgb(images, is_label):
    """(N, H, W, C) -> (N, H, W, 3) floats in [0, 1] for display."""
    images = np.asarray(images, dtype=np.float32)
    if is_label and images.shape[-1] > 1:
        colours = _CLASS_COLOURS[np.arange(images.shape[-1]) % len(_CLASS_COLOURS)]
        return np.clip(images @ colours, 0, 1)
    images = (images + 1.0) / 2.0
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif images.shape[-1] == 2:
        images = np.concatenate([images, np.zeros_like(images[..., :1])], axis=-1)
    return np.clip(images[..., :3], 0, 1)


def sample_grid(columns, condition_is_label=True):
    """Stack named columns of (N, H, W, C) images into one uint8 RGB grid, rows = examples."""
    panels = []
    for i, (_, images) in enumerate(columns):
        panels.append(_to_rgb(images, is_label=condition_is_label and i == 0))
    rows = [np.concatenate([panel[n] for panel in panels], axis=1) for n in range(len(panels[0]))]
    grid = np.concatenate(rows, axis=0)
    return (grid * 255).round().astype(np.uint8)


def std_column(columns):
    """The per-pixel std of the grid's sample columns ("sample 1", "sample 2", ...) as a magma
    RGB column in [-1, 1], or None with fewer than two samples: the layout of the galleries
    (benchmarks/gallery.py), mask | real | samples | std, where the uncertainty should follow
    the texture rather than the outline. Each example is scaled by its own maximum."""
    from matplotlib import colormaps

    samples = [np.asarray(images, np.float32) for name, images in columns if name.startswith("sample ")]
    if len(samples) < 2:
        return None
    std = np.stack(samples).std(axis=0).mean(axis=-1)  # (N, H, W)
    peak = np.maximum(std.reshape(len(std), -1).max(axis=1), 1e-6)[:, None, None]
    rgb = colormaps["magma"](std / peak)[..., :3]
    return "std", (rgb * 2 - 1).astype(np.float32)


class SampleGrid(keras.callbacks.Callback):
    """Saves condition | target | the GAN's `grid_columns` (for a conditional GAN,
    `num_samples` dropout and noise samples) | their per-pixel std as a PNG every `every` steps (0: at each epoch end) into
    RUN_DIR/samples/. `paths` lists what was written. With `writes=False` (training processes
    other than the first) the grid is drawn, as every process must run the same computations
    on shared variables, but not written."""

    def __init__(self, run_dir, condition, target, counter, every=0, num_samples=3, condition_is_label=True,
                 writes=True):
        super().__init__()
        self.writes = writes
        self.directory = Path(run_dir) / "samples"
        self.condition = condition
        self.target = target
        self.counter = counter
        self.every = every
        self.num_samples = num_samples
        self.condition_is_label = condition_is_label
        self.paths = []

    def write(self, epoch):
        _sync(self.model)
        # A mixing-mode condition is a dict ({"label": ..., "raw": ...}): one column per entry.
        condition = self.condition if isinstance(self.condition, dict) else {"condition": self.condition}
        columns = [*condition.items(), ("target", self.target)]
        # The GAN's own columns: dropout samples, attention masks, noise samples, translations.
        columns += self.model.grid_columns(self.condition, self.target, self.num_samples)
        spread = std_column(columns)
        columns += [spread] if spread else []
        grid = sample_grid(columns, self.condition_is_label)
        if not self.writes:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"epoch_{epoch + 1:03d}_step_{self.counter.step:07d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        self.paths.append(path)
        return path

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.counter.step % self.every == 0:
            self.write(self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        if not self.every:
            self.write(epoch)
