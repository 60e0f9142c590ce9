"""The GAN step on JAX: stateless. Only this file imports jax.

Keras' JAX trainer hands the step a state tuple (trainable, non-trainable, optimiser and
metric variable values) and expects the new tuple back. Every variable the step reads must
be mapped in a StatelessScope: one left out would read its stale value, so the scopes here
always map *all* of the model's variables (tests check that BatchNorm statistics and
dropout seeds advance).
"""

import jax
import keras

from cig_k3.training.gan import split_batch


def _positions(model):
    cache = getattr(model, "_cig_positions", None)
    if cache is None:
        index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        cache = (
            [index[id(v)] for v in model.generator.trainable_variables],
            [index[id(v)] for v in model.discriminator.trainable_variables],
        )
        model._cig_positions = cache
    return cache


def _take(values, positions):
    return [values[i] for i in positions]


def _put(values, positions, new_values):
    values = list(values)
    for i, value in zip(positions, new_values):
        values[i] = value
    return values


def _collect(scope, variables, old_values):
    new_values = []
    for variable, old in zip(variables, old_values):
        value = scope.get_current_value(variable)
        new_values.append(old if value is None else value)
    return new_values


def _stateless_loss(model, optimizer, optimizer_values, trainable, positions, loss_name, compute):
    """A function of the sub-network's trainable values, for jax.value_and_grad."""

    def loss_fn(sub_values, non_trainable):
        mapping = [
            *zip(model.trainable_variables, _put(trainable, positions, sub_values)),
            *zip(model.non_trainable_variables, non_trainable),
            *zip(optimizer.variables, optimizer_values),
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, extra = compute()
            scaled = optimizer.scale_loss(losses[loss_name])
        return scaled, (losses, extra, _collect(scope, model.non_trainable_variables, non_trainable))

    return loss_fn


def train_step(model, state, data):
    trainable, non_trainable, optimizer_values, metric_values = state
    condition, target = split_batch(data)
    g_positions, d_positions = _positions(model)
    g_optimizer, d_optimizer = model.generator_optimizer, model.discriminator_optimizer
    g_optimizer_values, d_optimizer_values = model.optimizer.split(optimizer_values)

    g_loss = _stateless_loss(
        model, g_optimizer, g_optimizer_values, trainable, g_positions, "g_total",
        lambda: model.generator_losses(condition, target, training=True),
    )
    g_values = _take(trainable, g_positions)
    (_, (g_losses, fake, non_trainable)), gradients = jax.value_and_grad(g_loss, has_aux=True)(
        g_values, non_trainable
    )
    new_g_values, g_optimizer_values = g_optimizer.stateless_apply(g_optimizer_values, gradients, g_values)

    fake = jax.lax.stop_gradient(fake)
    d_loss = _stateless_loss(
        model, d_optimizer, d_optimizer_values, trainable, d_positions, "d_loss",
        lambda: (model.discriminator_losses(condition, target, fake, training=True), None),
    )
    d_values = _take(trainable, d_positions)
    (_, (d_losses, _, non_trainable)), gradients = jax.value_and_grad(d_loss, has_aux=True)(
        d_values, non_trainable
    )
    new_d_values, d_optimizer_values = d_optimizer.stateless_apply(d_optimizer_values, gradients, d_values)

    trainable = _put(_put(trainable, g_positions, new_g_values), d_positions, new_d_values)
    logs, metric_values = _update_metrics(model, model.trackers, metric_values, {**g_losses, **d_losses})
    return logs, (trainable, non_trainable, g_optimizer_values + d_optimizer_values, metric_values)


def _update_metrics(model, trackers, metric_values, values):
    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, metric_values))) as scope:
        logs = model.update_trackers(values, trackers)
    return logs, _collect(scope, model.metrics_variables, metric_values)


def test_step(model, state, data):
    trainable, non_trainable, metric_values = state
    condition, target = split_batch(data)
    mapping = [*zip(model.trainable_variables, trainable), *zip(model.non_trainable_variables, non_trainable)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        values = model.validation_metrics(condition, target)
    non_trainable = _collect(scope, model.non_trainable_variables, non_trainable)
    logs, metric_values = _update_metrics(model, model.validation_trackers, metric_values, values)
    return logs, (trainable, non_trainable, metric_values)
