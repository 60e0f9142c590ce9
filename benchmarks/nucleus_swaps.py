"""Do the drawn nuclei differ from real ones in how much each varies, and does the classifier read it?

Per nucleus of the test fields, real and drawn (the same masks, drawn as `cig evaluate` draws
them): its mean and standard deviation, its core texture (the standard deviation of a
σ = 1.5 px high-pass over 4 px in), the share of its core's variation finer than 1 px, its
glow (the mean over the 1-3 px outside it, less the far background's median, over the
nucleus's own mean less that median), its inner rim and its edge gradient. The table gives
each feature's median and IQR, real and drawn.

Then two post-hoc oracles, each scored as `c2st_sensitivity.py` scores a change (the real
test fields' 128-px tiles, cached Inception features, FID and the logistic C2ST
cross-validated by field). If giving each drawn nucleus the real spread of a feature brings
the C2ST toward the floor, that feature is worth a per-nucleus input of the generator (the
instance encoder's features); if not, it is not what the classifier reads:

- "texture quantile-mapped": each drawn nucleus's core high-pass scaled so that the drawn
  texture strengths take the real ones' distribution, rank for rank (the core alone: scaling
  the high-pass at the rim would sharpen or soften the nucleus's edge instead);
- "texture from real twin": each scaled to the same nucleus's real strength;
- "glow from real twin": the 1-8 px outside each nucleus (the part nearest to it) scaled
  about the far background so that its 1-3 px glow ratio is the real twin's, faded out over
  the outer 3 px.

    python benchmarks/nucleus_swaps.py --run runs/quality_ctrl_s1/realistic-instance_bbbc039 --shards data/bbbc039
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SIGMA = 1.5  # px: the texture high-pass
GLOW = 8  # px outside a nucleus that the glow swap scales
FAR = 10  # px from any nucleus: the far background
CORE = 4  # px in from the edge: the core, where a σ 1.5 high-pass no longer sees the edge


class Field:
    """One field's per-nucleus measurements, and what the swaps need to rescale it."""

    def __init__(self, image, ids):
        from scipy import ndimage as ndi

        self.image = np.asarray(image, np.float64)[..., 0]
        ids = np.asarray(ids)
        self.ids = ids[..., 0] if ids.ndim == 3 else ids
        self.highpass = self.image - ndi.gaussian_filter(self.image, SIGMA)
        fine = self.image - ndi.gaussian_filter(self.image, 1.0)
        gy, gx = np.gradient(ndi.gaussian_filter(self.image, 0.7))
        gradient = np.hypot(gx, gy)
        inside = self.ids > 0
        self.distance, (iy, ix) = ndi.distance_transform_edt(~inside, return_indices=True)
        self.owner = self.ids[iy, ix]  # the nearest nucleus of every background pixel
        far = self.distance > FAR
        self.background = float(np.median(self.image[far] if far.any() else self.image[~inside]))
        self.nuclei = {}
        for i in np.unique(self.ids[inside]):
            mask = self.ids == i
            core = ndi.binary_erosion(mask, iterations=CORE)
            rim = mask & ~ndi.binary_erosion(mask, iterations=3)
            glow = (self.owner == i) & (self.distance > 0) & (self.distance <= 3)
            if mask.sum() < 80 or core.sum() < 20 or glow.sum() < 20:
                continue
            mean = self.image[mask].mean()
            span = max(mean - self.background, 1e-3)
            texture = self.highpass[core].std()
            self.nuclei[i] = {
                "mean": mean, "std": self.image[mask].std(), "texture": texture,
                "fine share": fine[core].std() / max(self.image[core].std(), 1e-6),
                "glow": (self.image[glow].mean() - self.background) / span,
                "rim": (self.image[rim].mean() - self.background) / span,
                "edge gradient": gradient[rim].mean() / span,
            }

    def feature(self, name):
        return [n[name] for n in self.nuclei.values()]

    def with_texture(self, targets, rounds=4):
        """The field with the high-pass of nucleus i's core (CORE px in, where the edge does not
        reach it) scaled so that its texture measures targets[i]. The high-pass of a scaled
        high-pass is not the scaled one (a σ 1.5 Gaussian passes some of it), so each gain is
        refined over `rounds` re-measurements."""
        from scipy import ndimage as ndi

        cores = {i: ndi.binary_erosion(self.ids == i, iterations=CORE) for i in targets}
        gains = {i: targets[i] / max(self.nuclei[i]["texture"], 1e-6) for i in targets}
        for _ in range(rounds):
            scale = np.ones_like(self.image)
            for i, core in cores.items():
                scale[core] = gains[i]
            image = self.image + (scale - 1) * self.highpass
            highpass = image - ndi.gaussian_filter(image, SIGMA)
            for i, core in cores.items():
                gains[i] *= targets[i] / max(highpass[core].std(), 1e-6)
        return image[..., None].astype(np.float32)

    def with_glow(self, factors):
        """The field with the GLOW px outside nucleus i scaled by factors[i] about the far
        background, back to 1 over the outer 3 px."""
        scale = np.ones_like(self.image)
        ring = (self.distance > 0) & (self.distance <= GLOW)
        for i, factor in factors.items():
            scale[ring & (self.owner == i)] = factor
        fade = np.where(self.distance > 0, np.clip((GLOW - self.distance) / 3.0, 0, 1), 0)
        scale = 1 + (scale - 1) * fade
        return (self.background + (self.image - self.background) * scale)[..., None].astype(np.float32)


