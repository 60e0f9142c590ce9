"""Which part of a generated field gives it away: background, nucleus rims or nuclei.

Each part of a generated field in turn gets the real field's fine detail (its high-pass
residual, what a Gaussian of `--sigma` px removes) in place of its own, the rest left as
drawn; then, the other way round, the real field's coarse part (the Gaussian's output: each
nucleus's brightness and shading, the glow around it) under the generated detail; the whole
background is also swapped for the real one. Where a swap moves FID and
C2ST most toward the real-vs-real floor, that part is what the Inception classifier reads.
The parts, by distance d to the nearest nucleus: background (d > 3 px), rim (0 < d <= 3),
nuclei (inside a mask), and everywhere. The same masks and draws throughout, as `cig evaluate` draws them.

It also prints the noise statistics of the far background (over 10 px from any nucleus),
real against generated (median over fields, real IQR): the high-pass standard deviation
and its correlation with the right, lower, diagonal and second-right neighbours. Camera
noise is white: neighbours do not correlate. `--statistics-only` prints these alone.

`--alone` scores each part on its own, with no seams: in the real and the generated fields
alike, every pixel outside the part is set to one constant (the real far background's
median), so both sets keep the same masks and only the part's own pixels differ. Nuclei
(d = 0), nuclei and rims (d <= 3), background (d > 3) and far background (d > 10).

The PNG shows real | generated crops twice: in the full range, and stretched to the
darkest 7.5 % of the range, where the background's texture shows.

Inside the nuclei (over 3 px in, off the edge) it prints the pixel-scale noise as the shot
noise calibration sees it (`camera_calibration.interior_noise`: Immerkaer's second
differences, robust deviation, median over fields).

`--camera-read 0 0.0078` also draws the fields again with the generator's camera noise
(`CameraNoise`) set to each read-noise level, and scores those: whether the learned level
is the one that scores best. `--camera 0.0056,0.0352 0.0076,0` sets both sizes, read and
shot (at full brightness), for each set.

    python benchmarks/realism_parts.py --run runs/instance_decay --shards data/bbbc039 \
        --out benchmarks/gallery/realism_parts_bbbc039.png
    python benchmarks/realism_parts.py --run runs/instance_decay --shards data/bbbc039 \
        --out /tmp/parts.png --alone --statistics-only   # the parts alone, no swaps
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

RIM = 3  # px: the nucleus's optical rim, where its blur meets the background
FAR = 10  # px: background beyond the nuclei's glow, where only the camera's noise is left
NEIGHBOURS = {"right": (0, 1), "below": (1, 0), "diagonal": (1, 1), "two right": (0, 2)}


def high_pass(image, sigma):
    from scipy.ndimage import gaussian_filter

    image = np.asarray(image, np.float64)[..., 0]
    return image - gaussian_filter(image, sigma)


def swapped(generated, real, where, sigma, coarse=False):
    """`generated` with `real`'s high-pass residual where `where` holds (`coarse`: with its
    low-pass part instead, the generated residual kept)."""
    detail = high_pass(real, sigma) - high_pass(generated, sigma)
    if coarse:
        detail = (np.asarray(real, np.float64)[..., 0] - np.asarray(generated, np.float64)[..., 0]) - detail
    return (generated + np.where(where, detail, 0.0)[..., None]).astype(np.float32)


ALONE = {"nuclei (d = 0)": lambda d: d == 0, f"nuclei and rims (d <= {RIM})": lambda d: d <= RIM,
         f"background (d > {RIM})": lambda d: d > RIM, f"far background (d > {FAR})": lambda d: d > FAR}


def alone(images, distances, keep, fill):
    """`images` with every pixel outside `keep(d)` (d: each field's distance to the nearest
    nucleus) set to `fill`."""
    return [np.where(keep(d)[..., None], np.asarray(image, np.float32), np.float32(fill))
            for image, d in zip(images, distances)]


def scored_alone(real_images, generated, distances, cache, tile=128):
    """{part: (FID, C2ST, (CI low, CI high))} for each part of `ALONE` alone, real and
    generated fields filled the same way outside it (`alone`)."""
    far = np.concatenate([np.asarray(image)[..., 0][d > FAR] for image, d in zip(real_images, distances)])
    fill = float(np.median(far)) if far.size else -1.0
    results = {}
    for name, keep in ALONE.items():
        score = _common.inception_scorer(alone(real_images, distances, keep, fill), cache, tile)
        results[name] = score(alone(generated, distances, keep, fill))
    return results


def noise_statistics(image, background, sigma):
    """High-pass std and neighbour correlations over the pixels of `background`."""
    residual = high_pass(image, sigma)
    row = {"high-pass std": residual[background].std()}
    for name, (dy, dx) in NEIGHBOURS.items():
        here = residual[: residual.shape[0] - dy, : residual.shape[1] - dx]
        there = residual[dy:, dx:]
        keep = background[: residual.shape[0] - dy, : residual.shape[1] - dx] & background[dy:, dx:]
        row[f"correlation {name}"] = np.corrcoef(here[keep], there[keep])[0, 1]
    return row


def with_camera(generator, levels):
    """`generator` with its camera noise layers' sizes set: `levels` {"read": r, "shot": s}."""
    from cig_k3.layers import stochastic_layers
    from cig_k3.layers.noise import CameraNoise

    layers = [layer for layer in stochastic_layers(generator) if isinstance(layer, CameraNoise)]
    if not layers:
        sys.exit("--camera/--camera-read: the generator has no camera noise (camera_noise: false)")
    for layer in layers:
        for size, level in levels.items():
            getattr(layer, size).assign(level)
    return generator


