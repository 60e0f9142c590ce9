"""How an instance generator's per-nucleus features should be drawn: clusters or real fields.

An `InstanceUNetGenerator` (the `realistic-instance` preset) paints each nucleus's features
(its intensity mean and standard deviation, and with the texture encoder its texture
strength; as the generator's own encoder reads them) over it before the U-Net draws.
Without a real image they are drawn; this scores the same trained generator, the same test masks and the same noise, with
the features drawn four ways:

- `clusters`: each nucleus one of the k-means centres, as often as its cluster (what `cig
  generate` and `cig evaluate` do);
- `train nuclei`: each nucleus the features of a random train nucleus (the whole empirical
  distribution, no clustering);
- `train field`: each field picks a random train field, and each of its nuclei the features
  of one of that field's nuclei (exposure and staining shared within a field, as in real
  ones);
- `own (oracle)`: each test nucleus its own real features, the upper bound of any draw.

Each set is scored with Inception FID and the logistic C2ST against the real test fields,
next to the floor (real train vs test) and the flat-mask baseline, and with the spread of
the nuclei's mean intensity within a field and between fields.

    python benchmarks/instance_features.py --run runs/quality_shot/realistic-instance_bbbc039 \
        --shards data/bbbc039 --out benchmarks/gallery/instance_features_bbbc039.png

`--fields-run OUT` also writes a copy of the run whose generator draws with `feature_draw:
fields` (the same weights, the bank filled from the train split as `cig train` fills it), for
`cig evaluate` or `benchmarks/quality.py --reuse-runs`: the draw is an inference choice, so
a run trained with either draw gives both.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

BANK = ("feature_bank", "bank_counts")


def nucleus_statistics(image, instances):
    """(ids, (n, 2) mean and standard deviation of `image` (H, W, 1) over each instance), as
    the intensity encoder sees them (`instance_means` of the image and its square)."""
    from cig_k3.models.instance_encoder import intensity_statistics
    from cig_k3.training.instance_clusters import instance_means

    image = np.asarray(image, np.float64)[..., :1]
    ids = np.unique(instances[instances > 0])
    return ids, intensity_statistics(instance_means(np.concatenate([image, image ** 2], axis=-1), instances))


def nucleus_features(model, image, instances):
    """(ids, (n, feature_dim) features of each instance of `image` (H, W, C)) as `model`'s own
    encoder gives them when it trains and fits its clusters: mean and std for the intensity
    encoder, and the texture's RMS too for the texture one."""
    import keras

    from cig_k3.training.instance_clusters import _padded, instance_means

    ids = np.unique(instances[instances > 0])
    padded, padded_ids = _padded(np.asarray(image, np.float32), np.asarray(instances), model.encoder.size_multiple)
    feature_map = keras.ops.convert_to_numpy(model.feature_map(padded[None], padded_ids[None], training=False))[0]
    return ids, np.asarray(model.instance_features(instance_means(feature_map, padded_ids)), np.float32)


def field_features(model, fields):
    """[(ids, features)] of every field of `fields` (`nucleus_features`), read once and shared
    by every draw."""
    return [nucleus_features(model, image, ids) for image, ids in zip(fields.images, fields.instances)]


def feature_tables(mode, reference, reference_features, train_features, feature_dim):
    """One (1, max id + 1, feature_dim) table per reference field drawn by `mode`, or None per
    field for "clusters" (the generator's own draw), from `field_features` of the reference
    and the train fields."""
    rng = np.random.default_rng(0)
    if mode == "clusters":
        return [None] * len(reference)
    per_field = [features for _, features in train_features if len(features)]
    pooled = np.concatenate(per_field)
    tables = []
    for instances, (ids, own) in zip(reference.instances, reference_features):
        table = np.zeros((1, int(instances.max(initial=0)) + 1, feature_dim), np.float32)
        if mode == "own (oracle)":
            table[0, ids] = own
        elif mode == "train nuclei":
            table[0, ids] = pooled[rng.integers(len(pooled), size=len(ids))]
        elif mode == "train field":
            source = per_field[rng.integers(len(per_field))]
            table[0, ids] = source[rng.integers(len(source), size=len(ids))]
        else:
            raise ValueError(mode)
        tables.append(table)
    return tables


def draw(model, reference, tables, tile):
    """Field n drawn as `cig evaluate` draws it (seed n, noise on), with its `tables[n]` (None:
    the generator's own cluster draw, as `cig evaluate`'s)."""
    from cig_k3.inference.instances import generate_with_instances

    tables = [None] * len(reference) if tables is None else tables
    return [generate_with_instances(model, condition, instances, tile, 32, seed=index, sample=True,
                                    features=table)[0]
            for index, (condition, instances, table) in enumerate(zip(reference.conditions, reference.instances,
                                                                      tables))]


