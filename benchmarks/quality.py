"""Quality table: train and evaluate presets on BBBC039 (mask -> image) with a fixed budget.

For each preset: `cig train` with the stated budget, then `cig evaluate` on the test split
(PSNR / SSIM / Pearson, mask-consistency ratio, FID and KID in the judge's domain features),
then train-on-synthetic vs train-on-real segmenters. One judge, trained once on the real
train split and kept beside the shards, scores every preset.

    python benchmarks/quality.py --presets cig spade --epochs 4 --steps-per-epoch 100
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SHARED = _common.REPO.parent / "shared" / "data"


def ensure_shards(source, out):
    if not (out / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "data_prep", str(source), "--out", str(out), "--workers", "2"], check=True)
    return out


def worker(preset, shards, out, epochs, steps, crop, batch_size, judge_steps, synthetic_steps):
    from cig_k3.commands.evaluate import evaluate_run, get_judge
    from cig_k3.config import config_from_preset
    from cig_k3.evaluation.usefulness import train_on_synthetic
    from cig_k3.export import load_generator
    from cig_k3.training import train

    config = config_from_preset(preset, {"data": {"shards": shards, "crop": crop, "batch_size": batch_size},
                                         "epochs": epochs, "steps_per_epoch": steps, "out": out, "verbose": 0})
    start = time.perf_counter()
    train(config)
    train_seconds = time.perf_counter() - start
    judge, _ = get_judge(shards, None, crop, judge_steps)
    results = evaluate_run(out, shards, split="test", crop=crop, max_images=64, samples=4)
    useful = train_on_synthetic(load_generator(Path(out) / "generator.keras"), shards, crop, steps=synthetic_steps)
    head = results["headline"]
    return {
        "steps": epochs * steps, "train_s": train_seconds, "psnr": head.get("psnr"), "ssim": head.get("ssim"),
        "pearson": head.get("pearson"), "judge_dice_real": head.get("consistency_dice_foreground_real"),
        "consistency_ratio": head.get("consistency_dice_foreground_ratio"),
        "ap50_ratio": head.get("consistency_ap_50_ratio"), "fid_judge": head.get("fid_judge"),
        "kid_judge": head.get("kid_judge"), "n_test": head.get("n_images"),
        "synthetic_dice_ratio": useful["synthetic_dice_foreground_ratio"],
        "real_plus_synthetic_dice_ratio": useful["real_plus_synthetic_dice_foreground_ratio"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--presets", nargs="+", default=["cig", "pix2pix", "attention", "spade"])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--data", default=str(SHARED / "bbbc039"))
    parser.add_argument("--shards", default="data/bbbc039")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--judge-steps", type=int, default=1000)
    parser.add_argument("--synthetic-steps", type=int, default=300)
    parser.add_argument("--out", default="runs/quality")
    args, rest = parser.parse_known_args()
    if args.worker:
        print(json.dumps(worker(*rest[:3], *map(int, rest[3:]))))
        return
    shards = ensure_shards(Path(args.data), Path(args.shards))
    rows = []
    for preset in args.presets:
        result = _common.run_worker(
            __file__, [preset, shards, Path(args.out) / preset, args.epochs, args.steps_per_epoch, args.crop,
                       args.batch_size, args.judge_steps, args.synthetic_steps],
            env={"KERAS_BACKEND": args.backend}, timeout=4 * 3600)
        rows.append({"preset": preset, "backend": args.backend, **result})
        print(json.dumps(rows[-1]), flush=True)
    columns = ["preset", "backend", "steps", "train_s", "psnr", "ssim", "pearson", "judge_dice_real",
               "consistency_ratio", "ap50_ratio", "fid_judge", "kid_judge", "n_test", "synthetic_dice_ratio",
               "real_plus_synthetic_dice_ratio", "error"]
    body = _common.table(rows, columns)
    print(body)
    _common.append_results("Quality on BBBC039 (issue 5)", body, "python benchmarks/quality.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
