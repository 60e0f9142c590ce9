"""Paired image metrics: MAE, PSNR, SSIM and Pearson correlation.

Convention for every function here: images are NHWC floats in the model's range [-1, 1].
They are mapped to [0, 1] by (x + 1) / 2 before anything is computed, and the data range is
1. So MAE is in [0, 1] units, PSNR = 10 log10(1 / MSE), and SSIM uses C1 = (0.01)^2,
C2 = (0.03)^2.

Two families:

- `mae`, `psnr`, `ssim`, `pearson` are written in `keras.ops` only, so they run inside a
  compiled train or test step on any backend. Each returns one value per image, shape (B,),
  or with `per_channel=True` one per image and channel, shape (B, C). The (B,) form has the
  signature of a Keras metric function: `model.compile(metrics=[psnr])` works.
- `paired_metrics` (NumPy, float64) returns the per-image and per-channel tables for a
  report, and `evaluate_paired` adds the summary that goes to MLflow.

Both families agree with scikit-image and NumPy to 1e-4:
- per-image PSNR = `skimage.metrics.peak_signal_noise_ratio(real, fake, data_range=1)` on
  the whole H x W x C image (one MSE over all channels); per-channel uses each channel's MSE;
- SSIM = `skimage.metrics.structural_similarity(real, fake, data_range=1, channel_axis=-1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`: per channel, the mean
  SSIM map over the "valid" region (the 5-pixel border that the 11-tap window would pad is
  left out); per image, the mean over channels;
- Pearson = `np.corrcoef(real.ravel(), fake.ravel())[0, 1]` per image (all channels
  together) or per channel.

Reference:
    Wang, Bovik, Sheikh, Simoncelli (2004). Image quality assessment: from error
    visibility to structural similarity. IEEE TIP 13(4).
"""

import numpy as np
from keras import ops

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5): the 11-tap window of Wang et al. and scikit-image
SSIM_K1 = 0.01
SSIM_K2 = 0.03
DATA_RANGE = 1.0
# MSE floor of the keras.ops PSNR: identical images give 100 dB instead of inf, so that a
# training log never holds inf. The NumPy report returns inf, as scikit-image does.
PSNR_MSE_FLOOR = 1e-10
_EPS = 1e-12

METRIC_NAMES = ("mae", "psnr", "ssim", "pearson")


