"""`train(config)`: data stream -> GAN -> fit -> RUN_DIR with checkpoints and saved models.

This module is the one code path behind `cig train`, the MLproject entry points and the
benchmarks. It never imports mlflow: tracking comes in as extra Keras callbacks.
"""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np

from cig_k3.training import callbacks as cb, multihost
from cig_k3.training.backend import adam as adam_optimizer
from cig_k3.training.checkpoint import CHECKPOINT, load_checkpoint, read_header
from cig_k3.training.gan import Networks
from cig_k3.training.gans import gan_class
from cig_k3.training.schedules import LinearDecay

log = logging.getLogger(__name__)


class TrainingDiverged(ValueError):
    """Losses became NaN or Inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    generator_path: Path
    history: dict
    epochs_done: int
    steps_done: int


def build_gan(config, condition_channels, target_channels):
    """The GAN a TrainConfig names (`model.gan`, looked up in `cig_k3.training.gans.GANS`),
    built for the data's channel counts: the class builds the networks the preset names
    (`GAN.build`) and takes the loss settings (adversarial, l1_weight, loss.extra)."""
    model = config.model
    gan_type = gan_class(model.gan)
    _check_channel_args(config, condition_channels, target_channels)

    def training_crops():
        from cig_k3.data import BatchStream

        return BatchStream(config.data.shards, split="train", batch_size=config.data.batch_size,
                           crop=config.data.crop, seed=config.seed, steps_per_epoch=32)

    networks = Networks(
        generator=model.generator, generator_args=dict(model.generator_args), discriminator=model.discriminator,
        discriminator_args=dict(model.discriminator_args), condition_channels=condition_channels,
        target_channels=target_channels, image_size=config.data.crop, seed=config.seed,
        training_crops=training_crops,
    )
    gan = gan_type.build(networks, adversarial=config.loss.adversarial, l1_weight=config.loss.l1_weight,
                         **config.loss.extra)
    multiple = getattr(gan.generator, "size_multiple", 1)
    if config.data.crop % multiple:
        raise ValueError(
            f"--crop {config.data.crop} is not a multiple of {multiple}, which the "
            f"{model.generator} generator of preset {config.preset!r} needs"
        )
    return gan


def _check_channel_args(config, condition_channels, target_channels):
    """Channel counts written in the config must be those the shards give (they are taken from
    the shards otherwise); the error says which network and which count disagree."""
    expected = (
        ("generator_args", "in_channels", condition_channels, "condition"),
        ("generator_args", "out_channels", target_channels, "target"),
        ("discriminator_args", "condition_channels", condition_channels, "condition"),
        ("discriminator_args", "image_channels", target_channels, "target"),
    )
    for section, name, wanted, kind in expected:
        given = getattr(config.model, section).get(name)
        if given is not None and int(given) != wanted:
            raise ValueError(
                f"model.{section}.{name} is {given} but the shards in {config.data.shards} give {wanted} "
                f"{kind} channel(s); remove it from the config (it is taken from the shards) or use matching shards"
            )


def check_resume_channels(run_dir, header, condition_channels, target_channels, shards):
    """A resumed run must see the channel counts its networks were built for."""
    built = header.get("channels")
    if not built:
        return  # a checkpoint from before channels were recorded: the variable shapes are checked on load
    now = {"condition": condition_channels, "target": target_channels}
    wrong = [kind for kind in ("condition", "target") if int(built[kind]) != now[kind]]
    if wrong:
        built_text = " and ".join(f"{built[k]} {k}" for k in wrong)
        now_text = " and ".join(f"{now[k]} {k}" for k in wrong)
        raise ValueError(
            f"--resume {run_dir}: its generator and discriminator were built for {built_text} channel(s) "
            f"but the shards in {shards} give {now_text}; resume with the shards it was trained on, "
            "or start a new run"
        )


def make_optimizers(config, learning_rate_scale=1.0):
    opt = config.optimizer
    total = config.epochs * config.steps_per_epoch
    decay_epochs = opt.decay_epochs or round(opt.decay_fraction * config.epochs)
    decay = decay_epochs * config.steps_per_epoch

    def adam(learning_rate, ema=0.0, decays=True):
        learning_rate *= learning_rate_scale
        if decay and decays:
            learning_rate = LinearDecay(learning_rate, total - decay, decay)
        # Keras' own weight average: updated in every apply, written over the weights when
        # fit() ends (GANOptimizer.finalize_variable_values).
        average = {"use_ema": True, "ema_momentum": ema} if ema else {}
        optimizer = adam_optimizer(learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2, **average)
        if config.precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    return (adam(opt.generator_learning_rate, opt.generator_ema),
            adam(opt.discriminator_learning_rate, decays=opt.decay_discriminator))


def jit_setting(mode):
    """--jit auto|on|off -> Keras' jit_compile: XLA on TF/JAX, torch.compile on torch."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return keras.backend.backend() == "jax"


