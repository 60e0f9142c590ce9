"""Style transfer, measured: does a generator with a style encoder draw a mask in the
brightness of a reference field (issue 14: per-field mean intensity tracks the reference's,
Pearson r >= 0.9)?

Every test mask is drawn in the style of each of `--styles` test fields (chosen evenly over
the range of their nuclei's brightness, never the mask's own field), as `cig generate
--style` draws it: the whole reference field encoded once, one code for every tile, noise
off (`samples=1`, z = mu). Over all (mask, style) pairs it reports Pearson r between:

- `field mean`: the reference field's mean intensity and the generated image's (the issue's
  figure). A field's mean depends on how much of it the nuclei cover as well as on its
  style, so a mask drawn in another field's style cannot match it exactly;
- `field mean, same coverage`: the mean the reference field would have on this mask (its
  nuclei's mean intensity inside the mask's objects, its background's outside) and the
  generated image's: the part of the mean a style can transfer;
- `nuclei mean`, `background mean`: the reference's and the generated image's mean inside
  and outside the mask's objects;
- `within mask`: r across the styles for each mask, averaged over the masks;
- `own field`: each test mask drawn in the style of its own field, r between the real and
  the generated field means over the fields (the style encoder sees the very image it is
  compared with, as in training).

The `no style` column draws each mask once with the prior's mean code (z = 0): what the mask
alone explains. The `perfect` column is the r a perfect transfer would reach (the
reference's nuclei and background means painted on the mask): on the field means of
different masks it is far below 1, since there coverage drives the mean. The gallery PNG
shows mask | style reference | generated for a few pairs, all on one intensity scale.

    python benchmarks/style_transfer.py --shards data/bbbc039 --run runs/style_bbbc039 \
        --out benchmarks/gallery/style_transfer.png
"""

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

log = logging.getLogger("style_transfer")


def pearson(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def region_means(image, instances):
    """(field mean, nuclei mean, background mean) of an H x W x C image, channel 0."""
    image = np.asarray(image)[..., 0]
    inside = instances > 0
    return float(image.mean()), float(image[inside].mean()), float(image[~inside].mean())


def choose_styles(fields, count):
    """`count` test fields evenly spread over their nuclei's mean intensity."""
    brightness = [region_means(image, mask)[1] for image, mask in zip(fields.images, fields.instances)]
    order = np.argsort(brightness)
    return [int(order[i]) for i in np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)]


def draw(generator, condition, code, tile, overlap):
    """One image of a whole field drawn with one code, as `cig generate` draws it."""
    from cig_k3.inference.generate import GenerateOptions, generate_for_mask

    options = GenerateOptions(samples=1, tile=tile, overlap=overlap)
    return generate_for_mask(generator, condition, options, np.asarray(code, np.float32)[None])[0]


def measure(generator, fields, style_indices, keep=(), tile=256, overlap=32):
    """Per (mask, style) pair: the reference's and the generated image's region means; the
    images of the pairs in `keep` are returned too (for the gallery)."""
    from cig_k3.inference.style import encode_style

    codes = {j: encode_style(generator, fields.images[j])[0] for j in style_indices}
    rows, baseline, generated, own = [], [], {}, []
    for i, condition in enumerate(fields.conditions):
        mask = fields.instances[i]
        inside = mask > 0
        prior = region_means(draw(generator, condition, np.zeros(generator.latent_dim), tile, overlap), mask)
        itself = draw(generator, condition, encode_style(generator, fields.images[i])[0], tile, overlap)
        own.append((region_means(fields.images[i], mask)[0], region_means(itself, mask)[0], prior[0]))
        for j in style_indices:
            if j == i:
                continue
            image = draw(generator, condition, codes[j], tile, overlap)
            if (i, j) in keep:
                generated[(i, j)] = image
            reference = region_means(fields.images[j], fields.instances[j])
            same_coverage = reference[1] * inside.mean() + reference[2] * (1 - inside.mean())
            rows.append({"mask": i, "style": j, "reference": reference, "same_coverage": same_coverage,
                         "generated": region_means(image, mask)})
            baseline.append(prior)
        log.info("mask %d/%d drawn in %d styles", i + 1, len(fields.conditions), len(style_indices))
    return rows, baseline, generated, own


