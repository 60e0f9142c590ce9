"""Short CPU trainings of the GAN families of issue 9, with loss behaviour and KID.

    KERAS_BACKEND=tensorflow python benchmarks/gan_families.py --data /tmp/bbbc039_shards \
        --data-a SYNTHETIC_SHARDS --steps 200 --out runs/families

dcgan, wgan-gp, cgan and bigan learn crops of --data (the label is ignored, except by cgan
for its density class); cyclegan translates --data-a (synthetic raw) -> --data (real raw).
KID is computed on raw pixels downsampled to 8x8 (64-D features; `pixels_8x8`), between
held-out real crops and generated ones: a crude, Inception-free figure, comparable only
between these runs. The cgan check samples each class and measures the foreground fraction
of the samples with an intensity threshold taken from real labelled crops.
"""

import argparse
import json
import logging
import time
from pathlib import Path

import keras
import numpy as np

from cig_k3.config import config_from_preset
from cig_k3.data import BatchStream
from cig_k3.evaluation.distances import kid
from cig_k3.training import train

FAMILIES = ("dcgan", "wgan-gp", "cgan", "bigan", "cyclegan")


def pixel_features(images, size=8):
    images = np.asarray(images, np.float32)
    n, h, w, c = images.shape
    pooled = images.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))
    return pooled.reshape(n, -1)


def real_crops(shards, crop, count, split="val", seed=0):
    stream = BatchStream(shards, split=split, batch_size=16, crop=crop, seed=seed, training=True,
                         steps_per_epoch=(count + 15) // 16)
    labels, images = [], []
    for condition, target in stream.epoch(0):
        labels.append(condition)
        images.append(target)
    return np.concatenate(labels)[:count], np.concatenate(images)[:count]


def overrides(name, args):
    widths = {"base_filters": args.width}
    values = {
        "data": {"shards": args.data, "crop": args.crop, "batch_size": args.batch_size, "validation_batches": 2},
        "model": {"generator_args": {"latent_dim": 64, **widths}, "discriminator_args": dict(widths)},
        "epochs": args.epochs, "steps_per_epoch": args.steps // args.epochs,
        "out": str(Path(args.out) / name), "verbose": 0, "jit": "auto",
    }
    if name == "wgan-gp":
        values["model"]["discriminator_args"]["norm"] = "layer"
    if name == "cyclegan":
        values["data"].update({"shards": args.data_a, "shards_b": args.data, "batch_size": 4})
        values["model"] = {"generator_args": {"base_filters": 16, "depth": 5, "max_filters": 128, "dropout_layers": 0,
                                              "norm": "instance"},
                           "discriminator_args": {"base_filters": args.width, "num_downsamples": 3}}
    return values


def run(name, args, reals):
    config = config_from_preset(name, overrides(name, args))
    start = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - start
    gan_path = Path(config.out) / "gan.keras"
    from cig_k3.models import CUSTOM_OBJECTS
    from cig_k3.training.gans import GAN_CUSTOM_OBJECTS

    gan = keras.saving.load_model(gan_path, custom_objects={**CUSTOM_OBJECTS, **GAN_CUSTOM_OBJECTS}, compile=False)
    labels, images = reals
    report = {"seconds": round(seconds, 1), "steps": result.steps_done,
              "history": [{k: round(v, 4) for k, v in h.items()} for h in json.loads((Path(config.out) / "history.json").read_text())]}
    if name == "cyclegan":
        _, images_a = real_crops(args.data_a, args.crop, len(images))
        fake = np.concatenate([keras.ops.convert_to_numpy(gan.generator(images_a[i:i + 32])) for i in range(0, len(images_a), 32)])
        report["kid_before"] = kid(pixel_features(images), pixel_features(images_a), features="pixels_8x8",
                                   subset_size=min(100, len(images)))
        report["kid"] = kid(pixel_features(images), pixel_features(fake), features="pixels_8x8",
                            subset_size=min(100, len(images)))
        return report
    if name == "cgan":
        fake = np.concatenate([keras.ops.convert_to_numpy(gan.sample(k, len(images) // 3 + 1, seed=k)) for k in range(3)])
        report["classes"] = cgan_check(gan, labels, images)
    else:
        fake = keras.ops.convert_to_numpy(gan.sample(len(images), seed=0))
    report["kid"] = kid(pixel_features(images), pixel_features(fake[:len(images)]), features="pixels_8x8",
                        subset_size=min(100, len(images)))
    return report


def cgan_check(gan, labels, images):
    """Foreground fraction per class: of real crops (from labels and by intensity) and of samples."""
    from cig_k3.training.gans.cgan import density_class

    foreground = labels[..., 0] < 0.5
    threshold = 0.5 * (images[..., 0][foreground].mean() + images[..., 0][~foreground].mean())
    classes = keras.ops.convert_to_numpy(density_class(labels, gan.class_thresholds))
    rows = []
    for k in range(gan.num_classes):
        samples = keras.ops.convert_to_numpy(gan.sample(k, 64, seed=100 + k))
        chosen = classes == k
        rows.append({
            "class": k, "real_count": int(chosen.sum()),
            "real_label_fraction": round(float(foreground[chosen].mean()), 3) if chosen.any() else None,
            "real_intensity_fraction": round(float((images[chosen, ..., 0] > threshold).mean()), 3) if chosen.any() else None,
            "sample_intensity_fraction": round(float((samples[..., 0] > threshold).mean()), 3),
        })
    return {"thresholds": gan.class_thresholds, "intensity_threshold": round(float(threshold), 3), "per_class": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-a", required=True)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--real", type=int, default=256, help="held-out real crops for KID")
    parser.add_argument("--out", default="runs/families")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    reals = real_crops(args.data, args.crop, args.real)
    results = {}
    for name in args.families:
        results[name] = run(name, args, reals)
        print(json.dumps({name: results[name]}), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
