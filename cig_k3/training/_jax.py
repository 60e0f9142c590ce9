"""The GAN step on JAX: stateless. Only this file imports jax.

Keras' JAX trainer hands the step a state tuple (trainable, non-trainable, optimiser and
metric variable values) and expects the new tuple back. Every variable the step reads must
be mapped in a StatelessScope: one left out would read its stale value, so the scopes here
always map *all* of the model's variables (tests check that BatchNorm statistics, dropout
and noise seeds, and image pools advance). Each phase of `model.phases()` sees the
trainable values as the phases before it left them.

It imports nothing of CIG (see `cig_k3.training.backend`): both steps get the batch as a
(condition, target) pair.
"""

import jax
import keras


def _positions(model, phase):
    cache = model.__dict__.setdefault("_cig_positions", {})
    if phase.name not in cache:
        index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        cache[phase.name] = [index[id(v)] for v in phase.variables]
    return cache[phase.name]


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


def _stateless_loss(model, phase, optimizer_values, trainable, positions, batch, carry):
    """A function of the phase's trainable values, for jax.value_and_grad."""
    optimizer = model.optimizer[phase.optimizer]

    def loss_fn(sub_values, non_trainable):
        mapping = [
            *zip(model.trainable_variables, _put(trainable, positions, sub_values)),
            *zip(model.non_trainable_variables, non_trainable),
            *zip(optimizer.variables, optimizer_values),
        ]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, new_carry = phase.loss(batch, carry)
            scaled = optimizer.scale_loss(losses[phase.loss_name])
        return scaled, (losses, new_carry, _collect(scope, model.non_trainable_variables, non_trainable))

    return loss_fn


def _as_arrays(data):
    """NumPy batches as JAX arrays: without jit (--jit off) they arrive as NumPy, and Keras
    refuses a layer call that mixes NumPy inputs with the generator's JAX outputs."""
    return jax.tree_util.tree_map(jax.numpy.asarray, data)


def train_step(model, state, batch):
    """One GAN step, stateless: each of `model.phases()` in order; returns (logs, new state)."""
    trainable, non_trainable, optimizer_values, metric_values = state
    batch = _as_arrays(batch)
    optimizer_values = model.optimizer.split(optimizer_values)
    carry, logs = None, {}
    for phase in model.phases():
        positions = _positions(model, phase)
        optimizer = model.optimizer[phase.optimizer]
        for _ in range(phase.repeat):
            loss_fn = _stateless_loss(model, phase, optimizer_values[phase.optimizer], trainable, positions,
                                      batch, carry)
            values = _take(trainable, positions)
            (_, (losses, carry, non_trainable)), gradients = jax.value_and_grad(loss_fn, has_aux=True)(
                values, non_trainable
            )
            new_values, optimizer_values[phase.optimizer] = optimizer.stateless_apply(
                optimizer_values[phase.optimizer], gradients, values
            )
            trainable = _put(trainable, positions, new_values)
            carry = jax.lax.stop_gradient(carry)
        logs.update(losses)
    logs, metric_values = _update_metrics(model, model.trackers, metric_values, logs)
    return logs, (trainable, non_trainable, model.optimizer.join(optimizer_values), metric_values)


def _update_metrics(model, trackers, metric_values, values):
    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, metric_values))) as scope:
        logs = model.update_trackers(values, trackers)
    return logs, _collect(scope, model.metrics_variables, metric_values)


def test_step(model, state, batch):
    """Validation metrics of a (condition, target) batch, stateless; returns (logs, new state)."""
    trainable, non_trainable, metric_values = state
    condition, target = _as_arrays(batch)
    mapping = [*zip(model.trainable_variables, trainable), *zip(model.non_trainable_variables, non_trainable)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        values = model.validation_metrics(condition, target)
    non_trainable = _collect(scope, model.non_trainable_variables, non_trainable)
    logs, metric_values = _update_metrics(model, model.validation_trackers, metric_values, values)
    return logs, (trainable, non_trainable, metric_values)


def input_gradient(function, inputs):
    """d sum(function(inputs)) / d inputs, itself differentiable (jax.grad traced inside the
    loss; the StatelessScope around it maps the variables `function` reads), for gradient
    penalties. `function` must not update state (no BatchNorm in training mode)."""
    return jax.grad(lambda x: jax.numpy.sum(function(x)))(inputs)


def use_cpu_collectives():
    """Cross-process collectives on CPU hosts through gloo (GPUs use NCCL regardless); set
    before `jax.distributed.initialize`."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")


def process_index():
    return jax.process_index()


def process_count():
    return jax.process_count()