def summary(rows, baseline, own):
    """{figure: (r with the style, r of the no-style baseline, r of a perfect transfer)}."""
    reference = np.array([row["reference"] for row in rows])
    generated = np.array([row["generated"] for row in rows])
    coverage = np.array([row["same_coverage"] for row in rows])
    prior = np.array(baseline)
    masks = np.array([row["mask"] for row in rows])
    within = [pearson(reference[masks == m, 0], generated[masks == m, 0]) for m in np.unique(masks)]
    within_perfect = [pearson(reference[masks == m, 0], coverage[masks == m]) for m in np.unique(masks)]
    own = np.array(own)
    return {
        "field mean": (pearson(reference[:, 0], generated[:, 0]), pearson(reference[:, 0], prior[:, 0]),
                       pearson(reference[:, 0], coverage)),
        "field mean, same coverage": (pearson(coverage, generated[:, 0]), pearson(coverage, prior[:, 0]), 1.0),
        "nuclei mean": (pearson(reference[:, 1], generated[:, 1]), pearson(reference[:, 1], prior[:, 1]), 1.0),
        "background mean": (pearson(reference[:, 2], generated[:, 2]), pearson(reference[:, 2], prior[:, 2]), 1.0),
        "within mask (mean over masks)": (float(np.nanmean(within)), float("nan"), float(np.nanmean(within_perfect))),
        "own field (mask in its own style)": (pearson(own[:, 0], own[:, 1]), pearson(own[:, 0], own[:, 2]), 1.0),
    }


def gallery(fields, generated, pairs, path, window=192, display=(-1.0, 0.3)):
    """mask | style reference | generated for `pairs` of (mask, style), on one intensity scale."""
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(len(pairs), 3, figsize=(6, 2 * len(pairs)), squeeze=False)
    for row, (i, j) in enumerate(pairs):
        panels = [(fields.instances[i] > 0, f"mask {i}", (0, 1)),
                  (fields.images[j][..., 0], f"style: field {j}", display),
                  (generated[(i, j)][..., 0], "generated", display)]
        for column, (image, title, limits) in enumerate(panels):
            height, width = image.shape
            top, left = max(0, (height - window) // 2), max(0, (width - window) // 2)
            axes[row, column].imshow(image[top:top + window, left:left + window], cmap="gray", vmin=limits[0],
                                     vmax=limits[1])
            axes[row, column].set_title(title, fontsize=8)
            axes[row, column].set_axis_off()
    _common.save_figure(figure, path, dpi=80)
    return path


def main():
    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True, help="shard folder; its test split is used")
    parser.add_argument("--run", required=True, help="run folder (or generator .keras) of a style generator")
    parser.add_argument("--styles", type=int, default=10, help="reference fields each mask is drawn in the style of")
    parser.add_argument("--masks", type=int, default=None, help="test masks (default: all)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/gallery/style_transfer.png")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator
    from cig_k3.export.loading import resolve_model_path
    from cig_k3.models.style_encoder import has_style_encoder

    generator = load_generator(resolve_model_path(args.run))
    if not has_style_encoder(generator):
        raise SystemExit(f"{args.run}: generator {generator.name!r} has no style encoder (train realistic-style)")
    fields = load_fields(args.shards, "test", count=args.masks, seed=0)
    styles = choose_styles(fields, args.styles)
    dimmest, middle, brightest = styles[0], styles[len(styles) // 2], styles[-1]
    masks = [i for i in range(len(fields)) if i not in (dimmest, middle, brightest)][:2]
    pairs = [(i, j) for i in masks for j in (dimmest, middle, brightest)]
    rows, baseline, generated, own = measure(generator, fields, styles, keep=set(pairs), tile=args.tile)
    log.info("%d masks x %d styles (own field left out): %d pairs", len(fields), len(styles), len(rows))
    log.info("%-34s %10s %9s %8s", "Pearson r", "with style", "no style", "perfect")
    for name, (styled, plain, perfect) in summary(rows, baseline, own).items():
        log.info("%-34s %10.3f %9.3f %8.3f", name, styled, plain, perfect)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    log.info("gallery: %s", gallery(fields, generated, pairs, args.out))


if __name__ == "__main__":
    main()
