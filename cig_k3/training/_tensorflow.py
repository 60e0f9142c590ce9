"""The GAN step on TensorFlow: GradientTape. Only this file imports tensorflow."""

import keras
import tensorflow as tf

from cig_k3.training.gan import eager_test_step, split_batch


def train_step(model, data):
    batch = split_batch(data)
    carry, logs = None, {}
    for phase in model.phases():
        optimizer, variables = model.optimizer[phase.optimizer], phase.variables
        for _ in range(phase.repeat):
            with tf.GradientTape() as tape:
                losses, carry = phase.loss(batch, carry)
                scaled = optimizer.scale_loss(losses[phase.loss_name])
            gradients = tape.gradient(scaled, variables)
            optimizer.apply(gradients, variables)
            carry = keras.tree.map_structure(lambda t: None if t is None else tf.stop_gradient(t), carry)
        logs.update(losses)
    return model.update_trackers(logs)


test_step = eager_test_step


def input_gradient(function, inputs):
    """d sum(function(inputs)) / d inputs, itself differentiable (a nested tape), for
    gradient penalties."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = tf.reduce_sum(function(inputs))
    return tape.gradient(outputs, inputs)