def distribution_setting(mode, batch_size):
    """--distribute auto|none|data_parallel -> a keras.distribution.DataParallel, or None.

    Data parallelism goes through Keras' distribution API, which JAX implements: the batch
    is split over the devices, variables are replicated, and XLA inserts the gradient
    all-reduce, so the training code is the same for one device and for eight. Started once
    per host (`cig_k3.training.multihost`), the processes join first, and the devices are
    those of every process.
    """
    if mode == "none":
        return None
    if multihost.wants_several_processes(mode):
        multihost.initialize()
    if keras.backend.backend() != "jax":
        if mode == "data_parallel":
            raise ValueError(
                f"--distribute data_parallel needs KERAS_BACKEND=jax (Keras' distribution API); "
                f"this is {keras.backend.backend()}"
            )
        return None
    devices = keras.distribution.list_devices()
    if mode == "auto" and len(devices) < 2:
        return None
    if batch_size % len(devices):
        raise ValueError(f"--batch-size {batch_size} must be a multiple of the {len(devices)} devices "
                         f"that --distribute {mode} splits it over")
    log.info("data parallel over %d devices: %s", len(devices), ", ".join(devices))
    # Each process already feeds its own slice (BatchStream(process=...)): no sharding by Keras.
    return keras.distribution.DataParallel(devices=devices, auto_shard_dataset=multihost.process_count() == 1)


def _atomic_save(model, path):
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _validation_arrays(stream, batches):
    conditions, targets = [], []
    for i, batch in enumerate(stream.epoch(0)):
        if i >= batches:
            break
        conditions.append(batch[0])
        targets.append(batch[1])
    if not conditions:
        return None
    if isinstance(conditions[0], dict):
        condition = {key: np.concatenate([c[key] for c in conditions]) for key in conditions[0]}
    else:
        condition = np.concatenate(conditions)
    return condition, np.concatenate(targets)


def _verbosity(verbose):
    if verbose >= 0:
        return verbose
    return 1 if sys.stderr.isatty() else 2


@dataclasses.dataclass
class PreparedRun:
    """What `train()` reads, checks and builds before it writes anything (`prepare_run`)."""

    config: object  # the TrainConfig
    run_dir: Path
    resume: object
    stream: object
    validation: object
    first_batch: object
    channels: dict
    gan: object
    distribution: object
    process: tuple = (0, 1)  # (index, count) of this training process

    @property
    def local_batch_size(self):
        """Rows of each global batch that this process feeds."""
        return self.config.data.batch_size // self.process[1]


