"""A trained generator drawn with its batch-norm moving averages, then with standing statistics.

The same test fields, the same seeds, the same weights: only the batch-norm statistics differ
(`cig_k3.training.standing_statistics`), so the two rows are a paired comparison. Scored as
`cig evaluate` scores realism (whole test fields in 128-px tiles, Inception FID and the
logistic C2ST cross-validated by field).

    python benchmarks/standing_statistics.py --run runs/quality_ctrl_s1/realistic-instance_bbbc039 \\
        --shards data/bbbc039 --batches 200 --save runs/quality_ctrl_s1_standing/realistic-instance_bbbc039

`--save DIR` copies the run folder to DIR with the re-measured generator.keras, for `cig evaluate
--model DIR` and the gallery.
"""

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder (generator.keras, config.json)")
    parser.add_argument("--shards", required=True)
    parser.add_argument("--batches", type=int, default=200, help="train batches the statistics are measured over")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--save", default=None, help="copy the run here with the re-measured generator.keras")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from cig_k3.evaluation.evaluate import generate_fields
    from cig_k3.evaluation.realism import load_fields
    from cig_k3.export import load_generator
    from cig_k3.training.standing_statistics import standing_statistics, train_split_inputs

    run = Path(args.run)
    config = json.loads((run / "config.json").read_text())
    crop, batch_size, seed = config["data"]["crop"], config["data"]["batch_size"], config.get("seed", 0)
    reference = load_fields(args.shards, "test")
    score = _common.inception_scorer(reference.images, Path(args.shards) / "realism_cache", args.tile)

    def scored(generator):
        images = generate_fields(generator, reference.conditions, tile=max(crop, 128), sample=True,
                                 instances=reference.instances)
        return score(images)

    generator = load_generator(run)
    rows = {"moving averages (as trained)": scored(generator)}
    used = standing_statistics(generator, train_split_inputs(generator, args.shards, crop, batch_size,
                                                             args.batches, seed=seed))
    rows[f"standing statistics, {used} train batches of {batch_size} x {crop} px"] = scored(generator)
    print(f"\n| {run}: batch-norm statistics | FID | C2ST logistic | 95 % CI |\n|---|---|---|---|")
    for name, (fid, accuracy, (low, high)) in rows.items():
        print(f"| {name} | {fid:.2f} | {accuracy:.3f} | {low:.3f}-{high:.3f} |")
    if args.save:
        out = Path(args.save)
        if out.exists():
            sys.exit(f"--save {out}: exists already; give a new folder")
        shutil.copytree(run, out, ignore=shutil.ignore_patterns("evaluation", "checkpoint.npz", "gan.keras"))
        generator.save(out / "generator.keras")
        print(f"saved {out / 'generator.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
