"""`cig evaluate`: fidelity and realism of a trained generator, or of a folder of anyone's
images, on a split of shards; logged to the run's MLflow run and written as a report.

The measuring lives in `cig_k3.evaluation.evaluate`; this module is the command line."""

import argparse
import logging
import os
from pathlib import Path

from cig_k3.commands import integer
from cig_k3.evaluation.evaluate import default_out, evaluate_images, evaluate_run  # noqa: F401 - the public entry points
from cig_k3.evaluation.judge import get_judge  # noqa: F401 - where benchmarks/quality.py has long found it

log = logging.getLogger("cig.evaluate")


def add_parser(subparsers):
    parser = subparsers.add_parser("evaluate", help="measure a trained generator (or a folder of images) on a split")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="run folder (or generator .keras) of cig train")
    source.add_argument("--images", help="folder of generated images from any tool, matched to the split's masks "
                                         "by file stem (TIFF/PNG in the data's intensity scale)")
    parser.add_argument("--data", required=True, help="shard folder (cig prepare)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--out", default=None, help="report folder (default MODEL/evaluation or IMAGES_evaluation)")
    parser.add_argument("--crop", type=integer, default=None, help="crop of the fidelity metrics (default: the run's)")
    parser.add_argument("--max-images", type=integer, default=64, help="crops scored for fidelity")
    parser.add_argument("--max-fields", type=integer, default=None,
                        help="whole fields scored for realism (default: the whole split)")
    parser.add_argument("--samples", type=integer, default=8, help="samples per mask for uncertainty and diversity")
    parser.add_argument("--judge", default=None,
                        help="segmenter .keras that judges mask consistency (default DATA/judge/judge.keras, "
                             "trained on DATA's train split on first use and kept, so every model meets the same judge)")
    parser.add_argument("--judge-steps", type=integer, default=200, help="training steps of a new judge")
    parser.add_argument("--realism", choices=("on", "off"), default="on",
                        help="Inception FID/KID, C2ST, cell features, spectra and diversity on whole fields")
    parser.add_argument("--c2st-steps", type=integer, default=300, help="training steps of the C2ST CNN (0: skip it)")
    parser.add_argument("--tile", type=integer, default=None, help="realism tile size (default 128)")
    parser.add_argument("--draws", type=integer, default=4,
                        help="draws of every mask (and train subsets for the floor) whose checkerboard peaks are "
                             "averaged: one draw of a few dozen fields moves the peak by tenths of a dB")
    parser.add_argument("--inception-weights", default=None, help=argparse.SUPPRESS)  # superseded by the installed FID network
    parser.add_argument("--tracking", choices=("mlflow", "none"), default="mlflow")
    parser.set_defaults(func=run)
    return parser


def run(args):
    from cig_k3.evaluation.realism import RealismOptions

    options = RealismOptions(tile=args.tile, cnn_steps=args.c2st_steps, draws=args.draws)
    if args.images:
        out = Path(args.out) if args.out else None
        tracked = None
        results = evaluate_images(args.images, args.data, split=args.split, out=out, realism_options=options,
                                  max_fields=args.max_fields)
        out = out or Path(args.images).parent / f"{Path(args.images).name}_evaluation"
    else:
        model = Path(args.model)
        run_dir = model.parent if model.suffix == ".keras" else model
        tracked = _attach_run(run_dir) if args.tracking == "mlflow" else None
        out = Path(args.out or default_out(model))
        results = evaluate_run(
            model, args.data, split=args.split, out=out, tracked=tracked, crop=args.crop,
            max_images=args.max_images, samples=args.samples, judge_path=args.judge, judge_steps=args.judge_steps,
            realism=args.realism == "on", max_fields=args.max_fields, realism_options=options,
        )
    print(summary(results, out, tracked))
    return 0


def summary(results, out, tracked=None):
    """What the terminal shows: the realism table (metric | generated | floor | baselines),
    the fidelity headline, and where the report, the JSON and the MLflow UI are."""
    from cig_k3.evaluation.realism import format_table

    lines = []
    if "realism" in results:
        lines.append(format_table(results["realism"]))
    head = results.get("headline", {})
    fidelity = [f"{name} {head[key]:.3g}" for name, key in (
        ("PSNR", "psnr"), ("SSIM", "ssim"), ("Pearson", "pearson"),
        ("mask consistency (judge Dice ratio)", "consistency_dice_foreground_ratio"),
        ("mask-fidelity FID (judge features)", "mask_fidelity_fid")) if isinstance(head.get(key), (int, float))]
    if fidelity:
        lines.append("fidelity to the input: " + ", ".join(fidelity))
    lines.append(f"report:  {Path(out) / 'report.html'}")
    lines.append(f"results: {Path(out) / 'results.json'}")
    if tracked is not None:
        uri = getattr(tracked, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlruns.db")
        lines.append(f"compare runs: mlflow ui --host 127.0.0.1 --backend-store-uri {uri}")
    return "\n".join(lines)


def _attach_run(run_dir):
    try:
        from cig_k3 import tracking

        return tracking.attach_run(run_dir)
    except Exception as error:  # noqa: BLE001 - evaluation never depends on the tracking store
        log.warning("not logging to MLflow: %s", error)
        return None