@contextlib.contextmanager
def _distributed(distribution, replace=False):
    """Keras' global distribution set to `distribution` (if any, or also None with `replace`)
    for the block, then restored."""
    if distribution is None and not replace:
        yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(distribution)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def prepare_run(config, resume=None, augment=None):
    """Every check `train()` makes, and the GAN it trains, with nothing written.

    Validates the config, opens the data streams, reads the validation batches (or the first
    training batch), checks the channel counts against the config and a resumed checkpoint,
    and builds the GAN for the data's channels: an unknown gan or generator, a crop that is
    not a multiple of what the generator needs, or a loss the GAN refuses all fail here, in
    one line, before any run folder, config.json or MLflow run exists. Callers that start
    something of their own (`cig train`'s MLflow run) call this first and hand the result to
    `train(..., prepared=...)`.

    Returns a PreparedRun.
    """
    from cig_k3.data import AugmentConfig, BatchStream, has_split
    from cig_k3.training.camera_calibration import calibrate_camera_noise

    config.validate()
    # Before anything is built or written: a "calibrated" camera noise's read and shot levels,
    # measured on the train split and written into the config that config.json and the tracking record.
    calibrate_camera_noise(config)
    distribution = distribution_setting(config.distribute, config.data.batch_size)
    process = (multihost.process_index(), multihost.process_count()) if distribution is not None else (0, 1)
    local_batch = config.data.batch_size // process[1]
    run_dir = Path(resume or config.out)
    keras.utils.set_random_seed(config.seed)
    keras.config.set_dtype_policy(config.precision)

    if augment is None and config.data.augment:
        augment = AugmentConfig()
    mixing = None if config.data.mixing == "none" else config.data.mixing
    # A generator that takes an instance map gets conditions {"label", "instances"}.
    instance_condition = _takes_instances(config.model.generator)
    # Several processes: each reads its share of the shards (an uneven share stops here) and
    # yields its slice of the global batch.
    stream = BatchStream(
        config.data.shards, split="train", batch_size=local_batch, crop=config.data.crop,
        augment=augment if config.data.augment else None, seed=config.seed, workers=config.data.workers,
        mixing=mixing, steps_per_epoch=config.steps_per_epoch, shuffle_buffer=config.data.shuffle_buffer,
        on_error=config.data.on_error, process=process, instance_condition=instance_condition,
    )
    val_stream = None
    if has_split(stream.manifest, "val"):
        val_stream = BatchStream(
            config.data.shards, split="val", batch_size=config.data.batch_size, crop=config.data.crop,
            augment=None, seed=config.seed, mixing=mixing, on_error=config.data.on_error,
            instance_condition=instance_condition,
        )
    else:  # the rule for a data set without val fields (README): validate on nothing, and say so
        log.warning("%s has no val split: training without validation metrics", config.data.shards)
    if config.data.shards_b:  # unpaired translation (CycleGAN): domain A from shards, B from shards_b
        from cig_k3.data.unpaired import UnpairedStream

        stream = UnpairedStream.beside(stream, config.data.shards_b)
        if val_stream is not None:
            val_stream = UnpairedStream.beside(val_stream, config.data.shards_b)
    # Data and config errors (a crop larger than the fields, a corrupt shard) surface here.
    validation = _validation_arrays(val_stream, config.data.validation_batches) if val_stream else None
    first_batch = validation if validation is not None else next(iter(stream.epoch(0)))
    if process[1] > 1:
        validation, first_batch = multihost.per_process_inputs(config, stream, validation, first_batch, process)
    channels = {"condition": stream.condition_channels, "target": stream.target_channels}
    if resume and (run_dir / CHECKPOINT).exists():
        check_resume_channels(run_dir, read_header(run_dir), channels["condition"], channels["target"],
                              config.data.shards)
    # The GAN for the data's channels (build_gan checks the channel counts written in the
    # config, the gan and network names, the crop multiple and the loss).
    with _distributed(distribution):  # variables are laid out as they are created
        gan = build_gan(config, channels["condition"], channels["target"])
    return PreparedRun(config, run_dir, resume, stream, validation, first_batch, channels, gan, distribution,
                       process)


def _takes_instances(generator_name):
    """Whether the registered generator `generator_name` takes an instance map."""
    from cig_k3.models import GENERATORS

    return bool(getattr(GENERATORS.get(generator_name), "takes_instances", False))


def train(config, resume=None, callbacks=(), augment=None, prepared=None):
    """Train a GAN as configured; with `resume=RUN_DIR`, continue from its checkpoint.

    Args:
        config: the TrainConfig.
        resume: a run folder to continue from its checkpoint, or None.
        callbacks: extra Keras callbacks (tracking).
        augment: an AugmentConfig, or None for the default one (when config.data.augment).
        prepared: `prepare_run(config, resume, augment)`, when the caller made the checks
            first; made here otherwise. Nothing is written before it exists.

    Returns a TrainResult. Raises TrainingDiverged when losses become non-finite (after
    rolling back, if `config.nan_policy == "rollback"`, up to three times).
    """
    if prepared is None:
        prepared = prepare_run(config, resume=resume, augment=augment)
    config, run_dir = prepared.config, prepared.run_dir

    if multihost.is_chief():  # of several training processes, process 0 alone writes
        run_dir.mkdir(parents=True, exist_ok=True)
        # Temporaries of a killed run (a checkpoint or model write cut short) are never read;
        # the complete files they were meant to replace are.
        for stale in [*run_dir.glob(f".{CHECKPOINT}.*.tmp"), *run_dir.glob(".*.tmp.keras")]:
            log.info("removing %s, left by an interrupted write", stale)
            stale.unlink(missing_ok=True)
        (run_dir / "config.json").write_text(config.to_json())
        shutil.copyfile(Path(config.data.shards) / "manifest.json", run_dir / "manifest.json")

    with _distributed(prepared.distribution):
        return _fit(prepared, callbacks)


def _cluster_fit(generator, config, guard):
    """[a callback fitting pix2pixHD's feature clusters when training ends] for a generator
    that draws per-instance features at inference (k-means of the train split's, saved with
    the generator), else []."""
    if not callable(getattr(generator, "fit_clusters", None)):
        return []
    from cig_k3.training.instance_clusters import FitInstanceClusters

    return [FitInstanceClusters(config.data.shards, seed=config.seed, guard=guard)]


