"""The optimiser factory: the backend's fused Adam does Keras' Adam arithmetic."""

import keras
import numpy as np
import pytest

from cig_k3.training.backend import adam
from cig_k3.training.schedules import LinearDecay


def _run(optimizer, steps=4):
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32"), name=f"w{i}")
                 for i, shape in enumerate([(3, 3, 2, 4), (4,), (7,)])]
    optimizer.build(variables)
    for _ in range(steps):
        gradients = [keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in variables]
        optimizer.apply(gradients, variables)
    return [keras.ops.convert_to_numpy(v) for v in variables], optimizer


@pytest.mark.parametrize("learning_rate", [1e-2, "schedule"])
def test_adam_factory_matches_keras_adam(learning_rate):
    def rate():
        return LinearDecay(1e-2, 2, 2) if learning_rate == "schedule" else learning_rate

    expected, reference = _run(keras.optimizers.Adam(rate(), beta_1=0.5, beta_2=0.99, epsilon=1e-6))
    got, ours = _run(adam(rate(), beta_1=0.5, beta_2=0.99, epsilon=1e-6))
    assert isinstance(ours, keras.optimizers.Adam)
    if keras.backend.backend() in ("tensorflow", "torch"):
        assert type(ours).__name__ == "FusedAdam"
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    # the optimiser state is the same too (checkpoints are interchangeable)
    assert int(keras.ops.convert_to_numpy(ours.iterations)) == 4
    for a, b in zip(reference.variables, ours.variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("options", [{"epsilon": 0.1}, {"amsgrad": True}])
def test_fused_adam_keeps_keras_epsilon_and_amsgrad(options):
    # A large epsilon shows where it sits: torch's own kernel scales it by sqrt(1 - beta_2^t),
    # Keras does not (at step 1 that is a factor 10 here), and the fused update must be Keras'.
    settings = dict(beta_1=0.5, beta_2=0.99, **options)
    expected, _ = _run(keras.optimizers.Adam(1e-2, **settings), steps=3)
    got, _ = _run(adam(1e-2, **settings), steps=3)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
