"""Export a generator as `.keras`, TensorFlow SavedModel or ONNX, and check every export.

Every export is written under a temporary name beside the target, reloaded, run on a test
condition and compared with the Keras model (max abs diff <= `tolerance`), and only then
renamed to the final name: a killed or failed export never leaves a file under that name.

Which backend does what:
    keras       any backend (re-saved).
    savedmodel  TensorFlow: `model.export(format="tf_saved_model")`. JAX and torch: the `.keras`
                file is backend-independent, so a TensorFlow subprocess loads it and exports
                (`cig_k3.export._tf_worker`); the check runs the SavedModel there too.
    onnx        TensorFlow: Keras' export (tf2onnx). torch: `torch.onnx.export` (TorchScript
                tracer, dynamic batch/height/width). JAX: Keras' own path needs jax2onnx, so
                the TensorFlow subprocess exports instead. Checked with onnxruntime.
Inputs keep dynamic batch, height and width (multiples of the generator's size multiple).
"""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cig_k3.export.loading import (
    atomic_target, exportable_generator, load_generator, resolve_model_path, size_multiple,
)

FORMATS = ("keras", "savedmodel", "onnx")
TOLERANCE = 1e-4
INPUT_NAME = "condition"

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    path: str
    format: str
    route: str  # how it was made, e.g. "tensorflow", "torch.onnx", "tensorflow subprocess"
    max_abs_diff: float


def check_format(fmt):
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {list(FORMATS)}")


def tensorflow_available():
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def export_route(fmt, backend=None):
    """How `fmt` is exported on `backend` (default: the current one); ValueError if it cannot be."""
    import keras

    check_format(fmt)
    backend = backend or keras.backend.backend()
    if backend not in ("tensorflow", "jax", "torch"):
        raise ValueError(f"export is not supported on KERAS_BACKEND={backend!r}; use tensorflow, jax or torch.")
    if fmt == "keras":
        return "keras"
    if fmt == "onnx" and backend == "torch":
        return "torch.onnx"
    if backend == "tensorflow":
        return "tensorflow"
    if not tensorflow_available():
        raise ValueError(
            f"{fmt} export on the {backend} backend goes through TensorFlow, which is not installed: "
            f"pip install 'cig[tensorflow]', or export with KERAS_BACKEND=tensorflow."
        )
    return "tensorflow subprocess"