def _gaussian_taps(sigma=SSIM_SIGMA, radius=SSIM_RADIUS):
    """The normalised 1-D Gaussian of scipy.ndimage.gaussian_filter (float64)."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


# ---------------------------------------------------------------------------- keras.ops


def _to_unit(y_true, y_pred):
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    if len(y_true.shape) != 4 or len(y_pred.shape) != 4:
        raise ValueError(
            f"metrics expect NHWC batches; got shapes {tuple(y_true.shape)} and "
            f"{tuple(y_pred.shape)}"
        )
    return (y_true + 1.0) * 0.5, (y_pred + 1.0) * 0.5


def _reduce(values, per_channel):
    """Mean over H, W (per_channel) or over H, W, C."""
    return ops.mean(values, axis=(1, 2) if per_channel else (1, 2, 3))


def mae(y_true, y_pred, per_channel=False):
    """Mean absolute error in [0, 1] units. Shape (B,) or (B, C) with `per_channel`."""
    y_true, y_pred = _to_unit(y_true, y_pred)
    return _reduce(ops.abs(y_true - y_pred), per_channel)


def psnr(y_true, y_pred, per_channel=False):
    """Peak signal-to-noise ratio in dB, data range 1. Shape (B,) or (B, C).

    The per-image value comes from one MSE over all channels (as scikit-image computes it),
    not from the mean of the per-channel PSNRs. MSE is floored at 1e-10 (at most 100 dB).
    """
    y_true, y_pred = _to_unit(y_true, y_pred)
    mse = _reduce(ops.square(y_true - y_pred), per_channel)
    mse = ops.maximum(mse, PSNR_MSE_FLOOR)
    return 10.0 * ops.log(DATA_RANGE**2 / mse) / np.log(10.0)


def _gaussian_filter_valid(x, num_channels):
    """Separable 11 x 11 Gaussian over each channel, "valid" padding (keras.ops)."""
    taps = _gaussian_taps().astype("float32")
    kernel_rows = np.tile(taps.reshape(-1, 1, 1, 1), (1, 1, num_channels, 1))
    kernel_cols = np.tile(taps.reshape(1, -1, 1, 1), (1, 1, num_channels, 1))
    x = ops.depthwise_conv(x, ops.convert_to_tensor(kernel_rows), padding="valid",
                           data_format="channels_last")
    return ops.depthwise_conv(x, ops.convert_to_tensor(kernel_cols), padding="valid",
                              data_format="channels_last")


def ssim_map(y_true, y_pred):
    """The SSIM map over the valid region, shape (B, H - 10, W - 10, C) (keras.ops)."""
    y_true, y_pred = _to_unit(y_true, y_pred)
    height, width, channels = y_true.shape[1], y_true.shape[2], y_true.shape[3]
    if height is not None and width is not None and min(height, width) < 2 * SSIM_RADIUS + 1:
        raise ValueError(
            f"SSIM needs images of at least {2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} "
            f"pixels (the 11-tap Gaussian window); got {height}x{width}"
        )
    # One depthwise pass filters the five moment images together.
    stacked = ops.concatenate(
        [y_true, y_pred, y_true * y_true, y_pred * y_pred, y_true * y_pred], axis=-1
    )
    filtered = _gaussian_filter_valid(stacked, 5 * channels)
    mu_x, mu_y, e_xx, e_yy, e_xy = ops.split(filtered, 5, axis=-1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov_xy = e_xy - mu_x * mu_y
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    numerator = (2.0 * mu_x * mu_y + c1) * (2.0 * cov_xy + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return numerator / denominator


def ssim(y_true, y_pred, per_channel=False):
    """Structural similarity, Gaussian window (11 taps, sigma 1.5). Shape (B,) or (B, C).

    Matches scikit-image with gaussian_weights=True, use_sample_covariance=False,
    data_range=1; the per-image value is the mean over channels.
    """
    return _reduce(ssim_map(y_true, y_pred), per_channel)


def pearson(y_true, y_pred, per_channel=False):
    """Pearson correlation between real and fake pixel values. Shape (B,) or (B, C).

    Per image, all channels are pooled. A constant image gives 0 (not NaN) here.
    """
    y_true, y_pred = _to_unit(y_true, y_pred)
    axes = (1, 2) if per_channel else (1, 2, 3)
    centred_true = y_true - ops.mean(y_true, axis=axes, keepdims=True)
    centred_pred = y_pred - ops.mean(y_pred, axis=axes, keepdims=True)
    covariance = ops.sum(centred_true * centred_pred, axis=axes)
    norm = ops.sqrt(
        ops.sum(ops.square(centred_true), axis=axes) * ops.sum(ops.square(centred_pred), axis=axes)
    )
    return covariance / ops.maximum(norm, _EPS)


# ---------------------------------------------------------------------------- NumPy report


def _check_pair(real, fake):
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 4 or real.shape != fake.shape:
        raise ValueError(
            f"real and fake must be NHWC batches of the same shape; got {real.shape} and "
            f"{fake.shape}"
        )
    return (real + 1.0) / 2.0, (fake + 1.0) / 2.0


def _np_psnr(mse):
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(DATA_RANGE**2 / mse)


def _np_pearson(real, fake, axes):
    centred_real = real - real.mean(axis=axes, keepdims=True)
    centred_fake = fake - fake.mean(axis=axes, keepdims=True)
    covariance = (centred_real * centred_fake).sum(axis=axes)
    norm = np.sqrt((centred_real**2).sum(axis=axes) * (centred_fake**2).sum(axis=axes))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, covariance / np.where(norm > 0, norm, 1.0), np.nan)


def _np_ssim_per_channel(real, fake):
    from skimage.metrics import structural_similarity

    batch, _, _, channels = real.shape
    table = np.empty((batch, channels), dtype=np.float64)
    for index in range(batch):
        for channel in range(channels):
            table[index, channel] = structural_similarity(
                real[index, ..., channel],
                fake[index, ..., channel],
                data_range=DATA_RANGE,
                gaussian_weights=True,
                sigma=SSIM_SIGMA,
                use_sample_covariance=False,
                K1=SSIM_K1,
                K2=SSIM_K2,
            )
    return table


def paired_metrics(real, fake):
    """Per-image and per-channel tables of MAE, PSNR, SSIM and Pearson (NumPy, float64).

    Args:
        real, fake: NHWC arrays in [-1, 1], same shape; H and W at least 11.

    Returns:
        dict with, for each name in METRIC_NAMES, `name` -> shape (B,) and
        `name + "_per_channel"` -> shape (B, C). Identical images give PSNR inf; a constant
        image gives Pearson NaN (as np.corrcoef does).

    Example:
        tables = paired_metrics(real, fake); tables["ssim"].mean()
    """
    real, fake = _check_pair(real, fake)
    whole, channel = (1, 2, 3), (1, 2)
    error = real - fake
    ssim_table = _np_ssim_per_channel(real, fake)
    return {
        "mae": np.abs(error).mean(axis=whole),
        "mae_per_channel": np.abs(error).mean(axis=channel),
        "psnr": _np_psnr((error**2).mean(axis=whole)),
        "psnr_per_channel": _np_psnr((error**2).mean(axis=channel)),
        "ssim": ssim_table.mean(axis=1),
        "ssim_per_channel": ssim_table,
        "pearson": _np_pearson(real, fake, whole),
        "pearson_per_channel": _np_pearson(real, fake, channel),
    }


def _nan_reduce(reduce, values):
    """`reduce` over the non-NaN values; NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    if not np.any(~np.isnan(values)):
        return float("nan")
    with np.errstate(invalid="ignore"):  # inf - inf in a std is a legitimate NaN
        return float(reduce(values))


