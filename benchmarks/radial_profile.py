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
    sets = {"real test": radial_profiles(reference.images, reference.instances, args.depth)}
    for name, key in (("floor: real train", "floor"), ("flat-mask baseline", "flat")):
        sets[name] = radial_profiles(floor_and_flat[key].images, floor_and_flat[key].instances, args.depth)
    for name, run in runs:
        model = load_generator(run)
        if not getattr(model, "takes_instances", False):
            raise SystemExit(f"--run {name}={run}: not an instance generator")
        crop = json.loads((run / "config.json").read_text())["data"]["crop"]
        sets[name] = radial_profiles(draw(model, reference, None, max(crop, 128)), reference.instances, args.depth)
    print(f"\n| set | nuclei | wiggle | mean profile at 1..{args.depth} px from the edge (nucleus std) |\n"
          "|---|---|---|---|")
    for name, profiles in sets.items():
        mean = " ".join(f"{value:+.2f}" for value in profiles.mean(axis=0)) if len(profiles) else ""
        print(f"| {name} | {len(profiles)} | {wiggle(profiles):.3f} | {mean} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