def iqr(values):
    return float(np.subtract(*np.percentile(values, [75, 25])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (generator.keras, config.json)")
    parser.add_argument("--shards", required=True, help="its data set's shards (the test split is used)")
    parser.add_argument("--tile", type=int, default=128, help="scoring tile side in px, as cig evaluate's")
    args = parser.parse_args(argv)

    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator

    run = Path(args.run)
    if not (run / "generator.keras").is_file():
        sys.exit(f"--run {run}: no generator.keras (a cig train run folder is needed)")
    reference = load_fields(args.shards, "test")
    if reference.instances is None:
        sys.exit(f"--shards {args.shards}: nucleus_swaps needs instance masks (a mask -> image data set)")
    drawn = generate_fields(load_generator(run), reference.conditions, tile=args.tile, sample=True,
                            instances=reference.instances)
    real = [Field(image, ids) for image, ids in zip(reference.images, reference.instances)]
    fake = [Field(image, ids) for image, ids in zip(drawn, reference.instances)]
    count = sum(len(f.nuclei) for f in real)
    print(f"{run}: {count} real and {sum(len(f.nuclei) for f in fake)} drawn nuclei in {len(real)} test fields\n")
    print("| per nucleus | real median | real IQR | drawn median | drawn IQR | IQR drawn / real | median offset (real IQRs) |")
    print("|---|---|---|---|---|---|---|")
    for name in next(iter(real[0].nuclei.values())):
        r = np.concatenate([f.feature(name) for f in real])
        g = np.concatenate([f.feature(name) for f in fake])
        print(f"| {name} | {np.median(r):.3f} | {iqr(r):.3f} | {np.median(g):.3f} | {iqr(g):.3f} | "
              f"{iqr(g) / iqr(r):.2f} | {(np.median(g) - np.median(r)) / iqr(r):+.2f} |")

    real_texture = np.sort(np.concatenate([f.feature("texture") for f in real]))
    drawn_texture = np.sort(np.concatenate([f.feature("texture") for f in fake]))

    def ranked(texture):  # the real texture at this drawn texture's rank
        rank = np.searchsorted(drawn_texture, texture) / len(drawn_texture)
        return real_texture[min(int(rank * len(real_texture)), len(real_texture) - 1)]

    sets = {
        "drawn": drawn,
        "texture quantile-mapped": [f.with_texture({i: ranked(n["texture"]) for i, n in f.nuclei.items()})
                                    for f in fake],
        "texture from real twin": [f.with_texture({i: t.nuclei[i]["texture"] for i in f.nuclei if i in t.nuclei})
                                   for f, t in zip(fake, real)],
        "glow from real twin": [f.with_glow({i: float(np.clip(t.nuclei[i]["glow"] / n["glow"], 0.25, 4))
                                             for i, n in f.nuclei.items() if i in t.nuclei and n["glow"] > 1e-3})
                                for f, t in zip(fake, real)],
    }
    score = _common.inception_scorer(reference.images, Path(args.shards) / "realism_cache", args.tile)
    print(f"\n{score.tiles} tiles of {args.tile} px\n")
    _common.print_scores(score, sets.items())
    return 0


if __name__ == "__main__":
    sys.exit(main())
