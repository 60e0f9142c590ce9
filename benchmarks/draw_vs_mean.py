"""Realism of a trained generator's draws against its noise-free mean image, on the same masks.

`cig generate` writes one seeded draw (noise on) unless `--mean`; the exports compute the
mean image. This scores both as `cig evaluate` scores draws (whole test fields, tiles of the
run's crop, Inception FID and C2ST, cell features), beside the real-vs-real floor and the
flat-mask baseline, and writes a PNG of the centre of the first fields: real | draw | mean.

    python benchmarks/draw_vs_mean.py --run runs/instance_intensity_5400 --shards data/bbbc039 \
        --out benchmarks/gallery/draw_vs_mean_bbbc039.png
"""

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

KEYS = ("fid_inception", "c2st_logistic", "c2st_cnn", "checkerboard_excess")


def figure(reference, sets, path, fields=3, window=128):
    rows = [[reference.images[row], *(images[row] for images in sets.values())] for row in range(fields)]
    _common.crop_grid(rows, ["real", *sets], path, window=window)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (generator.keras, config.json)")
    parser.add_argument("--shards", required=True)
    parser.add_argument("--out", required=True, help="PNG of real | draw | mean")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import load_fields, realism_suite
    from cig_k3.export import load_generator

    run = Path(args.run)
    crop = json.loads((run / "config.json").read_text())["data"]["crop"]
    generator = load_generator(run)
    reference = load_fields(args.shards, "test")
    train = load_fields(args.shards, "train", count=len(reference), with_conditions=False)
    sets = {name: generate_fields(generator, reference.conditions, tile=max(crop, 128), sample=sample,
                                  instances=reference.instances)
            for name, sample in (("draw", True), ("mean image", False))}
    results = realism_suite(reference, sets, train=train, cache=Path(args.shards) / "realism_cache")
    print(f"| {args.run} | " + " | ".join(KEYS) + " | worst cell feature |")
    print("|---" * (len(KEYS) + 2) + "|")
    for name, metrics in results["sets"].items():
        worst = (metrics.get("cell_features") or {}).get("worst") or [{}]
        text = worst[0].get("text", "") if isinstance(worst[0], dict) else str(worst[0])
        values = " | ".join(f"{metrics[key]:.3g}" if isinstance(metrics.get(key), float) else "" for key in KEYS)
        print(f"| {name} | {values} | {text} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure(reference, sets, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
