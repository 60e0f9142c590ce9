"""Does BiGAN still collapse? The bigan preset trained as `gan_families.py` trains it, beside
the settings it collapsed with (no dropout in D, D as fast as G), a constant image and noise.

    KERAS_BACKEND=tensorflow python benchmarks/bigan_collapse.py --data data/bbbc039 --steps 240

For each variant, between held-out real crops (the val split) and samples:
- Inception FID and the logistic C2ST on Inception features (`cig_k3.evaluation`), the
  realism measures of every other table; the floor row is real train crops against the same
  held-out ones. A constant image scores badly on both, as it should;
- KID and FID on raw pixels downsampled to 8x8 (`gan_families.pixel_features`, comparable
  only within this table). Blind to texture, they rate the constant image well;
- the diversity ratio: the mean L1 distance between pairs of samples over that between pairs
  of real crops (0: every sample is one image, the collapse; 1: as varied as real crops).
The constant row is the mean real crop repeated (what a collapsed generator draws at best);
the noise row is Gaussian noise with the real crops' mean and std per pixel. A gallery PNG
(`--out`/gallery.png) shows eight images of every row.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import gan_families  # noqa: E402

# Variants besides the preset: what the bigan preset was before issue 14 (benchmarks/RESULTS.md,
# "GAN families": KID 2.76, failed), and ALI's dropout alone with D as fast as G.
VARIANTS = {
    "preset": {},
    "collapsed": {"dropout": 0.0, "optimizer": {"generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4}},
    "dropout_only": {"dropout": 0.2, "optimizer": {"generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4}},
}


def diversity_ratio(samples, reals, pairs=256, seed=0):
    rng = np.random.default_rng(seed)

    def mean_pair_distance(images):
        first, second = rng.integers(0, len(images), (2, pairs))
        keep = first != second
        return float(np.mean(np.abs(images[first[keep]] - images[second[keep]])))

    return mean_pair_distance(np.asarray(samples)) / mean_pair_distance(np.asarray(reals))


def scores(name, images, reals, inception, real_features, extra=None):
    from cig_k3.evaluation.c2st import c2st_logistic
    from cig_k3.evaluation.distances import fid, fid_kid

    features = gan_families.pixel_features
    measured = fid_kid(features(reals), features(images), features="pixels_8x8", n_subsets=100,
                       subset_size=min(100, len(reals)))
    image_features = inception(images)
    return {"variant": name, "fid_inception": fid(real_features, image_features)["fid"],
            "c2st_logistic": c2st_logistic(real_features, image_features)["accuracy"],
            "fid_pixels_8x8": measured["fid"], "kid_pixels_8x8": measured["kid_mean"],
            "kid_std": measured["kid_std"], "diversity_ratio": diversity_ratio(images, reals), **(extra or {})}


def write_gallery(rows_of_images, path, count=8):
    """One row of `count` images per (name, images) pair, grey in [-1, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(rows_of_images), count, figsize=(1.2 * count, 1.3 * len(rows_of_images)),
                                squeeze=False)
    for row, (name, images) in enumerate(rows_of_images):
        for column in range(count):
            axis = axes[row, column]
            axis.imshow(np.asarray(images[column])[..., 0], cmap="gray", vmin=-1, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=7)
    _common.save_figure(figure, path, dpi=100)


def train_variant(name, args):
    import keras

    from cig_k3.config import config_from_preset
    from cig_k3.models import CUSTOM_OBJECTS
    from cig_k3.training import train
    from cig_k3.training.gans import GAN_CUSTOM_OBJECTS

    values = gan_families.overrides("bigan", args)  # merged into the preset by config_from_preset
    variant = VARIANTS[name]
    if "dropout" in variant:
        values["model"]["discriminator_args"]["dropout"] = variant["dropout"]
    if "optimizer" in variant:
        values["optimizer"] = dict(variant["optimizer"])
    values["out"] = str(Path(args.out) / name)
    values["seed"] = args.seed
    config = config_from_preset("bigan", values)
    train(config)
    gan = keras.saving.load_model(Path(config.out) / "gan.keras", custom_objects={**CUSTOM_OBJECTS,
                                                                                 **GAN_CUSTOM_OBJECTS}, compile=False)
    history = json.loads((Path(config.out) / "history.json").read_text())[-1]
    return gan, {"d_loss": history.get("d_loss"), "val_recon_l1": history.get("val_recon_l1"),
                 "steps": config.epochs * config.steps_per_epoch, "seed": config.seed,
                 "d_lr": config.optimizer.discriminator_learning_rate,
                 "d_dropout": config.model.discriminator_args.get("dropout", 0.0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/bbbc039")
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--real", type=int, default=256, help="held-out real crops")
    parser.add_argument("--seed", type=int, default=0, help="the training runs' seed")
    parser.add_argument("--variants", nargs="+", default=["preset", "collapsed"], choices=sorted(VARIANTS))
    parser.add_argument("--out", default="runs/bigan_collapse")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import keras

    from cig_k3.evaluation.inception import InceptionFeatures

    _, reals = gan_families.real_crops(args.data, args.crop, args.real)
    _, train_reals = gan_families.real_crops(args.data, args.crop, args.real, split="train")
    extractor = InceptionFeatures()
    real_features = extractor(reals)
    rows, pictures = [], [("real (val)", reals)]
    for name in args.variants:
        gan, extra = train_variant(name, args)
        samples = keras.ops.convert_to_numpy(gan.sample(len(reals), seed=0))
        rows.append(scores(f"bigan, {name} settings", samples, reals, extractor, real_features, extra))
        pictures.append((name, samples))
    rows.append(scores("floor: real train crops", train_reals, reals, extractor, real_features))
    constant = np.repeat(reals.mean(axis=0, keepdims=True), len(reals), axis=0)
    rows.append(scores("constant: mean real crop", constant, reals, extractor, real_features))
    noise = np.random.default_rng(0).normal(reals.mean(axis=0), reals.std(axis=0), reals.shape).clip(-1, 1)
    rows.append(scores("noise: real mean and std per pixel", noise.astype("float32"), reals, extractor, real_features))
    pictures += [("constant", constant), ("noise", noise)]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=1))
    write_gallery(pictures, Path(args.out) / "gallery.png")
    columns = ["variant", "seed", "steps", "d_lr", "d_dropout", "d_loss", "val_recon_l1", "fid_inception", "c2st_logistic",
               "fid_pixels_8x8", "kid_pixels_8x8", "kid_std", "diversity_ratio"]
    _common.publish("BiGAN collapse check (issue 14)", _common.table(rows, columns), record=args.record)


if __name__ == "__main__":
    main()
