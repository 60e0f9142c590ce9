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



def input_gradient(function, inputs):
    """d sum(function(inputs)) / d inputs, itself differentiable (create_graph), for
    gradient penalties."""
    if not inputs.requires_grad:
        inputs = inputs.detach().requires_grad_(True)
    outputs = torch.sum(function(inputs))
    (gradient,) = torch.autograd.grad(outputs, inputs, create_graph=True)
    return gradient
