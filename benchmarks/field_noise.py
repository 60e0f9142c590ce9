"""Tiled sampling's grain, noise drawn per tile against per field: does a tiled field show its tiles?

Draws one test field `--draws` times with the run's generator, tiled (`--tile`, 32-px
overlaps) as `cig generate` and `cig evaluate` draw it, in two ways: every tile drawing its
own pixel noise (as before `one_draw_per_field`) and one noise image per field (now). Prints
the grain (the magnitude of the σ = 2 high-pass, as a standard deviation) of the far
background (over 10 px from any object) and of the nuclei, in the middles of the overlaps
against elsewhere; 1.0 is a field without seams. The PNG maps the background's grain.

    python benchmarks/field_noise.py --run runs/quality_speck/realistic-instance_bbbc039 --shards data/bbbc039 \
        --out benchmarks/gallery/field_noise_realistic_instance_bbbc039.png
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

FAR = 10  # px from any object: the background beyond the nuclei's glow
OVERLAP = 32


def grain(draws):
    """Per-pixel mean |high-pass| over the draws, scaled to a Gaussian's standard deviation."""
    from scipy.ndimage import gaussian_filter

    images = np.asarray(draws, np.float64)[..., 0]
    return np.abs(images - gaussian_filter(images, (0, 2, 2))).mean(axis=0) * np.sqrt(np.pi / 2)


def overlap_middles(shape, tile, multiple):
    """True on the middle half of every overlap between neighbouring tiles."""
    from cig_k3.inference.tiling import _layout

    round_up = lambda size: -(-size // multiple) * multiple  # noqa: E731
    middles = np.zeros(shape, bool)
    for axis, size in enumerate(shape):
        for start, _ in _layout(round_up(size), tile, OVERLAP, multiple)[1:]:
            index = [slice(None), slice(None)]
            index[axis] = slice(start + OVERLAP // 4, start + 3 * OVERLAP // 4)
            middles[tuple(index)] = True
    return middles


def per_tile(model, condition, ids, tile, draws, seed):
    """The field drawn with each tile's own noise (only the latent code shared)."""
    from cig_k3.inference.instances import instance_function, sample_seed, with_instance_channel
    from cig_k3.inference.tiling import predict_tiled
    from cig_k3.layers import one_code_per_field, sampling

    field, instances = with_instance_channel(condition, ids)
    multiple = int(getattr(model, "size_multiple", 1) or 1)
    images = []
    with sampling(model):
        for k in range(draws):
            run = instance_function(model, model.sample_features(instances[None], seed=sample_seed(seed, k)),
                                    field.shape[-1] - 1)
            with one_code_per_field(model, (seed, k)):
                images.append(predict_tiled(run, field, tile, OVERLAP, multiple, batch_size=4))
    return images


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder of a generator that takes instance maps")
    parser.add_argument("--shards", required=True)
    parser.add_argument("--out", required=True, help="PNG of the background's grain, both ways")
    parser.add_argument("--field", type=int, default=1, help="which test field")
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--tile", type=int, default=128)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    from cig_k3.evaluation.conditioning import takes_instances
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator
    from cig_k3.inference.instances import generate_with_instances

    reference = load_fields(args.shards, "test")
    model = load_generator(Path(args.run))
    if not takes_instances(model):
        sys.exit(f"{args.run}: field_noise.py draws with instance maps; this generator takes none")
    condition, ids = reference.conditions[args.field], reference.instances[args.field]
    ways = {"noise per tile": per_tile(model, condition, ids, args.tile, args.draws, args.field),
            "noise per field": generate_with_instances(model, condition, ids, args.tile, OVERLAP,
                                                       samples=args.draws, seed=args.field)}
    middles = overlap_middles(ids.shape, args.tile, int(getattr(model, "size_multiple", 1) or 1))
    far, nuclei = distance_transform_edt(ids == 0) > FAR, ids > 0
    print(f"\n| {args.run}, test field {args.field}, {args.draws} draws, tile {args.tile} | far background: "
          "overlap middles | elsewhere | ratio | nuclei: overlap middles | elsewhere | ratio |")
    print("|---|---|---|---|---|---|---|")
    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    for axis, (name, draws) in zip(axes, ways.items()):
        level = grain(draws)
        cells = []
        for where in (far, nuclei):
            inside, outside = np.median(level[where & middles]), np.median(level[where & ~middles])
            cells += [f"{inside:.4f}", f"{outside:.4f}", f"{inside / outside:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
        axis.imshow(np.where(ids == 0, gaussian_filter(level, 3), np.nan), cmap="magma", vmin=0.003, vmax=0.009)
        axis.set_title(f"{name}: background grain")
        axis.axis("off")
    _common.save_figure(figure, args.out, dpi=70)
    return 0


if __name__ == "__main__":
    sys.exit(main())
