"""The KL divergence of a diagonal Gaussian posterior from the standard normal prior."""

from keras import ops


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the code and averaged over the batch.

    Per sample: -0.5 * sum_d (1 + logvar_d - mu_d^2 - exp(logvar_d)), in closed form. The
    batch mean (SPADE and BicycleGAN sum over the batch too) keeps the weight independent
    of the batch size.

    Args:
        mu, logvar: (N, D) mean and log-variance of the posterior.

    Example:
        >>> float(gaussian_kl(keras.ops.zeros((2, 8)), keras.ops.zeros((2, 8))))  # the prior itself
        0.0

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, appendix B.
    """
    mu = ops.cast(mu, "float32")
    logvar = ops.cast(logvar, "float32")
    return ops.mean(-0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1))