def summarize_paired(tables, channel_names=None):
    """Flat {metric: float} summary of `paired_metrics` tables, ready for MLflow.

    Keys: `<name>_mean`, `<name>_std` over images, and `<name>_mean/<channel>` per channel.
    NaN entries (Pearson of a constant image) are left out of the averages.
    """
    num_channels = tables["mae_per_channel"].shape[1]
    if channel_names is None:
        channel_names = [f"ch{index}" for index in range(num_channels)]
    if len(channel_names) != num_channels:
        raise ValueError(
            f"{len(channel_names)} channel names given for {num_channels} channels"
        )
    summary = {}
    for name in METRIC_NAMES:
        values = tables[name]
        summary[f"{name}_mean"] = _nan_reduce(np.nanmean, values)
        summary[f"{name}_std"] = _nan_reduce(np.nanstd, values)
        if num_channels > 1:
            for index, channel_name in enumerate(channel_names):
                column = tables[f"{name}_per_channel"][:, index]
                summary[f"{name}_mean/{channel_name}"] = _nan_reduce(np.nanmean, column)
    return summary


def evaluate_paired(real, fake, channel_names=None):
    """Paired metrics of a test set: tables, summary and the number of images.

    Args:
        real, fake: NHWC arrays in [-1, 1] (real targets and the generator's outputs for
            the same conditions).
        channel_names: optional names for the per-channel summary keys.

    Returns:
        {"n_images": B, "summary": {name: float}, "tables": paired_metrics(real, fake)}

    Example:
        result = evaluate_paired(real, fake, ["nuclei"])
        mlflow.log_metrics(result["summary"])
    """
    tables = paired_metrics(real, fake)
    return {
        "n_images": int(tables["mae"].shape[0]),
        "summary": summarize_paired(tables, channel_names),
        "tables": tables,
    }
