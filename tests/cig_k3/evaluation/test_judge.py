import numpy as np
import pytest

from cig_k3.evaluation import judge as judge_module
from cig_k3.evaluation.segmentation import dice_iou, mask_consistency

from .conftest import disc_batch


def stream(rng, batch_size, size=32):
    """An endless BatchStream stand-in: (condition one-hot, target in [-1, 1])."""
    while True:
        condition, target, _ = disc_batch(rng, batch_size, size)
        yield condition, target


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("judge") / "judge.keras"
    model = judge_module.train_judge(
        stream(rng, 8), stream(np.random.default_rng(1), 8), steps=25, epochs=2,
        out_path=str(path), validation_steps=2, learning_rate=3e-3, base_filters=8, depth=2,
        # XLA on TensorFlow compiles longer than this tiny run lasts; on JAX, False is eager.
        jit_compile=keras.backend.backend() == "jax", verbose=0,
    )
    return model, path


def test_judge_learns_discs_clearly_better_than_chance(trained):
    model, _ = trained
    condition, target, _ = disc_batch(np.random.default_rng(2), 8)
    classes = judge_module.segment(model, target)
    assert classes.shape == (8, 32, 32) and classes.dtype == np.int32
    scores = dice_iou(np.argmax(condition, -1), classes, num_classes=3)
    # Chance (or "all background") gives interior Dice near 0; a working judge is far above.
    assert scores["dice"][1] > 0.8, scores
    assert scores["dice"][0] > 0.9, scores
    assert set(model.history.history) >= {"loss", "val_loss", "accuracy"}


def test_judge_keras_round_trip_and_encoder(trained):
    model, path = trained
    assert path.exists()
    loaded = judge_module.load_judge(str(path))
    images = disc_batch(np.random.default_rng(3), 2)[1]
    np.testing.assert_allclose(
        judge_module.predict_probabilities(loaded, images),
        judge_module.predict_probabilities(model, images), atol=1e-5,
    )
    encoder = judge_module.judge_encoder(loaded)
    from keras import ops
    assert tuple(ops.convert_to_numpy(encoder(images)).shape) == (2, 8, 8, 32)


def test_segment_pads_odd_sizes(trained):
    model, _ = trained
    images = disc_batch(np.random.default_rng(4), 2, size=32)[1][:, :30, :27]
    assert judge_module.segment(model, images).shape == (2, 30, 27)


def test_mask_consistency_separates_real_from_noise(trained):
    model, _ = trained
    condition, real, instances = disc_batch(np.random.default_rng(5), 6)
    fake = np.random.default_rng(6).uniform(-1, 1, real.shape).astype(np.float32)
    result = mask_consistency(model, condition, real, fake, instance_masks=instances)
    assert result["n_images"] == 6
    assert result["real"]["dice_foreground"] > 0.8
    assert result["real"]["f1_50"] > 0.6
    assert result["real"]["dice_foreground"] > result["fake"]["dice_foreground"] + 0.3
    # Masks as class maps give the same answer as one-hot conditions.
    again = mask_consistency(model, np.argmax(condition, -1), real, fake, instance_masks=instances)
    assert again["real"] == result["real"]


def test_build_segmenter_shapes_and_errors():
    # The trained judge's sizes: on JAX each new kernel shape costs a compile.
    model = judge_module.build_segmenter(in_channels=1, num_classes=3, base_filters=8, depth=2)
    assert model.output_shape == (None, None, None, 3)
    assert model.get_layer(judge_module.ENCODER_OUTPUT).output.shape[-1] == 32
    with pytest.raises(ValueError, match="depth"):
        judge_module.build_segmenter(depth=0)
    with pytest.raises(ValueError, match=".keras"):
        judge_module.train_judge(iter([]), out_path="judge.h5")
