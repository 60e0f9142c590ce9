"""Mask consistency metrics on label images (NumPy, SciPy, scikit-image).

- pixel level: Dice and IoU per class (semantic masks) or of the foreground (binary);
- object level: true and predicted instances matched one-to-one by IoU, giving TP, FP, FN,
  F1 and AP at an IoU threshold (0.5 by default).

AP here is the definition of the cell-segmentation literature, TP / (TP + FP + FN)
(Caicedo et al. 2019, "Evaluation of deep learning strategies for nucleus segmentation in
fluorescence images", Cytometry A; used as "average precision" by Cellpose and as
"accuracy" by StarDist). It is not the area under a precision-recall curve.

Matching: the IoU matrix is built from a contingency table and solved with the Hungarian
algorithm (scipy.optimize.linear_sum_assignment), maximising first the number of pairs with
IoU >= threshold and then their total IoU. At thresholds >= 0.5 a pair above the threshold is
unique anyway, so this equals the greedy unique match.

`instances_from_semantic3` turns a background / interior / boundary prediction into
instances; `mask_consistency` runs a judge segmenter on real and generated images and
scores both against the masks the images were generated from.
"""

import numpy as np

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def _as_label_image(labels, name):
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != bool:
        rounded = np.rint(labels)
        if not np.array_equal(rounded, labels):
            raise ValueError(f"{name} must hold integer labels; got non-integer values")
        labels = rounded
    return labels.astype(np.int64)


def dice_iou(true, pred, num_classes=None):
    """Per-class Dice and IoU of two semantic label images (any shape, same shape).

    Args:
        true, pred: integer class maps.
        num_classes: classes 0..num_classes-1; default max label + 1.

    Returns:
        {"dice": (num_classes,), "iou": (num_classes,)}. A class absent from both images
        gets NaN (nothing to agree on); average with np.nanmean.
    """
    true = _as_label_image(true, "true")
    pred = _as_label_image(pred, "pred")
    if true.shape != pred.shape:
        raise ValueError(f"true is {true.shape} but pred is {pred.shape}: they must match")
    if num_classes is None:
        num_classes = int(max(true.max(initial=0), pred.max(initial=0))) + 1
    classes = np.arange(num_classes).reshape(-1, *([1] * true.ndim))
    true_hot, pred_hot = true[None] == classes, pred[None] == classes
    axes = tuple(range(1, true.ndim + 1))
    intersection = np.logical_and(true_hot, pred_hot).sum(axis=axes).astype(np.float64)
    true_area = true_hot.sum(axis=axes).astype(np.float64)
    pred_area = pred_hot.sum(axis=axes).astype(np.float64)
    union = true_area + pred_area - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(union > 0, 2.0 * intersection / (true_area + pred_area), np.nan)
        iou = np.where(union > 0, intersection / union, np.nan)
    return {"dice": dice, "iou": iou}


def foreground_dice_iou(true, pred):
    """Dice and IoU of the foreground (label > 0) of two label images; NaN if both empty."""
    true = np.asarray(true) > 0
    pred = np.asarray(pred) > 0
    scores = dice_iou(true.astype(np.int64), pred.astype(np.int64), num_classes=2)
    return {"dice": float(scores["dice"][1]), "iou": float(scores["iou"][1])}


def iou_matrix(true_labels, pred_labels):
    """IoU between every true object (rows) and every predicted object (columns).

    Objects are the distinct non-zero labels, in increasing order; 0 is background.

    Returns:
        (iou, true_ids, pred_ids)
    """
    true_labels = _as_label_image(true_labels, "true_labels")
    pred_labels = _as_label_image(pred_labels, "pred_labels")
    if true_labels.shape != pred_labels.shape:
        raise ValueError(
            f"true_labels is {true_labels.shape} but pred_labels is {pred_labels.shape}"
        )
    true_ids, true_index = np.unique(true_labels, return_inverse=True)
    pred_ids, pred_index = np.unique(pred_labels, return_inverse=True)
    # Contingency table of (true label, predicted label) pixel counts.
    counts = np.bincount(
        true_index.ravel() * len(pred_ids) + pred_index.ravel(),
        minlength=len(true_ids) * len(pred_ids),
    ).reshape(len(true_ids), len(pred_ids))
    true_area = counts.sum(axis=1, keepdims=True)
    pred_area = counts.sum(axis=0, keepdims=True)
    union = true_area + pred_area - counts
    iou = counts / np.maximum(union, 1)
    true_keep, pred_keep = true_ids != 0, pred_ids != 0
    return iou[true_keep][:, pred_keep], true_ids[true_keep], pred_ids[pred_keep]