def brightness_spread(images, instances):
    """(within-field std, between-field std) of the nuclei's mean intensity."""
    means = [nucleus_statistics(image, ids)[1][:, 0] for image, ids in zip(images, instances)]
    means = [m for m in means if len(m) > 1]
    return float(np.median([m.std() for m in means])), float(np.std([m.mean() for m in means]))


def write_fields_run(run, out, shards):
    """`run`'s generator with feature_draw "fields" (its weights, its clusters and a bank fitted
    on the train split of `shards`) and its config.json, written to `out`."""
    from cig_k3.export import load_generator
    from cig_k3.models import InstanceUNetGenerator
    from cig_k3.training.instance_clusters import fit_instance_clusters

    source = load_generator(run)
    config = source.get_config() | {"feature_draw": "fields"}
    generator = InstanceUNetGenerator.from_config(config)
    # One construction order, so the same order of weights, less the bank's two.
    targets = [weight for weight in generator.weights if weight.path.rsplit("/", 1)[-1] not in BANK]
    for target, variable in zip(targets, source.weights, strict=True):
        if tuple(target.shape) != tuple(variable.shape):
            raise SystemExit(f"{run}: weight {variable.path} {variable.shape} does not match {target.path}")
        target.assign(variable)
    fit_instance_clusters(generator, shards)
    out.mkdir(parents=True, exist_ok=True)
    generator.save(out / "generator.keras")
    run_config = json.loads((run / "config.json").read_text())
    run_config["model"]["generator_args"]["feature_draw"] = "fields"
    (out / "config.json").write_text(json.dumps(run_config, indent=1))
    print(f"wrote {out} (feature_draw: fields)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder of an instance generator")
    parser.add_argument("--shards", required=True)
    parser.add_argument("--out", required=True, help="PNG: real and each draw, three fields")
    parser.add_argument("--modes", nargs="*", default=["clusters", "train nuclei", "train field", "own (oracle)"])
    parser.add_argument("--fields-run", default=None, help="also write the run drawn with feature_draw: fields here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.fields_run:
        write_fields_run(Path(args.run), Path(args.fields_run), args.shards)

    from cig_k3.evaluation.realism import RealismOptions, chosen_fields, load_fields, realism_suite
    from cig_k3.export import load_generator

    run = Path(args.run)
    crop = json.loads((run / "config.json").read_text())["data"]["crop"]
    model = load_generator(run)
    if not getattr(model, "takes_instances", False):
        sys.exit(f"{run}: not an instance generator")
    reference = load_fields(args.shards, "test")
    train_all = load_fields(args.shards, "train", with_conditions=False)
    count = min(len(reference), len(train_all))  # the floor's fields, as realism.load_floor picks them
    train = train_all.subset(chosen_fields(len(train_all), count)) if count < len(train_all) else train_all
    needs_features = any(mode != "clusters" for mode in args.modes)
    reference_features = field_features(model, reference) if needs_features else None
    train_features = field_features(model, train_all) if needs_features else None
    sets = {mode: draw(model, reference, feature_tables(mode, reference, reference_features, train_features,
                                                        model.feature_dim), max(crop, 128))
            for mode in args.modes}
    results = realism_suite(reference, sets, train=train, options=RealismOptions(cnn_steps=0),
                            cache=Path(args.shards) / "realism_cache")
    spreads = {"real test": brightness_spread(reference.images, reference.instances),
               "real train": brightness_spread(train.images, train.instances)}
    spreads.update({mode: brightness_spread(images, reference.instances) for mode, images in sets.items()})
    print(f"\n| {args.run}: features | FID | C2ST logistic | nuclei mean, std within a field | "
          "between fields |\n|---|---|---|---|---|")
    for name, metrics in results["sets"].items():
        if name == "blurred":
            continue
        within, between = spreads.get({"floor": "real train"}.get(name, name), (None, None))
        cells = [f"{within:.3f}", f"{between:.3f}"] if within is not None else ["", ""]
        print(f"| {name} | {metrics['fid_inception']:.1f} | {metrics['c2st_logistic']:.3f} | " + " | ".join(cells) + " |")
    within, between = spreads["real test"]
    print(f"| real test | | | {within:.3f} | {between:.3f} |")
    rows = [[reference.images[i]] + [sets[mode][i] for mode in args.modes] for i in range(3)]
    _common.crop_grid(rows, ["real"] + list(args.modes), args.out, window=160)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