def camera_levels(text):
    """"READ,SHOT" -> {"read": READ, "shot": SHOT}; argparse's type for --camera."""
    try:
        read, shot = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--camera takes READ,SHOT (two numbers); got {text!r}") from None
    return {"read": read, "shot": shot}


def interior_noise_level(image, inside):
    """Robust deviation of the second-difference noise over `inside`; None for no pixels."""
    from cig_k3.training.camera_calibration import interior_noise

    _, noise = interior_noise(np.asarray(image)[..., :1], inside)
    return None if noise.size == 0 else float(1.4826 * np.median(np.abs(noise - np.median(noise))))


def figure(real_images, generated, path, window=96, dark=0.075):
    rows = [[real, fake, real, fake] for real, fake in list(zip(real_images, generated))[:3]]
    titles = ["real", "generated", f"real, dark {100 * dark:g} %", f"generated, dark {100 * dark:g} %"]
    _common.crop_grid(rows, titles, path, window=window, highs=[1.0, 1.0, -1 + 2 * dark, -1 + 2 * dark])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (generator.keras, config.json)")
    parser.add_argument("--shards", required=True)
    parser.add_argument("--out", required=True, help="PNG of real and generated crops")
    parser.add_argument("--sigma", type=float, default=2.0, help="Gaussian (px) whose residual is swapped")
    parser.add_argument("--statistics-only", action="store_true", help="skip the swaps' FID and C2ST")
    parser.add_argument("--alone", action="store_true",
                        help="score each part alone, the rest of real and generated fields set to one constant")
    parser.add_argument("--camera-read", type=float, nargs="*", default=[],
                        help="also draw with the camera noise's read level set to each of these")
    parser.add_argument("--camera", type=camera_levels, nargs="*", default=[], metavar="READ,SHOT",
                        help="also draw with the camera noise's read and shot levels set to each pair")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from scipy.ndimage import distance_transform_edt

    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import RealismOptions, load_fields, realism_suite
    from cig_k3.export import load_generator

    run = Path(args.run)
    crop = json.loads((run / "config.json").read_text())["data"]["crop"]
    reference = load_fields(args.shards, "test")
    if reference.instances is None:
        sys.exit(f"{args.shards}: realism_parts needs instance masks (a mask -> image data set)")
    train = load_fields(args.shards, "train", count=len(reference), with_conditions=False)
    def draw(generator):
        return generate_fields(generator, reference.conditions, tile=max(crop, 128), sample=True,
                               instances=reference.instances)

    generated = draw(load_generator(run))
    drawn = {"generated": generated}
    for read in args.camera_read:
        drawn[f"camera read {read:g}"] = draw(with_camera(load_generator(run), {"read": read}))
    for levels in args.camera:
        drawn[f"camera read {levels['read']:g} shot {levels['shot']:g}"] = draw(with_camera(load_generator(run), levels))
    distance = [distance_transform_edt(ids == 0) for ids in reference.instances]
    parts = {"background (d > 3)": lambda d: d > RIM, "rim (0 < d <= 3)": lambda d: (d > 0) & (d <= RIM),
             "nuclei": lambda d: d == 0, "everywhere": lambda d: d >= 0}
    real = [noise_statistics(r, d > FAR, args.sigma) for r, d in zip(reference.images, distance)]
    fake = {name: [noise_statistics(g, d > FAR, args.sigma) for g, d in zip(images, distance)]
            for name, images in drawn.items()}
    print(f"\n| background (d > {FAR}), sigma {args.sigma} | real median | real IQR | "
          + " | ".join(f"{name} median" for name in fake) + " |")
    print("|---|---|---|" + "---|" * len(fake))
    for key in real[0]:
        values = np.array([row[key] for row in real])
        low, high = np.percentile(values, [25, 75])
        print(f"| {key} | {np.median(values):.4f} | {high - low:.4f} | "
              + " | ".join(f"{np.median([row[key] for row in rows]):.4f}" for rows in fake.values()) + " |")
    inside = [distance_transform_edt(ids > 0) > RIM for ids in reference.instances]
    real = [interior_noise_level(r, i) for r, i in zip(reference.images, inside)]
    real = np.array([level for level in real if level is not None])
    low, high = np.percentile(real, [25, 75])
    print(f"\n| nuclei (over {RIM} px in), second-difference noise | real median | real IQR | "
          + " | ".join(f"{name} median" for name in drawn) + " |")
    print("|---|---|---|" + "---|" * len(drawn))
    print(f"| robust std | {np.median(real):.4f} | {high - low:.4f} | " + " | ".join(
        f"{np.median([v for v in map(interior_noise_level, images, inside) if v is not None]):.4f}"
        for images in drawn.values()) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure(reference.images, generated, args.out)
    if args.alone:
        print(f"\n| {args.run}: part alone | FID | C2ST logistic | 95 % CI |\n|---|---|---|---|")
        for name, (fid, accuracy, (low, high)) in scored_alone(
                reference.images, generated, distance, Path(args.shards) / "realism_cache").items():
            print(f"| {name} | {fid:.1f} | {accuracy:.3f} | {low:.3f}-{high:.3f} |", flush=True)
    if args.statistics_only:
        return 0
    sets = dict(drawn)
    for kind in ("detail", "coarse"):
        for name, where in parts.items():
            sets[f"real {kind}: {name}"] = [swapped(g, r, where(d), args.sigma, coarse=kind == "coarse")
                                            for g, r, d in zip(generated, reference.images, distance)]
    sets["real background, whole"] = [np.where((d > 0)[..., None], r, g).astype(np.float32)
                                      for g, r, d in zip(generated, reference.images, distance)]
    results = realism_suite(reference, sets, train=train, options=RealismOptions(cnn_steps=0),
                            cache=Path(args.shards) / "realism_cache")
    print(f"\n| {args.run}: set | FID | C2ST logistic |\n|---|---|---|")
    for name, metrics in results["sets"].items():
        if name != "blurred":
            print(f"| {name} | {metrics['fid_inception']:.1f} | {metrics['c2st_logistic']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
