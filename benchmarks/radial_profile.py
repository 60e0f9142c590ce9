"""Rings inside drawn nuclei: each nucleus's intensity against its distance from the edge.

Some trainings of the default preset draw nuclei as concentric rings, a bright band inside
the edge around a darker core (seed 3 of the twenty-fourth session, FID 44 against 20-24 for
other seeds; its gallery shows them). Real nuclei brighten from the edge inwards and level
off. For every nucleus at least `--depth` + 1 px deep, this measures the mean intensity of
each one-pixel band of distance from its edge (1, 2, ... `--depth` px; scipy's exact
Euclidean distance transform), less the nucleus's mean, over its standard deviation. It
prints, per set (the real test fields and each run's draws of their masks, drawn as `cig
evaluate` draws), the mean profile and its "wiggle": the mean absolute second difference of
each nucleus's profile, in nucleus standard deviations, which rings raise; with the floor
(as many real train fields) and the flat-mask baseline beside them, as `realism_suite` makes
them (on BBBC039: real test 0.128, floor 0.119, flat 0.192).

Beside it, the "texture gap": how far each set's texture statistics lie from the real test
fields', inside the nuclei and over the background. They are the Gram matrices of a fixed
random network's rectified filters over 3 to 18 px (the texture descriptor of Gatys et al.
2015, with random filters as Ustyuzhaninov et al. 2017 found enough; nothing trained can be
loaded here), pooled over all fields, and the gap is their relative L1, averaged over layers
(BBBC039: floor 0.088 / 0.119, flat-mask baseline 0.922 / 0.578). The profile sees only
what changes with the distance from the edge; the gap also sees the chromatin's blobs and
grain, which a flat painting lacks. Neither ranks runs as C2ST does (RESULTS.md, twenty-fifth
session): each names one gap among several.

    python benchmarks/radial_profile.py --shards data/bbbc039 \
        --run s3=runs/quality_ctrl_s3/realistic-instance_bbbc039 --run s4=runs/quality_ctrl_s4/realistic-instance_bbbc039
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def radial_profiles(images, instances, depth=14, channel=0):
    """(n, depth) profiles of the n nuclei of `images` (H, W, C) / `instances` (H, W) that are
    deeper than `depth` px: row i, column k the mean intensity of nucleus i at a distance in
    (k, k + 1] px from its edge, less its mean, over its standard deviation."""
    rows = []
    for image, ids in zip(images, instances):
        plane = np.asarray(image, np.float64)[..., channel]
        # Each nucleus's distance transform over its own box, one pixel wider (its edge), not the field.
        for index, box in enumerate(ndimage.find_objects(np.asarray(ids)), start=1):
            if box is None:
                continue
            box = tuple(slice(max(part.start - 1, 0), part.stop + 1) for part in box)
            inside = ids[box] == index
            distance = ndimage.distance_transform_edt(inside)
            if distance.max() <= depth:
                continue
            values = plane[box][inside]
            scale = values.std() or 1.0
            rows.append([(plane[box][(distance > k) & (distance <= k + 1)].mean() - values.mean()) / scale
                         for k in range(depth)])
    return np.asarray(rows, np.float64).reshape(-1, depth)


def wiggle(profiles):
    """The mean over nuclei of the mean absolute second difference of each profile."""
    if len(profiles) == 0:
        return float("nan")
    return float(np.abs(np.diff(profiles, n=2, axis=1)).mean())


def random_filters(channels=1, widths=(32, 64, 64), size=3, seed=0):
    """Fixed random conv kernels, one per layer, (size, size, in, out): He-normal, each
    filter's mean over its taps removed, so that a flat region gives no response and the
    statistics see structure, not brightness."""
    rng = np.random.default_rng(seed)
    kernels, inputs = [], int(channels)
    for width in widths:
        kernel = rng.normal(0.0, np.sqrt(2.0 / (size * size * inputs)), (size, size, inputs, int(width)))
        kernels.append((kernel - kernel.mean(axis=(0, 1, 2), keepdims=True)).astype(np.float32))
        inputs = int(width)
    return kernels


def gram_sums(image, mask, kernels):
    """Per layer, (the sum of the outer products of the rectified random features of `image`
    (H, W, C) over the positions whose receptive field lies wholly inside `mask` (H, W), their
    number). Layers are 2x average-pooled between them: receptive fields of 3, 8 and 18 px."""
    from keras import ops

    features = ops.convert_to_tensor(np.asarray(image, np.float32)[None])
    inside = ops.convert_to_tensor(np.asarray(mask, np.float32)[None, ..., None])
    sums = []
    for index, kernel in enumerate(kernels):
        if index:
            features = ops.average_pool(features, 2, strides=2, padding="valid")
            inside = 1.0 - ops.max_pool(1.0 - inside, 2, strides=2, padding="valid")
        features = ops.relu(ops.conv(features, ops.convert_to_tensor(kernel), padding="valid"))
        inside = 1.0 - ops.max_pool(1.0 - inside, kernel.shape[0], strides=1, padding="valid")
        total = ops.einsum("nhwc,nhwd->cd", features * inside, features)
        sums.append((ops.convert_to_numpy(total), float(ops.convert_to_numpy(ops.sum(inside)))))
    return sums


def field_grams(images, instances, region):
    """Per layer, the Gram matrix of the random features over all the fields (each (H, W, C),
    ids (H, W)) together, inside the nuclei ("nuclei") or over the background ("background")."""
    kernels = random_filters(np.asarray(images[0]).shape[-1])
    totals, counts = [0.0] * len(kernels), [0.0] * len(kernels)
    for image, ids in zip(images, instances):
        inside = np.asarray(ids) > 0
        for layer, (total, count) in enumerate(gram_sums(image, inside if region == "nuclei" else ~inside, kernels)):
            totals[layer], counts[layer] = totals[layer] + total, counts[layer] + count
    return [total / max(count, 1.0) for total, count in zip(totals, counts)]


def texture_gap(real, images, instances):
    """{region: the mean over layers of sum |G_real - G| / sum |G_real|}, from `real` =
    {region: `field_grams` of the real fields} and the Gram matrices of `images`."""
    gaps = {}
    for region, grams in real.items():
        drawn = field_grams(images, instances, region)
        gaps[region] = float(np.mean([np.abs(r - g).sum() / (np.abs(r).sum() + 1e-12) for r, g in zip(grams, drawn)]))
    return gaps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True)
    parser.add_argument("--run", action="append", default=[], metavar="NAME=RUN",
                        help="a run folder of an instance generator, named (repeat)")
    parser.add_argument("--depth", type=int, default=14, help="bands of 1 px from the edge inwards")
    args = parser.parse_args(argv)
    runs = []
    for text in args.run:
        name, _, run = text.partition("=")
        if not name or not run:
            raise SystemExit(f"--run {text!r}: give NAME=RUN")
        if not (Path(run) / "config.json").is_file():
            raise SystemExit(f"--run {text!r}: {run} holds no config.json (not a cig train run)")
        runs.append((name, Path(run)))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from instance_features import draw

    from cig_k3.evaluation.realism import baselines, load_fields
    from cig_k3.export import load_generator

    reference = load_fields(args.shards, "test")
    train = load_fields(args.shards, "train", with_conditions=False)
    floor_and_flat = baselines(reference, train)  # as realism_suite's: as many train fields, the mask painted flat
    sets = {"real test": (reference.images, reference.instances)}
    for name, key in (("floor: real train", "floor"), ("flat-mask baseline", "flat")):
        sets[name] = (floor_and_flat[key].images, floor_and_flat[key].instances)
    for name, run in runs:
        model = load_generator(run)
        if not getattr(model, "takes_instances", False):
            raise SystemExit(f"--run {name}={run}: not an instance generator")
        crop = json.loads((run / "config.json").read_text())["data"]["crop"]
        sets[name] = (draw(model, reference, None, max(crop, 128)), reference.instances)
    real = {region: field_grams(reference.images, reference.instances, region) for region in ("nuclei", "background")}
    print(f"\n| set | nuclei | wiggle | texture gap, nuclei / background | mean profile at 1..{args.depth} px from "
          "the edge (nucleus std) |\n|---|---|---|---|---|")
    for name, (images, instances) in sets.items():
        profiles = radial_profiles(images, instances, args.depth)
        # The real fields' statistics are `real` itself: their gap is 0 without a second pass.
        gap = dict.fromkeys(real, 0.0) if images is reference.images else texture_gap(real, images, instances)
        mean = " ".join(f"{value:+.2f}" for value in profiles.mean(axis=0)) if len(profiles) else ""
        print(f"| {name} | {len(profiles)} | {wiggle(profiles):.3f} | {gap['nuclei']:.3f} / {gap['background']:.3f} "
              f"| {mean} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