def _standing_statistics(config, guard):
    """[a callback measuring the generator's batch-norm statistics again when training ends,
    for its final weights] when `optimizer.standing_statistics` asks for it, else []."""
    if not config.optimizer.standing_statistics:
        return []
    from cig_k3.training.standing_statistics import StandingStatistics

    return [StandingStatistics(config.data.shards, config.data.crop, config.data.batch_size,
                               config.optimizer.standing_statistics, seed=config.seed, guard=guard)]


def _fit(prepared, callbacks):
    config, run_dir, resume, stream = prepared.config, prepared.run_dir, prepared.resume, prepared.stream
    validation, first_batch, channels = prepared.validation, prepared.first_batch, prepared.channels
    batch_size, chief = prepared.local_batch_size, multihost.is_chief()
    learning_rate_scale, rollbacks = 1.0, 0
    gan = prepared.gan  # built by prepare_run; rebuilt from scratch for a rollback
    while True:
        if gan is None:
            gan = build_gan(config, channels["condition"], channels["target"])
        gan.compile(*make_optimizers(config, learning_rate_scale), jit_compile=jit_setting(config.jit))
        initial_epoch, initial_step = 0, 0
        if (run_dir / CHECKPOINT).exists() and (resume or rollbacks):
            header = load_checkpoint(gan, run_dir)
            initial_epoch, initial_step = header["epoch"], header["step"]
            log.info("resuming %s at epoch %d, step %d", run_dir, initial_epoch, initial_step)

        counter = cb.StepCounter(initial_step)
        guard = cb.NaNGuard(counter)
        condition, target = first_batch[0], first_batch[1]
        if not isinstance(condition, dict):
            condition, target = condition[:4], target[:4]
        grid = cb.SampleGrid(
            run_dir, condition, target, counter, every=config.sample_every, num_samples=config.num_samples,
            condition_is_label=stream.task == "mask2image", writes=chief,
        )
        writer = cb.HistoryWriter(run_dir) if chief else None
        checkpointer = cb.Checkpointer(run_dir, counter, guard, {"config": config.to_dict(), "channels": channels})
        clusters = _cluster_fit(gan.generator, config, guard)  # before tracking logs the generator
        standing = _standing_statistics(config, guard)  # after the clusters: its inputs draw from them
        all_callbacks = [
            counter, cb.Throughput(config.data.batch_size), guard, *([checkpointer, writer] if chief else []),
            grid, *clusters, *standing, *callbacks,
        ]
        history = {}
        if initial_epoch == 0 and validation is not None:
            # The validation metrics at initialisation, as epoch 0, to measure improvement.
            start = gan.evaluate(*validation, batch_size=batch_size, verbose=0, return_dict=True)
            if writer is not None:
                writer.on_epoch_end(-1, {f"val_{k}": v for k, v in start.items()})
            gan.reset_metrics()
        if initial_epoch < config.epochs:
            history = gan.fit(
                stream.forever(start_epoch=initial_epoch),
                steps_per_epoch=config.steps_per_epoch, epochs=config.epochs, initial_epoch=initial_epoch,
                validation_data=validation, validation_batch_size=batch_size,
                callbacks=all_callbacks, verbose=_verbosity(config.verbose), shuffle=False,
            ).history
        if guard.message is None:
            break
        kept = run_dir / CHECKPOINT
        if config.nan_policy == "rollback" and kept.exists() and rollbacks < 3:
            rollbacks += 1
            learning_rate_scale *= 0.1
            log.warning("%s; rolling back to %s with learning rates x%g", guard.message, kept, learning_rate_scale)
            resume, gan = run_dir, None
            continue
        where = f"the last good checkpoint {kept} is kept" if kept.exists() else "no checkpoint was written"
        raise TrainingDiverged(f"training diverged: {guard.message}; {where}")

    generator_path = run_dir / "generator.keras"
    if initial_epoch >= config.epochs:  # resumed past its last epoch: fit() never ran, nor its ending
        # What fit() does when it ends: the weight average (generator_ema) over the weights;
        # without it generator.keras would be saved again with the checkpoint's last weights.
        gan.optimizer.finalize_variable_values(gan.trainable_weights)
        if clusters:
            from cig_k3.training.instance_clusters import fit_instance_clusters

            fit_instance_clusters(gan.generator, config.data.shards, seed=config.seed)
        if standing:
            standing[0].run(gan.generator)
    if chief:
        # Saving builds throw-away variables (Keras' optimizer skip set); under a distribution
        # of several processes that would wait for the others, so it runs without one.
        with _distributed(None if prepared.process[1] > 1 else prepared.distribution, replace=True):
            _atomic_save(gan.generator, generator_path)
            _atomic_save(gan, run_dir / "gan.keras")
        (run_dir / "samples_written.json").write_text(json.dumps([str(p) for p in grid.paths]))
    return TrainResult(run_dir, generator_path, history, config.epochs, counter.step)
