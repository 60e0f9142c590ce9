"""`cig main`: the whole job on the embedded default data, in one MLflow run.

synthetic fields -> shards -> train -> evaluate (test split) -> export (.keras + ONNX).
This is what `make run` and `mlflow run .` execute.
"""

import logging

from cig_k3.commands import integer, integer_or
from pathlib import Path

log = logging.getLogger("cig.main")


def add_parser(subparsers):
    parser = subparsers.add_parser("main", help="the whole job on the embedded synthetic data set")
    parser.add_argument("--out", default="runs/main", help="folder for shards, run, evaluation and exports")
    parser.add_argument("--count", type=integer, default=160, help="synthetic fields of view")
    parser.add_argument("--size", type=integer_or("auto"), default=None,
                        help="synthetic field size in pixels (default: the larger of 128 and the crop)")
    parser.add_argument("--preset", default="realistic-instance",
                        help="model preset (default realistic-instance: textured, diverse cells, each its own)")
    parser.add_argument("--epochs", type=integer, default=6)
    parser.add_argument("--steps-per-epoch", type=integer, default=100)
    parser.add_argument("--batch-size", type=integer_or("preset"), default=None, help="default: the preset's")
    parser.add_argument("--crop", type=integer_or("preset"), default=None, help="default: the preset's")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", default="auto")
    parser.add_argument("--seed", type=integer, default=0)
    parser.add_argument("--tracking", choices=("mlflow", "none"), default="mlflow")
    parser.add_argument("--export-format", default="onnx", choices=("keras", "savedmodel", "onnx", "none"))
    parser.add_argument("--register", default=None, metavar="NAME",
                        help="register the generator as a new version of MLflow model NAME (alias candidate)")
    parser.set_defaults(func=run)
    return parser




def run(args):
    from data_prep import prepare

    from cig_k3.config import config_from_preset
    from cig_k3.training.run import prepare_run, train

    if getattr(args, "register", None) and args.tracking != "mlflow":
        raise ValueError("--register needs --tracking mlflow: only a tracked run has a model to register")
    out = Path(args.out)
    shards = out / "shards"
    given = {"crop": args.crop, "batch_size": args.batch_size}  # None: the preset's own
    config = config_from_preset(args.preset, {
        "data": {"shards": str(shards), **{key: value for key, value in given.items() if value is not None}},
        "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "precision": args.precision,
        "jit": args.jit, "seed": args.seed, "out": str(out / "run"),
    })
    prepare("synthetic", shards, count=args.count, size=args.size or max(128, config.data.crop), seed=args.seed)
    prepared = prepare_run(config)  # every check before the run folder and the MLflow run exist

    callbacks, finish, tracked = [], None, None
    if args.tracking == "mlflow":
        from cig_k3 import tracking

        callbacks, finish = tracking.training_callbacks(config, run_dir=config.out)
        tracked = callbacks[0].run if callbacks else None
    try:
        result = train(config, callbacks=callbacks, prepared=prepared)
        report = _evaluate(result.run_dir, shards, tracked)
        _export(result.run_dir, args.export_format, tracked)
        if getattr(args, "register", None) and tracked is not None:
            from cig_k3.commands.register import register

            register(tracked.run_id, args.register)
    finally:
        if finish is not None:
            finish()
    if report:
        from cig_k3.commands.evaluate import summary

        print(summary(report, Path(result.run_dir) / "evaluation", tracked))
    log.info("done: run %s", result.run_dir)
    return 0


def _evaluate(run_dir, shards, tracked):
    try:
        from cig_k3.evaluation.evaluate import evaluate_run
    except ImportError:  # the evaluation command is optional in a minimal install
        log.warning("cig evaluate is not available; skipping evaluation")
        return {}
    from cig_k3.evaluation.inception import InceptionUnavailable, network_path

    try:
        network_path()
        realism = True
    except InceptionUnavailable as error:
        log.warning("realism metrics skipped: %s", error)
        realism = False
    report = evaluate_run(run_dir, shards, split="test", out=Path(run_dir) / "evaluation", tracked=tracked,
                          realism=realism)
    return report


def _export(run_dir, fmt, tracked):
    if fmt == "none":
        return None
    from cig_k3.export import export_model

    suffix = {"keras": ".keras", "onnx": ".onnx", "savedmodel": "_savedmodel"}[fmt]
    result = export_model(Path(run_dir) / "generator.keras", fmt, Path(run_dir) / f"generator{suffix}")
    log.info("exported %s via %s (max abs diff %.2e)", result.path, result.route, result.max_abs_diff)
    if tracked is not None:
        from cig_k3 import tracking

        tracking.log_metrics(tracked, {f"export_{fmt}_max_abs_diff": result.max_abs_diff})
        if Path(result.path).is_file():
            tracking.log_artifact(tracked, result.path, "export")
    return result
