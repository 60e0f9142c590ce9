"""Texture by scale: how much of the real texture do the generated nuclei and background carry?

Draws the test fields once with each run's generator, as `cig evaluate` draws them (tiled,
one noise image per field), and prints, per octave band (difference of Gaussian blurs,
`cig_k3.evaluation.texture_bands`), the median amplitude inside the nuclei (3 px in) and in
the far background (over 10 px out), as a ratio to the real test fields'. The floor (real
train fields), the flat-mask baseline and the blurred real fields are measured the same way.
The PNG shows nuclei at 3x beside the real ones, contrast stretched per crop, where the
texture is seen.

    python benchmarks/texture_bands.py --shards data/bbbc039 \
        --runs runs/quality_speck_field/realistic-instance_bbbc039 runs/quality_cspec/realistic-instance_bbbc039 \
        --out benchmarks/gallery/texture_bands_bbbc039.png
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def nucleus_crops(image, ids, count=6, side=40, seed=0):
    """`count` side x side crops around the centres of large nuclei, contrast stretched each."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    labels = [k for k in np.unique(ids) if k and (ids == k).sum() > 300]
    chosen = rng.choice(labels, size=min(count, len(labels)), replace=False) if labels else []
    crops = []
    for label in chosen:
        cy, cx = (int(round(c)) for c in ndimage.center_of_mass(ids == label))
        top = int(np.clip(cy - side // 2, 0, ids.shape[0] - side))
        left = int(np.clip(cx - side // 2, 0, ids.shape[1] - side))
        crop = image[top:top + side, left:left + side]
        low, high = np.percentile(crop, (1, 99))
        crops.append(np.clip((crop - low) / max(high - low, 1e-6), 0, 1))
    return crops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True)
    parser.add_argument("--runs", nargs="+", required=True, help="run folders of mask -> image generators")
    parser.add_argument("--out", required=True, help="PNG of nuclei, real and generated, at 3x")
    parser.add_argument("--tile", type=int, default=128, help="as cig evaluate: the training crop")
    args = parser.parse_args(argv)
    for run in args.runs:
        if not (Path(run) / "generator.keras").exists():
            sys.exit(f"--runs: {run} has no generator.keras")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cig_k3.evaluation import texture_bands
    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import baselines, load_fields
    from cig_k3.export import load_generator

    reference = load_fields(args.shards, "test")
    train = load_fields(args.shards, "train", count=len(reference), with_conditions=False)
    plane = lambda images: [np.asarray(image)[..., 0] for image in images]  # noqa: E731
    real = texture_bands.amplitude_table(plane(reference.images), reference.instances)
    sets = {name: (plane(fields.images), fields.instances) for name, fields in baselines(reference, train).items()}
    drawn = {}
    for run in args.runs:
        model = load_generator(Path(run))
        images = generate_fields(model, reference.conditions, tile=args.tile, sample=True,
                                 instances=reference.instances)
        drawn[run] = plane(images)
        sets[run] = (drawn[run], reference.instances)
    sigmas = texture_bands.SIGMAS
    bands = [f"{low:g}-{high:g}" for low, high in zip(sigmas[:-1], sigmas[1:])]
    print(f"\nmedian band amplitude over {len(reference)} test fields, generated / real (band: Gaussian sigma, px)")
    print("| set | " + " | ".join(f"nuclei {band}" for band in bands) + " | nuclei < 3 px | "
          + " | ".join(f"far bg {band}" for band in bands) + " | far bg < 3 px |")
    print("|---" * (2 * len(bands) + 3) + "|")
    for name, (images, instances) in sets.items():
        compared = texture_bands.compare_bands(real, texture_bands.amplitude_table(images, instances))
        cells = [f"{r:.2f}" for r in compared["objects"]["ratio"]] + [f"**{compared['object_texture_ratio']:.2f}**"]
        cells += [f"{r:.2f}" for r in compared["background"]["ratio"]]
        cells += [f"**{compared['background_texture_ratio']:.2f}**"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("real amplitudes (images in [-1, 1]): nuclei "
          + ", ".join(f"{a:.4f}" for a in compared["objects"]["real"]) + "; far bg "
          + ", ".join(f"{a:.4f}" for a in compared["background"]["real"]))

    rows = [("real", nucleus_crops(plane(reference.images)[0], reference.instances[0]))]
    rows += [(Path(run).parent.name, nucleus_crops(drawn[run][0], reference.instances[0])) for run in args.runs]
    columns = max(len(crops) for _, crops in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.6 * columns, 1.7 * len(rows)), squeeze=False)
    for axis_row, (name, crops) in zip(axes, rows):
        for k, axis in enumerate(axis_row):
            if k < len(crops):
                axis.imshow(crops[k], cmap="gray", interpolation="nearest")
            axis.set_xticks([]), axis.set_yticks([])
        axis_row[0].set_ylabel(name, fontsize=7)
    figure.suptitle("test field 0: the same nuclei, each crop stretched to its own 1-99 %", fontsize=8)
    _common.save_figure(figure, args.out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
