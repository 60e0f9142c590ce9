"""Galleries to judge by eye: one PNG per trained generator, the same test masks for all.

Each row is one test mask (a centre window of its whole field, generated tile by tile as
`cig generate` draws it): mask | real | three samples | per-pixel std of the samples. A last
row shows the flat-mask baseline (the mask painted with the train set's mean foreground and
background, blurred with sigma 1) for the first mask, so a texture-less image is there to
compare with.

    python benchmarks/gallery.py --shards data/bbbc039 --run cig=runs/quality/cig_bbbc039 \
        --run pix2pix=runs/quality/pix2pix_bbbc039 --out benchmarks/gallery
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def gallery(generator, reference, train, path, window=128, samples=3, title=""):
    from matplotlib import pyplot

    from cig_k3.evaluation.conditioning import takes_style
    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import flat_mask_baseline, intensity_means

    styles = [reference.images[(i + 1) % len(reference)] for i in range(len(reference))] \
        if takes_style(generator) else None
    draws = generate_fields(generator, reference.conditions, styles=styles, tile=256, samples=samples)
    foreground, background = intensity_means(train)
    flat = flat_mask_baseline(reference.instances[:1], foreground, background)[0]
    rows = [(reference.instances[i], reference.images[i], draws[i]) for i in range(len(reference))]
    rows.append((reference.instances[0], reference.images[0], np.stack([flat] * samples)))
    columns = samples + 3
    figure, axes = pyplot.subplots(len(rows), columns, figsize=(1.7 * columns, 1.7 * len(rows)), squeeze=False)
    for row, (mask, real, sampled) in enumerate(rows):
        height, width = real.shape[:2]
        top, left = max(0, (height - window) // 2), max(0, (width - window) // 2)
        cut = (slice(top, top + window), slice(left, left + window))
        unit = lambda image: np.clip((np.asarray(image)[cut][..., 0] + 1) / 2, 0, 1)  # noqa: E731
        std = ((np.asarray(sampled)[:, cut[0], cut[1], 0] + 1) / 2).std(axis=0)
        panels = [(mask[cut] > 0, "gray", "mask"), (unit(real), "gray", "real")]
        label = "flat baseline" if row == len(rows) - 1 else "sample"
        panels += [(unit(sampled[k]), "gray", f"{label} {k + 1}") for k in range(samples)]
        panels.append((std, "magma", "std"))
        for column, (image, colormap, name) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(image, cmap=colormap, vmin=0, vmax=1 if colormap == "gray" else max(float(std.max()), 1e-3))
            axis.set_axis_off()
            if row == 0 or row == len(rows) - 1:
                axis.set_title(name, fontsize=7)
    figure.suptitle(title, fontsize=9)
    _common.save_figure(figure, path, dpi=80)
    return path


def main():
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True)
    parser.add_argument("--run", action="append", default=[], help="NAME=RUN_DIR (repeat)")
    parser.add_argument("--masks", type=int, default=8, help="test masks, the same for every run")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--out", default="benchmarks/gallery")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator

    reference = load_fields(args.shards, "test", count=args.masks, seed=0)
    train = load_fields(args.shards, "train", count=32, seed=0, with_conditions=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for item in args.run:
        name, _, run_dir = item.partition("=")
        generator = load_generator(Path(run_dir) / "generator.keras")
        path = gallery(generator, reference, train, out / f"{name}.png", window=args.window,
                       title=f"{name}: mask | real | 3 samples | std  (last row: flat-mask baseline)")
        print(path)


if __name__ == "__main__":
    main()
