"""Two ways a generator's draws could be scored unfairly, checked: the tile size they are drawn
in, and their intensity curve.

`cig evaluate` draws each whole test field tile by tile, in tiles the size of the training
crop (128 px for `realistic-instance`), blended over 32 px. If the tiles' borders, or the
blends, left traces, drawing the same fields in larger tiles (or in one piece) would score
better. And if the classifier read the draws' intensity histogram (a half-pixel blur
scores C2ST 0.83 and a gamma of 0.9 0.72, `c2st_sensitivity.py`), remapping each draw's
intensities to its real twin's would move it toward the floor. Each set is scored as
`c2st_sensitivity.py` scores its changes (the real test fields' 128-px tiles, cached
Inception features, FID and the logistic C2ST cross-validated by field):

- "tile T": the same masks, features and noise drawn in T-px tiles (768: one piece);
- "twin histogram": each draw (the first tile size's) mapped to its real twin's histogram
  (`skimage.exposure.match_histograms`), an oracle: it needs the real field;
- "twin histogram by region": the same inside the nuclei and outside them separately;
- "pooled quantile map": one monotone map from the draws' pooled quantiles to the real
  fields', the same for every field.

    python benchmarks/draw_checks.py --run runs/quality_dlr_s1/realistic-instance_bbbc039 --shards data/bbbc039
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def by_region(image, real, inside):
    """`image` with its pixels inside and outside `inside` each matched to `real`'s there."""
    from skimage.exposure import match_histograms

    out = np.array(image, np.float32)
    for where in (inside, ~inside):
        out[..., 0][where] = match_histograms(out[..., 0][where], np.asarray(real)[..., 0][where])
    return out


def remapped(generated, real, instances):
    """The intensity-remapped sets of `generated`, by name."""
    from skimage.exposure import match_histograms

    levels = np.linspace(0.0, 1.0, 1001)
    drawn = np.quantile(np.concatenate([g[..., 0].ravel() for g in generated]), levels)
    target = np.quantile(np.concatenate([np.asarray(r)[..., 0].ravel() for r in real]), levels)
    return {
        "twin histogram": [match_histograms(g, r, channel_axis=-1).astype(np.float32)
                           for g, r in zip(generated, real)],
        "twin histogram by region": [by_region(g, r, ids > 0) for g, r, ids in zip(generated, real, instances)],
        "pooled quantile map": [np.interp(g, drawn, target).astype(np.float32) for g in generated],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (generator.keras, config.json)")
    parser.add_argument("--shards", required=True, help="its data set's shards (the test split is used)")
    parser.add_argument("--tiles", type=int, nargs="+", default=None,
                        help="tile sizes to draw in (default: the training crop, 256 and 768)")
    parser.add_argument("--tile", type=int, default=128, help="scoring tile side in px, as cig evaluate's")
    args = parser.parse_args(argv)

    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator

    run = Path(args.run)
    if not (run / "config.json").is_file():
        sys.exit(f"--run {run}: no config.json (a cig train run folder is needed)")
    crop = json.loads((run / "config.json").read_text())["data"]["crop"]
    tiles = args.tiles or [max(crop, 128), 256, 768]
    reference = load_fields(args.shards, "test")
    if reference.instances is None:
        sys.exit(f"--shards {args.shards}: draw_checks needs instance masks (a mask -> image data set)")
    generator = load_generator(run)
    sets = {}
    for tile in tiles:
        start = time.perf_counter()
        sets[f"tile {tile}"] = generate_fields(generator, reference.conditions, tile=tile, sample=True,
                                               instances=reference.instances)
        print(f"tile {tile}: {len(reference)} fields drawn in {time.perf_counter() - start:.0f} s", flush=True)
    first = sets[f"tile {tiles[0]}"]
    for tile in tiles[1:]:
        change = np.mean([np.abs(a - b).mean() for a, b in zip(first, sets[f"tile {tile}"])])
        print(f"mean |tile {tiles[0]} - tile {tile}|: {change:.4f} ([-1, 1] units)")
    sets.update(remapped(first, reference.images, reference.instances))
    print("\n| intensity quantiles | " + " | ".join(f"{q:g}" for q in QUANTILES) + " |")
    print("|---|" + "---|" * len(QUANTILES))
    for name, images in (("real", reference.images), (f"tile {tiles[0]}", first)):
        values = np.quantile(np.concatenate([np.asarray(i)[..., 0].ravel() for i in images]), QUANTILES)
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values) + " |")

    score = _common.inception_scorer(reference.images, Path(args.shards) / "realism_cache", args.tile)
    print(f"\n{run}: {len(reference)} test fields, {score.tiles} tiles of {args.tile} px\n")
    _common.print_scores(score, sets.items())
    return 0


if __name__ == "__main__":
    sys.exit(main())
