"""Evaluation of generated cell images.

- `metrics`: paired MAE / PSNR / SSIM / Pearson (keras.ops for training, NumPy tables for
  reports): `evaluate_paired(real, fake)`.
- `distances`: FID and KID on features: `fid_kid(features_real, features_fake, name)`.
- `features`: judge-encoder (mask fidelity) and Inception extractors.
- `inception`: standard FID / KID on the 2015 Inception-v3 FID network (TorchScript):
  `inception_fid_kid(real, fake, tile_size=128)`.
- `segmentation`: Dice / IoU, object matching (F1, AP at IoU 0.5), and
  `mask_consistency(judge, masks, real_images, fake_images)`.
- `uncertainty`: per-pixel spread of K samples per condition.
- `judge`: the U-Net segmenter that scores mask consistency.
- `report`: PNG figures and a self-contained report.html.

Images everywhere are NHWC floats in [-1, 1]; metrics map them to [0, 1] (data range 1).

The names below are imported from their modules on first use, so that importing the
package (for instance for the NumPy-only segmentation metrics) does not load Keras.
"""

import importlib

_EXPORTS = {
    "metrics": ("mae", "psnr", "ssim", "pearson", "paired_metrics", "summarize_paired",
                "evaluate_paired"),
    "distances": ("fid", "kid", "fid_kid", "frechet_distance", "mmd2_unbiased"),
    "features": ("FeatureExtractor", "inception_extractor", "encoder_extractor"),
    "inception": ("InceptionFeatures", "InceptionUnavailable", "inception_fid_kid", "tile_images"),
    "segmentation": ("dice_iou", "foreground_dice_iou", "match_instances",
                     "match_instances_dataset", "instances_from_semantic3",
                     "mask_consistency"),
    "uncertainty": ("sample_statistics", "uncertainty_summary", "uncertainty_dataset"),
    "judge": ("build_segmenter", "train_judge", "load_judge", "segment", "judge_encoder"),
    "report": ("write_report",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
    return getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
