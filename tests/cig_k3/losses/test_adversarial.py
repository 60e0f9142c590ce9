"""Every adversarial mode for D and G by hand, through the discriminator's compiled loss."""

import keras
import numpy as np
import pytest

from cig_k3.losses.adversarial import ADVERSARIAL_LOSSES, AdversarialLoss, WassersteinLoss, canonical

LOGITS = np.array([0.5, -1.0, 2.0, 0.0], "float32").reshape(1, 2, 2, 1)


def softplus(x):
    return np.log1p(np.exp(x))


# mode -> (D's loss on LOGITS labelled real, labelled fake, G's term on LOGITS as D(fake))
BY_HAND = {
    "lsgan": (np.mean((LOGITS - 1) ** 2), np.mean(LOGITS**2), np.mean((LOGITS - 1) ** 2)),
    "bce": (np.mean(softplus(-LOGITS)), np.mean(softplus(LOGITS)), np.mean(softplus(-LOGITS))),
    "hinge": (np.mean(np.maximum(1 - LOGITS, 0)), np.mean(np.maximum(1 + LOGITS, 0)), -np.mean(LOGITS)),
    "wasserstein": (-np.mean(LOGITS), np.mean(LOGITS), -np.mean(LOGITS)),
}


def identity_discriminator():
    """D(x) = x: the logits are whatever it is fed."""
    image = keras.Input((None, None, 1))
    return keras.Model(image, keras.layers.Identity()(image))


def value(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


@pytest.mark.parametrize("mode", ADVERSARIAL_LOSSES)
def test_each_mode_by_hand_for_both_players(mode):
    loss = AdversarialLoss(mode)
    discriminator = identity_discriminator()
    loss.compile(discriminator)
    logits = keras.ops.convert_to_tensor(LOGITS)
    real, fake, generator = BY_HAND[mode]
    judged = discriminator(logits)
    assert value(loss.discriminator_term(discriminator, judged, real=True)) == pytest.approx(real, rel=1e-5)
    assert value(loss.discriminator_term(discriminator, judged, real=False)) == pytest.approx(fake, rel=1e-5)
    assert value(loss.generator_term(discriminator, judged)) == pytest.approx(generator, rel=1e-5)


def test_the_generator_side_of_lsgan_and_bce_goes_through_the_compiled_loss():
    """Compiled with another loss, the generator's LSGAN term follows the compiled one: the
    discriminator's loss is the single source of D's side, and G's non-saturating side."""
    discriminator = identity_discriminator()
    discriminator.compile(loss="mae")
    logits = keras.ops.convert_to_tensor(np.full((1, 2, 2, 1), 3.0, "float32"))
    assert value(AdversarialLoss("lsgan").generator_term(discriminator, logits)) == pytest.approx(2.0)  # |3 - 1|


def test_names_aliases_and_refusals():
    assert canonical("wgan-gp") == "wasserstein"  # the name configs of the wgan-gp preset were saved with
    assert AdversarialLoss("wgan-gp").mode == "wasserstein"
    with pytest.raises(ValueError, match=r"unknown adversarial loss 'vanilla'; choose one of \('lsgan', 'bce'"):
        AdversarialLoss("vanilla")
    with pytest.raises(RuntimeError, match="is not compiled with its adversarial loss"):
        AdversarialLoss("bce").discriminator_term(identity_discriminator(), keras.ops.zeros((1, 1)), real=True)


def test_wasserstein_loss_survives_serialization():
    restored = keras.losses.deserialize(keras.losses.serialize(WassersteinLoss()))
    assert isinstance(restored, WassersteinLoss)
    targets, scores = np.array([[1.0], [0.0]], "float32"), np.array([[2.0], [5.0]], "float32")
    assert value(restored(targets, scores)) == pytest.approx((-2.0 + 5.0) / 2)
