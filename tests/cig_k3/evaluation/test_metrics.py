import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cig_k3.evaluation import metrics


def image_pair(rng, shape=(3, 32, 40, 2)):
    """Smooth structured images plus a noisy, shifted copy, both in [-1, 1]."""
    real = ndimage.gaussian_filter(rng.uniform(-1, 1, shape), sigma=(0, 2, 2, 0)) * 3
    fake = real + rng.normal(0, 0.2, shape) + 0.05
    return np.clip(real, -1, 1).astype(np.float32), np.clip(fake, -1, 1).astype(np.float32)


def reference_tables(real, fake):
    """scikit-image and np.corrcoef on [0, 1] images, data_range 1."""
    real, fake = (real.astype(np.float64) + 1) / 2, (fake.astype(np.float64) + 1) / 2
    settings = dict(data_range=1.0, gaussian_weights=True, sigma=1.5,
                    use_sample_covariance=False)
    batch, channels = real.shape[0], real.shape[-1]
    psnr_image = [peak_signal_noise_ratio(real[i], fake[i], data_range=1.0) for i in range(batch)]
    ssim_image = [structural_similarity(real[i], fake[i], channel_axis=-1, **settings)
                  for i in range(batch)]
    pearson_image = [np.corrcoef(real[i].ravel(), fake[i].ravel())[0, 1] for i in range(batch)]
    per_channel = lambda f: np.array(  # noqa: E731
        [[f(real[i, ..., c], fake[i, ..., c]) for c in range(channels)] for i in range(batch)]
    )
    return {
        "mae": np.abs(real - fake).mean(axis=(1, 2, 3)),
        "mae_per_channel": np.abs(real - fake).mean(axis=(1, 2)),
        "psnr": np.array(psnr_image),
        "psnr_per_channel": per_channel(lambda a, b: peak_signal_noise_ratio(a, b, data_range=1.0)),
        "ssim": np.array(ssim_image),
        "ssim_per_channel": per_channel(lambda a, b: structural_similarity(a, b, **settings)),
        "pearson": np.array(pearson_image),
        "pearson_per_channel": per_channel(lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]),
    }


def test_keras_ops_metrics_match_scikit_image_and_numpy(rng):
    from keras import ops

    real, fake = image_pair(rng)
    expected = reference_tables(real, fake)
    for name in metrics.METRIC_NAMES:
        function = getattr(metrics, name)
        per_image = ops.convert_to_numpy(function(real, fake))
        per_channel = ops.convert_to_numpy(function(real, fake, per_channel=True))
        assert per_image.shape == (3,) and per_channel.shape == (3, 2)
        np.testing.assert_allclose(per_image, expected[name], atol=1e-4, err_msg=name)
        np.testing.assert_allclose(per_channel, expected[f"{name}_per_channel"], atol=1e-4,
                                   err_msg=name)


def test_keras_ops_metrics_hand_values():
    from keras import ops

    real = np.zeros((2, 16, 16, 1), np.float32)
    fake = real + np.float32(0.2)  # 0.1 apart in [0, 1] units
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.mae(real, fake)), [0.1, 0.1], atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.psnr(real, fake)), [20.0, 20.0],
                               atol=1e-4)
    # Identical images: PSNR is capped at 100 dB, SSIM and Pearson are 1.
    ramp = np.linspace(-1, 1, 2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16, 1)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.psnr(ramp, ramp)), [100.0, 100.0],
                               atol=1e-3)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.ssim(ramp, ramp)), [1, 1], atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.pearson(ramp, -ramp)), [-1, -1],
                               atol=1e-5)
    # A constant image has no correlation: 0, never NaN, inside a training step.
    assert np.all(ops.convert_to_numpy(metrics.pearson(real, ramp)) == 0)


def test_keras_ops_metrics_run_inside_a_compiled_step(rng):
    import keras

    real, fake = image_pair(rng, shape=(4, 16, 16, 1))
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Identity()])
    model.compile(loss="mae", metrics=[metrics.psnr, metrics.ssim, metrics.pearson])
    logs = model.evaluate(fake, real, batch_size=4, verbose=0, return_dict=True)
    expected = reference_tables(real, fake)
    assert logs["psnr"] == pytest.approx(expected["psnr"].mean(), abs=1e-3)
    assert logs["ssim"] == pytest.approx(expected["ssim"].mean(), abs=1e-4)


def test_ssim_rejects_images_smaller_than_the_window():
    small = np.zeros((1, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="11x11"):
        metrics.ssim(small, small)


@pytest.mark.backend_independent
def test_paired_metrics_match_scikit_image_and_numpy(rng):
    real, fake = image_pair(rng)
    tables = metrics.paired_metrics(real, fake)
    expected = reference_tables(real, fake)
    assert set(tables) == set(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(tables[key], values, atol=1e-10, err_msg=key)


@pytest.mark.backend_independent
def test_evaluate_paired_summary_and_edge_cases(rng):
    real, fake = image_pair(rng)
    result = metrics.evaluate_paired(real, fake, channel_names=["nuclei", "membrane"])
    assert result["n_images"] == 3
    summary = result["summary"]
    assert summary["ssim_mean"] == pytest.approx(result["tables"]["ssim"].mean())
    assert summary["psnr_mean/membrane"] == pytest.approx(
        result["tables"]["psnr_per_channel"][:, 1].mean()
    )
    assert all(isinstance(value, float) for value in summary.values())
    # Identical images: PSNR inf (as scikit-image); constant images: Pearson NaN, skipped.
    tables = metrics.paired_metrics(real, real)
    assert np.all(np.isinf(tables["psnr"])) and np.allclose(tables["ssim"], 1)
    constant = np.zeros_like(real)
    flat = metrics.evaluate_paired(constant, real)
    assert np.all(np.isnan(flat["tables"]["pearson"]))
    assert np.isnan(flat["summary"]["pearson_mean"])
    with pytest.raises(ValueError, match="same shape"):
        metrics.paired_metrics(real, fake[:2])
    with pytest.raises(ValueError, match="2 channels"):
        metrics.evaluate_paired(real, fake, channel_names=["one"])