def test_condition(model, seed=0):
    """A random batch of 2 non-square conditions (2m x 3m): exercises dynamic batch and size.
    A last channel of instance ids (`InstanceFieldGenerator`) holds random ids 0..40."""
    multiple = size_multiple(model)
    side = max(multiple, 16 // multiple * multiple or multiple)
    channels = model.inputs[0].shape[-1]
    rng = np.random.default_rng(seed)
    condition = rng.random((2, 2 * side, 3 * side, channels), dtype=np.float32)
    if getattr(model, "instance_channel", False):
        condition[..., -1] = rng.integers(0, 41, condition.shape[:3])
    return condition


def export_model(model_path, fmt, out, tolerance=TOLERANCE):
    """Export the generator in `model_path` (a `.keras` file or run folder) as `fmt` to `out`.

    Returns an `ExportResult` with the max abs difference from the Keras model. Raises
    ValueError (and leaves nothing under `out`) when the export differs by more than
    `tolerance` or the format cannot be made on this backend.
    """
    check_format(fmt)
    route = export_route(fmt)
    model_path = resolve_model_path(model_path)
    out = Path(out)
    if fmt == "keras" and out.suffix != ".keras":
        raise ValueError(f"--out {out}: a Keras model file must end in .keras")
    model = exportable_generator(load_generator(model_path))  # an instance generator: label + ids in
    out.parent.mkdir(parents=True, exist_ok=True)
    condition = test_condition(model)
    expected = _to_numpy(model(condition, training=False))

    partial = atomic_target(out)
    _remove(partial)
    try:
        if fmt == "keras":
            model.save(partial)
            actual = _to_numpy(load_generator(partial)(condition, training=False))
        elif route == "tensorflow subprocess":
            actual = _subprocess_export(fmt, model_path, partial, condition)
        elif fmt == "savedmodel":
            model.export(str(partial), format="tf_saved_model", verbose=False)
            actual = run_savedmodel(partial, condition)
        elif route == "torch.onnx":
            _torch_onnx(model, partial)
            actual = run_onnx(partial, condition)
        else:
            _tensorflow_onnx(model, partial)
            actual = run_onnx(partial, condition)
        diff = float(np.max(np.abs(actual.astype(np.float64) - expected)))
        if not diff <= tolerance:
            raise ValueError(f"the {fmt} export of {model_path} differs from the Keras model by {diff:.3g} "
                             f"(> {tolerance:g}); nothing was written to {out}.")
        _replace(partial, out)
    finally:
        _remove(partial)
    logger.info("exported %s as %s to %s (%s); max abs diff from Keras %.3g", model_path, fmt, out, route, diff)
    return ExportResult(path=str(out), format=fmt, route=route, max_abs_diff=diff)


def run_onnx(path, condition):
    """Run an ONNX generator with onnxruntime on an NHWC float32 batch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(condition, np.float32)})[0]


def run_savedmodel(path, condition):
    """Run a SavedModel's `serve` endpoint; in a TensorFlow subprocess unless on TensorFlow."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # keep a reference: serve() needs its variables
        return loaded.serve(tf.constant(condition)).numpy()
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "in.npy", condition)
        _worker(["run-savedmodel", str(path), str(Path(scratch) / "in.npy"), str(Path(scratch) / "out.npy")])
        return np.load(Path(scratch) / "out.npy", allow_pickle=False)


def _input_spec(model):
    import keras

    channels = model.inputs[0].shape[-1]
    return [keras.InputSpec(shape=(None, None, None, channels), dtype="float32", name=INPUT_NAME)]


def _tensorflow_onnx(model, path):
    model.export(str(path), format="onnx", verbose=False, input_signature=_input_spec(model))


def _torch_onnx(model, path):
    # Keras' own torch ONNX path replaces every unknown dimension by 1, which a U-Net cannot
    # take; trace at 2m x 2m and declare batch, height and width dynamic instead.
    import warnings

    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, condition):
            return self.inner(condition, training=False)

    multiple = size_multiple(model)
    channels = model.inputs[0].shape[-1]
    sample = torch.zeros((1, 2 * multiple, 2 * multiple, channels), dtype=torch.float32)
    dims = {0: "batch", 1: "height", 2: "width"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings on shape constants that do not depend on the input size
        torch.onnx.export(
            Wrapper(model).eval(), (sample,), str(path), input_names=[INPUT_NAME], output_names=["image"],
            dynamic_axes={INPUT_NAME: dims, "image": dims}, dynamo=False,
        )


def _subprocess_export(fmt, model_path, partial, condition):
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "in.npy", condition)
        _worker(["export", fmt, str(model_path), str(partial), str(Path(scratch) / "in.npy"),
                 str(Path(scratch) / "out.npy")])
        actual = np.load(Path(scratch) / "out.npy", allow_pickle=False)
    if fmt == "onnx":  # run the file here too, as a user of it would
        actual = run_onnx(partial, condition)
    return actual


def _worker(arguments):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "cig_k3.export._tf_worker", *arguments]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise ValueError(f"the TensorFlow export subprocess failed: {lines[-1] if lines else result.returncode}")


def _to_numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _remove(path):
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _replace(partial, out):
    """Rename `partial` to `out`; an existing folder (SavedModel) is moved aside first."""
    out = Path(out)
    if out.is_dir() and not out.is_symlink():
        old = atomic_target(out).with_name(atomic_target(out).name + ".old")
        os.replace(out, old)
        os.replace(partial, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, out)
