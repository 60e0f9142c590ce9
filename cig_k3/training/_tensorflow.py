"""The GAN step on TensorFlow: GradientTape. Only this file imports tensorflow.

It imports nothing of CIG (see `cig_k3.training.backend`): `train_step` gets the batch as a
(condition, target) pair, and validation is `backend.eager_test_step`.
"""

import keras
import tensorflow as tf


def train_step(model, batch):
    """One GAN step: each of `model.phases()` in order, `phase.repeat` updates each."""
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



class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam with each variable's update as TensorFlow's fused kernel.

    Keras writes Adam's update as a dozen element-wise ops, each a pass over the weights; on
    a CPU pix2pix step at batch 1 they take about a fifth of the step (benchmarks/profile_step.py).
    `ResourceApplyAdam` reads var, m, v and the gradient once. The arithmetic is Keras':
    var -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon). The state
    (momentums, velocities, iterations) is the base class's, so checkpoints do not change.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


def input_gradient(function, inputs):
    """d sum(function(inputs)) / d inputs, itself differentiable (a nested tape), for
    gradient penalties."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = tf.reduce_sum(function(inputs))
    return tape.gradient(outputs, inputs)
