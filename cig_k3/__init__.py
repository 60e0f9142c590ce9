"""CIG: conditional GANs that draw microscopy images of cells from label masks.

Importing `cig_k3` makes every CIG layer, model and GAN known to Keras (each class carries
`@keras.saving.register_keras_serializable(package="cig_k3")`), so that a saved generator,
discriminator or GAN loads the Keras way, `safe_mode` left on:

    >>> import cig_k3
    >>> import keras
    >>> generator = keras.saving.load_model("runs/cig/generator.keras")

Keras itself is not imported here: `cig prepare` and `cig --help` never need it, and the CLI
imports it later, after it has chosen how to quiet TensorFlow's start-up notes. The classes
are imported (which registers them) as soon as Keras is: now if Keras is already loaded,
otherwise right after the first `import keras` finishes (`_keras_registration`).
"""

from cig_k3 import _keras_registration

_keras_registration.register_when_keras_loads()