def match_instances(true_labels, pred_labels, iou_threshold=0.5):
    """Object-level scores of one predicted instance image against the true one.

    Returns:
        {"tp", "fp", "fn", "n_true", "n_pred", "precision", "recall", "f1", "ap",
         "mean_matched_iou", "iou_threshold"}, with ap = TP / (TP + FP + FN). Ratios with
        a zero denominator (no objects at all) are NaN.
    """
    from scipy.optimize import linear_sum_assignment

    iou, true_ids, pred_ids = iou_matrix(true_labels, pred_labels)
    matched_iou = np.zeros(0)
    if iou.size:
        valid = iou >= iou_threshold
        # Any extra match outweighs any IoU gain, so the number of matches comes first.
        bonus = min(iou.shape) + 1.0
        rows, cols = linear_sum_assignment(np.where(valid, bonus + iou, 0.0), maximize=True)
        keep = valid[rows, cols]
        matched_iou = iou[rows[keep], cols[keep]]
    return _scores(len(matched_iou), len(true_ids), len(pred_ids), matched_iou.sum(),
                   iou_threshold)


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator > 0 else float("nan")


def _scores(tp, n_true, n_pred, matched_iou_sum, iou_threshold):
    fp, fn = n_pred - tp, n_true - tp
    return {
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "n_true": int(n_true),
        "n_pred": int(n_pred),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "ap": _ratio(tp, tp + fp + fn),
        "mean_matched_iou": _ratio(matched_iou_sum, tp),
        "iou_threshold": float(iou_threshold),
    }


def match_instances_dataset(true_list, pred_list, iou_threshold=0.5):
    """Object-level scores over a data set: counts summed over images, then the ratios.

    Returns the keys of `match_instances` for the whole set, plus "per_image": the list of
    per-image results.
    """
    if len(true_list) != len(pred_list):
        raise ValueError(f"{len(true_list)} true label images but {len(pred_list)} predictions")
    per_image = [
        match_instances(true, pred, iou_threshold) for true, pred in zip(true_list, pred_list)
    ]
    tp = sum(item["tp"] for item in per_image)
    iou_sum = sum(item["mean_matched_iou"] * item["tp"] for item in per_image if item["tp"])
    result = _scores(
        tp,
        sum(item["n_true"] for item in per_image),
        sum(item["n_pred"] for item in per_image),
        iou_sum,
        iou_threshold,
    )
    result["per_image"] = per_image
    return result


def instances_from_semantic3(pred, interior=INTERIOR, boundary=BOUNDARY, min_size=0):
    """Instances from a background / interior / boundary map.

    Connected components (4-connectivity) of the interior are the seeds; each grows into
    the adjoining boundary pixels by a watershed on the distance to the seeds, restricted to
    interior + boundary. Boundary pixels that touch no seed stay background.

    Args:
        pred: (H, W) class map, or (H, W, num_classes) scores (argmax is taken).
        min_size: seeds with fewer interior pixels are dropped first.

    Returns:
        (H, W) int32 instance labels 1..n, 0 background.
    """
    from scipy import ndimage
    from skimage.measure import label
    from skimage.segmentation import relabel_sequential, watershed

    pred = np.asarray(pred)
    if pred.ndim == 3:
        pred = np.argmax(pred, axis=-1)
    if pred.ndim != 2:
        raise ValueError(f"expected an (H, W) class map or (H, W, C) scores; got {pred.shape}")
    seeds = label(pred == interior, connectivity=1)
    if min_size > 0:
        # By hand: remove_small_objects changed its argument in scikit-image 0.26.
        sizes = np.bincount(seeds.ravel())
        seeds[sizes[seeds] < min_size] = 0
    foreground = (pred == interior) | (pred == boundary)
    distance = ndimage.distance_transform_edt(seeds == 0)
    instances = watershed(distance, markers=seeds, mask=foreground, connectivity=1)
    return relabel_sequential(instances)[0].astype(np.int32)


