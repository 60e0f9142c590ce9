"""The GAN step on PyTorch: backward, then `optimizer.apply` under no_grad. Only this file
imports torch."""

import torch

from cig_k3.training.gan import split_batch


def _apply(model, optimizer, loss, variables):
    model.zero_grad()
    optimizer.scale_loss(loss).backward()
    gradients = [variable.value.grad for variable in variables]
    with torch.no_grad():
        optimizer.apply(gradients, variables)


def train_step(model, data):
    condition, target = split_batch(data)
    g_losses, fake = model.generator_losses(condition, target, training=True)
    _apply(model, model.generator_optimizer, g_losses["g_total"], model.generator.trainable_variables)

    d_losses = model.discriminator_losses(condition, target, fake.detach(), training=True)
    _apply(model, model.discriminator_optimizer, d_losses["d_loss"], model.discriminator.trainable_variables)

    values = {name: value.detach() for name, value in {**g_losses, **d_losses}.items()}
    return model.update_trackers(values)


def test_step(model, data):
    condition, target = split_batch(data)
    values = model.validation_metrics(condition, target)
    return model.update_trackers(values, model.validation_trackers)
