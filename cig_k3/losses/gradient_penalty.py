"""WGAN-GP's gradient penalty, in keras.ops (the Wasserstein loss itself is a mode of
`cig_k3.losses.adversarial`).

The penalty needs the gradient of the critic with respect to its input inside the loss.
That primitive differs per backend, so it is passed in: the GAN hands over
`cig_k3.training._<backend>.input_gradient` (a nested tape, `torch.autograd.grad` with
create_graph, or `jax.grad` traced inside the loss).

Reference: Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, Alg. 1.
"""

from keras import ops


def interpolate(real, fake, alpha):
    """x_hat = alpha * real + (1 - alpha) * fake, alpha of shape (B, 1, 1, 1)."""
    return alpha * real + (1.0 - alpha) * fake


def gradient_penalty(critic, interpolates, input_gradient, weight=10.0):
    """weight * mean over the batch of (||d critic / d x_hat||_2 - 1)^2.

    Args:
        critic: a function of an image batch returning one score per image.
        interpolates: the points x_hat where the gradient is taken (see `interpolate`).
        input_gradient: the backend's `input_gradient(function, inputs)`.
        weight: lambda (WGAN-GP: 10).
    """
    gradients = input_gradient(critic, interpolates)
    axes = tuple(range(1, len(gradients.shape)))
    # The small constant keeps the gradient of the norm finite where the gradient is zero.
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=axes) + 1e-12)
    return weight * ops.mean(ops.square(norms - 1.0))

