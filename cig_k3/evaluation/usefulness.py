"""Train on synthetic, test on real: does a generator's output help a segmentation model?

For the train split's masks, the generator draws images as `cig generate` draws them, every
noise source on (one draw, not the noise-free mean image: a generator whose grain comes from
its camera noise draws smooth mean images, and a segmenter trained on those meets real grain
only at test). Three segmenters of the same
architecture and budget (the judge U-Net) are trained: on real pairs, on synthetic pairs
alone, and on real plus synthetic; each is tested on the real test split with foreground
Dice and object AP at IoU 0.5. The headline is synthetic / real.

One draw of the synthetic set is a noisy figure: on BBBC039 (300 segmenter steps, 8 test
batches) three draws of one generator gave AP@0.5 ratios 0.707, 1.02 and 1.02
(benchmarks/RESULTS.md, issue 14). With `draws` > 1 the synthetic segmenters are trained once
per draw, the generator's noise layers reseeded for each (`reseed_dropout(generator, draw)`),
and each ratio is the median over the draws, beside the list of them.
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


def train_on_synthetic(generator, shards, crop, steps=300, batch_size=8, max_test_images=64, seed=0, draws=1):
    """Segmenters trained on real, synthetic and real+synthetic pairs, scored on real test.

    Returns {"real" | "synthetic" | "real_plus_synthetic": scores (the synthetic ones of the
    first draw), "<name>_draws": [scores per draw], "<name>_<dice_foreground|ap_50>_ratio": the
    median over the draws of score / real, "<name>_<key>_ratios": [one per draw], "steps",
    "draws"}."""
    from cig_k3.data import BatchStream
    from cig_k3.evaluation.judge import train_judge
    from cig_k3.inference.generate import reseed_dropout

    if int(draws) < 1:
        raise ValueError(f"train_on_synthetic: draws={draws} must be at least 1")

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
        runs, count = [], 1 if name == "real" else int(draws)
        for draw in range(count):
            if count > 1:
                reseed_dropout(generator, draw)  # another draw of the synthetic set
            log.info("training a segmenter on %s pairs (%d steps, draw %d)", name, steps, draw)
            runs.append(_score(train_judge(batches(), steps=steps, epochs=1, seed=seed, verbose=0), test))
        results[name] = runs[0]
        if name != "real":
            results[f"{name}_draws"] = runs
    real = results["real"]
    for name in ("synthetic", "real_plus_synthetic"):
        for key in ("dice_foreground", "ap_50"):
            ratios = [run[key] / real[key] if real[key] else float("nan") for run in results[f"{name}_draws"]]
            results[f"{name}_{key}_ratios"] = ratios
            results[f"{name}_{key}_ratio"] = float(np.median(ratios))
    results["steps"], results["draws"] = steps, int(draws)
    return results
