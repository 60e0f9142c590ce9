"""The running Keras backend's GAN step, and what the three step files share.

`step_module()` returns the step file of the backend (`_tensorflow.py`, `_jax.py` or
`_torch.py`, the only files that import tensorflow, jax or torch). The step files import
nothing of CIG: what they share lives here and is applied around them. `split_batch` turns a
batch of the data stream into the (condition, target) pair a step receives, and
`eager_test_step` is the validation step of the backends whose variables hold state
(TensorFlow, torch); JAX brings its own, stateless one. `adam()` is Keras' Adam, or the
backend's fused equivalent where the step file defines one (`FusedAdam` on TensorFlow and torch).

So the imports run one way, gan.py -> backend.py -> step files, with no circle through them.
"""

import keras


def step_module():
    """The step file of the current Keras backend (a module with `train_step`,
    `input_gradient` and, on JAX, `test_step`)."""
    backend = keras.backend.backend()
    # Imported here, not at the top: only the running backend's library is ever loaded.
    if backend == "tensorflow":
        from cig_k3.training import _tensorflow as module
    elif backend == "jax":
        from cig_k3.training import _jax as module
    elif backend == "torch":
        from cig_k3.training import _torch as module
    else:
        raise ValueError(f"KERAS_BACKEND={backend!r} is not supported; use tensorflow, jax or torch")
    return module


def split_batch(data):
    """(condition, target) from a batch as the data stream yields it ((condition, target[, extra...]))."""
    if isinstance(data, (tuple, list)) and len(data) >= 2:
        return data[0], data[1]
    raise ValueError("a GAN batch must be a (condition, target) pair")


def train_step(step, model, *args):
    """`step.train_step` on the (condition, target) pair of the batch; `args` is (data,), or
    (state, data) on JAX, as Keras' trainer hands them to `model.train_step`."""
    *state, data = args
    return step.train_step(model, *state, split_batch(data))


def test_step(step, model, *args):
    """The backend's validation step: JAX's stateless one, else `eager_test_step`."""
    *state, data = args
    if hasattr(step, "test_step"):
        return step.test_step(model, *state, split_batch(data))
    return eager_test_step(model, split_batch(data))


def eager_test_step(model, batch):
    """Validation on backends with stateful variables: the model's validation metrics of a
    (condition, target) batch, averaged by its validation trackers."""
    condition, target = batch
    values = model.validation_metrics(condition, target)
    return model.update_trackers(values, model.validation_trackers)


def adam(learning_rate, **kwargs):
    """keras.optimizers.Adam, or where the backend has one, its fused equivalent with the same
    arithmetic and state (`FusedAdam`: TensorFlow's ResourceApplyAdam, torch's `_fused_adam_`).
    JAX's is fused by XLA, so it keeps Keras' class.

    Example:
        >>> optimizer = adam(2e-4, beta_1=0.5)
    """
    return getattr(step_module(), "FusedAdam", keras.optimizers.Adam)(learning_rate, **kwargs)
