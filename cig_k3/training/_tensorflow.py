"""The GAN step on TensorFlow: GradientTape. Only this file imports tensorflow."""

import tensorflow as tf

from cig_k3.training.gan import split_batch


def train_step(model, data):
    condition, target = split_batch(data)
    generator_variables = model.generator.trainable_variables
    discriminator_variables = model.discriminator.trainable_variables

    with tf.GradientTape() as tape:
        g_losses, fake = model.generator_losses(condition, target, training=True)
        scaled = model.generator_optimizer.scale_loss(g_losses["g_total"])
    gradients = tape.gradient(scaled, generator_variables)
    model.generator_optimizer.apply(gradients, generator_variables)

    fake = tf.stop_gradient(fake)
    with tf.GradientTape() as tape:
        d_losses = model.discriminator_losses(condition, target, fake, training=True)
        scaled = model.discriminator_optimizer.scale_loss(d_losses["d_loss"])
    gradients = tape.gradient(scaled, discriminator_variables)
    model.discriminator_optimizer.apply(gradients, discriminator_variables)

    return model.update_trackers({**g_losses, **d_losses})


def test_step(model, data):
    condition, target = split_batch(data)
    values = model.validation_metrics(condition, target)
    return model.update_trackers(values, model.validation_trackers)