def _class_maps(masks, name):
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] > 1:
        return np.argmax(masks, axis=-1)  # one-hot or scores, as the data stream yields them
    if masks.ndim == 4:
        masks = masks[..., 0]
    if masks.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W) class maps or (N, H, W, C) one-hot")
    return _as_label_image(masks, name)


def _consistency_scores(true_classes, pred_classes, true_instances, num_classes, iou_threshold):
    per_class = [dice_iou(t, p, num_classes) for t, p in zip(true_classes, pred_classes)]
    foreground = [foreground_dice_iou(t, p) for t, p in zip(true_classes, pred_classes)]
    pred_instances = [instances_from_semantic3(p) for p in pred_classes]
    objects = match_instances_dataset(true_instances, pred_instances, iou_threshold)
    scores = {
        "dice_foreground": float(np.nanmean([item["dice"] for item in foreground])),
        "iou_foreground": float(np.nanmean([item["iou"] for item in foreground])),
    }
    dice = np.array([item["dice"] for item in per_class])
    iou = np.array([item["iou"] for item in per_class])
    with np.errstate(invalid="ignore"):
        for index in range(num_classes):
            scores[f"dice_class{index}"] = _nanmean_or_nan(dice[:, index])
            scores[f"iou_class{index}"] = _nanmean_or_nan(iou[:, index])
    threshold = int(round(iou_threshold * 100))
    for key in ("tp", "fp", "fn", "f1", "ap", "precision", "recall", "mean_matched_iou"):
        scores[f"{key}_{threshold}"] = objects[key]
    return scores


def _nanmean_or_nan(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def mask_consistency(judge, masks, real_images, fake_images, instance_masks=None,
                     iou_threshold=0.5, batch_size=16):
    """How well a judge segmenter recovers the masks from real and from generated images.

    A good generator gives scores on `fake` close to those on `real` (the judge's own
    error sets the ceiling).

    Args:
        judge: a segmenter from `cig_k3.evaluation.judge` (softmax over classes).
        masks: (N, H, W) semantic class maps (0 background, 1 interior, 2 boundary) or the
            (N, H, W, C) one-hot conditions.
        real_images, fake_images: (N, H, W, C) in [-1, 1].
        instance_masks: optional (N, H, W) true instance labels; by default they are
            derived from `masks` with `instances_from_semantic3`.

    Returns:
        {"n_images": N, "real": scores, "fake": scores}, scores holding dice/iou of the
        foreground and per class, and tp/fp/fn/f1/ap at the IoU threshold (e.g. "f1_50").
    """
    from cig_k3.evaluation.judge import segment

    true_classes = _class_maps(masks, "masks")
    num_classes = int(judge.output_shape[-1])
    if instance_masks is None:
        true_instances = [instances_from_semantic3(item) for item in true_classes]
    else:
        true_instances = list(_as_label_image(instance_masks, "instance_masks"))
    result = {"n_images": int(true_classes.shape[0])}
    for name, images in (("real", real_images), ("fake", fake_images)):
        images = np.asarray(images)
        if images.shape[:3] != true_classes.shape:
            raise ValueError(
                f"{name}_images are {images.shape[:3]} but masks are {true_classes.shape}: "
                f"one image per mask, same height and width"
            )
        pred_classes = segment(judge, images, batch_size=batch_size)
        result[name] = _consistency_scores(
            true_classes, pred_classes, true_instances, num_classes, iou_threshold
        )
    return result
