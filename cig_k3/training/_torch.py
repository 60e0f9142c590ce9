"""The GAN step on PyTorch: backward, then `optimizer.apply` under no_grad. Only this file
imports torch.

It imports nothing of CIG (see `cig_k3.training.backend`): `train_step` gets the batch as a
(condition, target) pair, and validation is `backend.eager_test_step`.
"""

import keras
import torch

if torch.cuda.is_available():
    # Crops have one size per run, so cuDNN's autotuner picks each convolution's fastest
    # algorithm once and reuses it.
    torch.backends.cudnn.benchmark = True


def _apply(model, optimizer, loss, variables):
    model.zero_grad()
    optimizer.scale_loss(loss).backward()
    gradients = [variable.value.grad for variable in variables]
    with torch.no_grad():
        optimizer.apply(gradients, variables)


def _detach(structure):
    return keras.tree.map_structure(lambda tensor: None if tensor is None else tensor.detach(), structure)


def train_step(model, batch):
    """One GAN step: each of `model.phases()` in order, `phase.repeat` updates each."""
    carry, logs = None, {}
    for phase in model.phases():
        for _ in range(phase.repeat):
            losses, carry = phase.loss(batch, carry)
            _apply(model, model.optimizer[phase.optimizer], losses[phase.loss_name], phase.variables)
            carry = _detach(carry)
        logs.update(_detach(losses))
    return model.update_trackers(logs)



class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam with all variables updated by torch's fused Adam kernel.

    Keras' torch Adam is a chain of about ten foreach (multi-tensor) ops, each a pass over
    every weight with a new temporary; `torch._fused_adam_` reads var, m, v and the gradient
    once (3-5x faster on the CPU for pix2pix's 57M weights). The arithmetic stays Keras':
    var -= alpha * m / (sqrt(v) + epsilon), alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
    torch's kernel puts its bias corrections elsewhere (epsilon is scaled by sqrt(1 - beta_2^t)),
    so it gets Keras' alpha as its learning rate and a step so large that its own corrections
    are exactly 1. The state (momentums, velocities, iterations) is the base class's, so
    checkpoints do not change. amsgrad, or variables of several dtypes or devices, take
    Keras' update.

    Reference: Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    # beta ** 2**40 is 0 in float32 for any beta below 1 - 1e-10: torch's bias corrections
    # 1 - beta ** step become exactly 1.
    _NO_CORRECTION_STEP = 2.0**40

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        variables = [variable.value for variable in trainable_variables]
        if self.amsgrad or len({(value.dtype, value.device) for value in variables}) != 1:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        dtype = variables[0].dtype
        with torch.no_grad():
            step = keras.ops.cast(self.iterations + 1, dtype)
            beta_1_power = keras.ops.power(keras.ops.cast(self.beta_1, dtype), step)
            beta_2_power = keras.ops.power(keras.ops.cast(self.beta_2, dtype), step)
            alpha = keras.ops.cast(learning_rate, dtype) * keras.ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            indices = [self._get_variable_index(variable) for variable in trainable_variables]
            steps = torch.full((), self._NO_CORRECTION_STEP, dtype=torch.float32, device=variables[0].device)
            torch._fused_adam_(
                variables, [gradient.to(dtype) for gradient in grads],
                [self._momentums[index].value for index in indices],
                [self._velocities[index].value for index in indices],
                [], [steps] * len(variables), lr=alpha, beta1=float(self.beta_1), beta2=float(self.beta_2),
                weight_decay=0.0, eps=float(self.epsilon), amsgrad=False, maximize=False)


def input_gradient(function, inputs):
    """d sum(function(inputs)) / d inputs, itself differentiable (create_graph), for
    gradient penalties."""
    if not inputs.requires_grad:
        inputs = inputs.detach().requires_grad_(True)
    outputs = torch.sum(function(inputs))
    (gradient,) = torch.autograd.grad(outputs, inputs, create_graph=True)
    return gradient
