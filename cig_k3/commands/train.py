"""`cig train`: train a preset on shards; the MLproject `train` entry point calls this too."""

import json
import logging
from pathlib import Path

from cig_k3.commands import integer, integer_or

log = logging.getLogger("cig.train")


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="folder of shards with manifest.json (cig prepare)")
    parser.add_argument("--data-b", default=None, help="second shard folder: domain B for cyclegan (unpaired)")
    parser.add_argument("--preset", default="realistic-instance",
                        help="model preset (realistic-instance, realistic, cig, pix2pix, ...)")
    parser.add_argument("--config", default=None, metavar="JSON",
                        help="a full config (as a run's config.json); options given here override it")
    parser.add_argument("--out", default=None, help="run folder (default runs/<preset>)")
    parser.add_argument("--epochs", type=integer, default=None)
    parser.add_argument("--steps-per-epoch", type=integer, default=None)
    parser.add_argument("--batch-size", type=integer_or("preset"), default=None,
                        help="samples per step; left out or 'preset': the preset's own")
    parser.add_argument("--crop", type=integer_or("preset"), default=None,
                        help="side of the square training crops; left out or 'preset': the preset's own")
    parser.add_argument("--precision", default=None, help="float32 | mixed_bfloat16 | mixed_float16")
    parser.add_argument("--jit", default=None, help="auto | on | off (XLA on TF/JAX, torch.compile on torch)")
    parser.add_argument("--distribute", default=None,
                        help="auto | none | data_parallel: split each batch over all local devices (JAX; "
                             "auto does so when there is more than one)")
    parser.add_argument("--seed", type=integer, default=None)
    parser.add_argument("--workers", type=integer, default=None, help="data loader worker processes")
    parser.add_argument("--on-error", choices=("fail", "skip"), default=None,
                        help="a corrupt shard: fail with one line naming it (default), or skip it with a warning")
    parser.add_argument("--adversarial", default=None,
                        help="lsgan | bce | hinge | wasserstein (each preset's gan takes some of them)")
    parser.add_argument("--l1-weight", type=float, default=None, help="gamma in g_adv + gamma * MAE")
    parser.add_argument("--g-lr", type=float, default=None, help="generator learning rate")
    parser.add_argument("--d-lr", type=float, default=None, help="discriminator learning rate (TTUR)")
    parser.add_argument("--decay-epochs", type=integer, default=None, help="pix2pix linear decay over the last N epochs")
    parser.add_argument("--decay-fraction", type=float, default=None, metavar="SHARE",
                        help="the same decay over the last SHARE of the epochs (e.g. 0.33; --decay-epochs wins)")
    parser.add_argument("--keep-discriminator-rate", action="store_true", default=None,
                        help="decay the generator's learning rate alone; the discriminator's stays constant")
    parser.add_argument("--generator-ema", type=float, default=None, metavar="MOMENTUM",
                        help="save a moving average of the generator's weights with this momentum "
                             "(e.g. 0.999; 0: the last weights)")
    parser.add_argument("--standing-statistics", type=integer, default=None, metavar="BATCHES",
                        help="measure the saved generator's batch-norm statistics again over this many "
                             "train batches when training ends (0: keep the moving averages)")
    parser.add_argument("--sample-every", type=integer, default=None, help="steps between sample grids (0: each epoch)")
    parser.add_argument("--nan-policy", default=None, help="stop | rollback")
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a killed run from its checkpoint")
    parser.add_argument("--tracking", choices=("mlflow", "none"), default="mlflow",
                        help="log the run to MLflow (MLFLOW_TRACKING_URI) or not")
    parser.add_argument("--run-name", default=None, help="MLflow run name (default says what differs)")
    parser.add_argument("--register", default=None, metavar="NAME",
                        help="register the trained generator as a new version of MLflow model NAME (alias candidate)")


def add_parser(subparsers):
    parser = subparsers.add_parser("train", help="train a GAN preset on prepared shards")
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def overrides_from_args(args):
    """Only the options given on the command line override the preset."""
    pairs = {
        ("data", "shards"): args.data,
        ("data", "shards_b"): args.data_b,
        ("data", "batch_size"): args.batch_size,
        ("data", "crop"): args.crop,
        ("data", "workers"): args.workers,
        ("data", "on_error"): args.on_error,
        ("loss", "adversarial"): args.adversarial,
        ("loss", "l1_weight"): args.l1_weight,
        ("optimizer", "generator_learning_rate"): args.g_lr,
        ("optimizer", "discriminator_learning_rate"): args.d_lr,
        ("optimizer", "decay_epochs"): args.decay_epochs,
        ("optimizer", "decay_fraction"): args.decay_fraction,
        ("optimizer", "decay_discriminator"): False if args.keep_discriminator_rate else None,
        ("optimizer", "generator_ema"): args.generator_ema,
        ("optimizer", "standing_statistics"): args.standing_statistics,
        ("epochs",): args.epochs,
        ("steps_per_epoch",): args.steps_per_epoch,
        ("precision",): args.precision,
        ("jit",): args.jit,
        ("distribute",): args.distribute,
        ("seed",): args.seed,
        ("sample_every",): args.sample_every,
        ("nan_policy",): args.nan_policy,
        ("out",): args.out,
    }
    overrides = {}
    for path, value in pairs.items():
        if value is None:
            continue
        target = overrides
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    if args.no_augment:
        overrides.setdefault("data", {})["augment"] = False
    return overrides


def config_from_args(args):
    from cig_k3.config import TrainConfig, _merge, config_from_preset

    overrides = overrides_from_args(args)
    if args.resume:
        saved = Path(args.resume) / "config.json"
        if not saved.exists():
            raise FileNotFoundError(f"{saved}: --resume needs a run folder written by cig train")
        values = _merge(json.loads(saved.read_text()), overrides)
        values["out"] = str(args.resume)
        return TrainConfig.from_dict(values).validate()
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not a JSON config ({error})") from None
        return TrainConfig.from_dict(_merge(values, overrides)).validate()
    overrides.setdefault("out", f"runs/{args.preset}")
    return config_from_preset(args.preset, overrides)


def run(args):
    from cig_k3.training import multihost
    from cig_k3.training.run import prepare_run, train

    config = config_from_args(args)
    if getattr(args, "register", None) and args.tracking != "mlflow":
        raise ValueError("--register needs --tracking mlflow: only a tracked run has a model to register")
    # Every check (data, channels, the GAN built for them) before the run folder and the MLflow run exist.
    prepared = prepare_run(config, resume=args.resume)
    callbacks, finish = [], None
    if args.tracking == "mlflow" and multihost.is_chief():  # of several processes, one tracks
        from cig_k3 import tracking

        callbacks, finish = tracking.training_callbacks(config, run_dir=config.out, run_name=args.run_name)
    try:
        result = train(config, resume=args.resume, callbacks=callbacks, prepared=prepared)
        if getattr(args, "register", None) and callbacks:
            from cig_k3.commands.register import register

            register(callbacks[0].run.run_id, args.register)
    finally:
        if finish is not None:
            finish()
    log.info("trained %d epochs (%d steps); generator at %s", result.epochs_done, result.steps_done,
             result.generator_path)
    return 0
