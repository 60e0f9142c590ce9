"""How small a change the Inception C2ST sees: real fields, each changed by a known amount.

Every realism figure of `cig evaluate` compares drawn fields with the real fields of the same
masks. Here the "drawn" fields are the real ones themselves, changed in one known way each: a
Gaussian blur, added white noise, a gain or a gamma on the intensity. Each set is scored as
`cig evaluate` scores a generator (non-overlapping tiles, Inception FID and the logistic C2ST
cross-validated by field, the same cache of Inception features), so that a generator's C2ST
can be read against changes one can picture: a C2ST of 0.83 is what a half-pixel blur of the
real images scores. It calls the pieces `realism_suite` is made of (tiles, cached features,
FID, C2ST) rather than the suite itself, which would also measure cell features, spectra and
the CNN C2ST for every set, several times the time for figures this table does not use.

    python benchmarks/c2st_sensitivity.py --shards data/bbbc039
    python benchmarks/c2st_sensitivity.py --shards data/bbbc039 --changes blur:0.5 noise:0.004

Intensities are in the images' [-1, 1] range: noise:0.004 adds white noise of std 0.004
(BBBC039's background grain is about 0.008); gain:1.05 maps x to (x + 1) * 1.05 - 1, gamma:0.9
maps x to 2 ((x + 1) / 2) ** 0.9 - 1, both clipped to [-1, 1].
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

CHANGES = ("blur:0.3", "blur:0.5", "noise:0.004", "noise:0.008", "gain:1.05", "gamma:0.9")


def change(text):
    """"kind:amount" -> (kind, amount), checked."""
    kind, _, amount = text.partition(":")
    if kind not in ("blur", "noise", "gain", "gamma"):
        raise argparse.ArgumentTypeError(f"--changes {text!r}: the kind must be blur, noise, gain or gamma")
    try:
        value = float(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--changes {text!r}: the amount after ':' must be a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--changes {text!r}: the amount must be positive")
    return kind, value


def changed(images, kind, amount, seed=0):
    """`images` (H x W x C in [-1, 1]) changed by `kind` of `amount`, as float32."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    out = []
    for image in images:
        image = np.asarray(image, np.float32)
        if kind == "blur":
            image = gaussian_filter(image, (amount, amount, 0))
        elif kind == "noise":
            image = image + rng.normal(0.0, amount, image.shape)
        elif kind == "gain":
            image = (image + 1.0) * amount - 1.0
        else:
            image = 2.0 * ((image + 1.0) / 2.0) ** amount - 1.0
        out.append(np.clip(image, -1.0, 1.0).astype(np.float32))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True, help="a data set's shard folder (its test split is used)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--tile", type=int, default=128, help="tile side in px, as cig evaluate's default")
    parser.add_argument("--changes", type=change, nargs="+", default=[change(c) for c in CHANGES],
                        metavar="KIND:AMOUNT", help=f"changes to score (default: {' '.join(CHANGES)})")
    args = parser.parse_args(argv)

    from cig_k3.evaluation.realism import load_fields

    reference = load_fields(args.shards, args.split)
    score = _common.inception_scorer(reference.images, Path(args.shards) / "realism_cache", args.tile)
    print(f"\n{args.shards} {args.split}: {len(reference)} fields, {score.tiles} tiles of {args.tile} px; "
          "each real field against itself changed\n")
    _common.print_scores(score, ((f"{kind} {amount:g}", changed(reference.images, kind, amount))
                                 for kind, amount in args.changes), first_column="change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
