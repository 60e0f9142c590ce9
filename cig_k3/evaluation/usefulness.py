"""Train on synthetic, test on real: does a generator's output help a segmentation model?

For the train split's masks, the generator draws images as `cig generate` draws them, every
noise source on (one draw, not the noise-free mean image: a generator whose grain comes from
its camera noise draws smooth mean images, and a segmenter trained on those meets real grain
only at test). Three segmenters of the same
architecture and budget (the judge U-Net) are trained: on real pairs, on synthetic pairs
alone, and on real plus synthetic; each is tested on the real test split with foreground
Dice and object AP at IoU 0.5. The headline is synthetic / real.
"""

import itertools
import logging

import numpy as np

log = logging.getLogger(__name__)


def _synthetic(batches, generator):
    """(condition, a draw for it) per batch, noise on; per-instance features drawn with a new
    seed for every image."""
    import keras

    from cig_k3.evaluation.conditioning import generator_inputs
    from cig_k3.layers import sampling

    drawn_images = 0
    for condition, target, *rest in batches:
        inputs = generator_inputs(generator, condition, target, seed=drawn_images)
        with sampling(generator):
            drawn = generator(inputs, training=False)
        drawn_images += len(condition)
        yield condition, keras.ops.convert_to_numpy(drawn)


def _alternate(first, second):
    for a, b in zip(first, second):
        yield a
        yield b


def _score(segmenter, test_batches):
    from cig_k3.evaluation.judge import segment
    from cig_k3.evaluation.segmentation import (
        foreground_dice_iou, instances_from_semantic3, match_instances_dataset,
    )

    true_classes, pred_classes, true_instances = [], [], []
    for condition, target, *rest in test_batches:
        true_classes.extend(np.argmax(condition, axis=-1))
        pred_classes.extend(segment(segmenter, target))
        if rest:
            true_instances.extend(rest[0])
    if not true_instances:
        true_instances = [instances_from_semantic3(c) for c in true_classes]
    dice = float(np.nanmean([foreground_dice_iou(t, p)["dice"] for t, p in zip(true_classes, pred_classes)]))
    objects = match_instances_dataset(true_instances, [instances_from_semantic3(p) for p in pred_classes], 0.5)
    return {"dice_foreground": dice, "ap_50": float(objects["ap"]), "n_test": len(true_classes)}


def train_on_synthetic(generator, shards, crop, steps=300, batch_size=8, max_test_images=64, seed=0):
    """Segmenters trained on real, synthetic and real+synthetic pairs, scored on real test."""
    from cig_k3.data import BatchStream
    from cig_k3.evaluation.judge import train_judge

    def stream(split, **kwargs):
        kwargs.setdefault("seed", seed)
        return BatchStream(shards, split=split, batch_size=batch_size, crop=crop, **kwargs)

    test_stream = stream("test", augment=None, with_instances=True)
    test = list(itertools.islice(test_stream.epoch(0), max(1, max_test_images // batch_size)))
    results = {}
    sources = {
        "real": lambda: stream("train", steps_per_epoch=steps).forever(),
        "synthetic": lambda: _synthetic(stream("train", steps_per_epoch=steps).forever(), generator),
        "real_plus_synthetic": lambda: _alternate(
            stream("train", steps_per_epoch=steps).forever(),
            _synthetic(stream("train", steps_per_epoch=steps, seed=seed + 1).forever(), generator),
        ),
    }
    for name, batches in sources.items():
        log.info("training a segmenter on %s pairs (%d steps)", name, steps)
        segmenter = train_judge(batches(), steps=steps, epochs=1, seed=seed, verbose=0)
        results[name] = _score(segmenter, test)
    real = results["real"]
    for name in ("synthetic", "real_plus_synthetic"):
        for key in ("dice_foreground", "ap_50"):
            results[f"{name}_{key}_ratio"] = results[name][key] / real[key] if real[key] else float("nan")
    results["steps"] = steps
    return results
