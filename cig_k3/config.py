"""Run configuration: dataclasses for data, model, loss, optimiser and training, and presets.

Dataclasses configure runs; constructor arguments configure architectures. A preset is a
plain dict of overrides applied on top of the defaults (`config_from_preset`).
"""

import copy
import dataclasses
import json
from dataclasses import dataclass, field

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
JIT_MODES = ("auto", "on", "off")
ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge")
NAN_POLICIES = ("stop", "rollback")


@dataclass
class DataConfig:
    shards: str = ""
    crop: int = 128
    batch_size: int = 4
    workers: int = 0
    shuffle_buffer: int = 64
    augment: bool = True
    mixing: str = "none"  # none | random | center (MixLC paste)
    validation_batches: int = 4


@dataclass
class ModelConfig:
    generator: str = "unet"
    generator_args: dict = field(default_factory=dict)
    discriminator: str = "patchgan"
    discriminator_args: dict = field(default_factory=dict)
    gan: str = "conditional"  # which trainer model ties them together


@dataclass
class LossConfig:
    adversarial: str = "lsgan"
    l1_weight: float = 100.0
    extra: dict = field(default_factory=dict)  # model-specific weights (style, identity, ...)


@dataclass
class OptimizerConfig:
    generator_learning_rate: float = 2e-4
    discriminator_learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    # pix2pix's schedule: constant, then linear decay to 0 over the last `decay_epochs`.
    decay_epochs: int = 0


@dataclass
class TrainConfig:
    preset: str = "cig"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    epochs: int = 1
    steps_per_epoch: int = 100
    precision: str = "float32"
    jit: str = "auto"
    seed: int = 0
    out: str = "runs/latest"
    sample_every: int = 0  # steps between sample grids; 0 = once per epoch
    num_samples: int = 3  # dropout samples per condition in the grid
    nan_policy: str = "stop"
    verbose: int = -1  # Keras fit verbosity; -1: progress bar on a terminal, one line per epoch otherwise

    def validate(self):
        """Raise one clear ValueError per bad option."""
        checks = [
            (self.precision in PRECISIONS, f"--precision {self.precision!r}: choose one of {PRECISIONS}"),
            (self.jit in JIT_MODES, f"--jit {self.jit!r}: choose one of {JIT_MODES}"),
            (self.loss.adversarial in ADVERSARIAL_LOSSES,
             f"adversarial loss {self.loss.adversarial!r}: choose one of {ADVERSARIAL_LOSSES}"),
            (self.nan_policy in NAN_POLICIES, f"nan_policy {self.nan_policy!r}: choose one of {NAN_POLICIES}"),
            (self.data.batch_size >= 1, f"--batch-size must be at least 1, got {self.data.batch_size}"),
            (self.data.crop >= 8, f"--crop must be at least 8 pixels, got {self.data.crop}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.steps_per_epoch >= 1, f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}"),
            (self.optimizer.generator_learning_rate > 0,
             f"generator learning rate must be positive, got {self.optimizer.generator_learning_rate}"),
            (self.optimizer.discriminator_learning_rate > 0,
             f"discriminator learning rate must be positive, got {self.optimizer.discriminator_learning_rate}"),
            (self.data.mixing in ("none", "random", "center"),
             f"mixing {self.data.mixing!r}: choose one of none, random, center"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        sections = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optimizer": OptimizerConfig}
        for name, section in sections.items():
            if name in values:
                values[name] = _from_dict(section, values[name], name)
        return _from_dict(cls, values, "config")


def _from_dict(cls, values, where):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {where} option(s) {unknown}; known: {sorted(names)}")
    return cls(**values)


def flatten(values, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}: for logging a config as MLflow params."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


# Presets are plain dicts of overrides. Architectures are named in cig_k3.models.
PRESETS = {
    # The CIG cGAN of the original notes (seed 000): U-Net generator, PatchGAN with an 8x8
    # patch map at its 128x128 crop, discriminator compiled with loss="mse" (LSGAN),
    # generator loss = adversarial + 100 * MAE.
    "cig": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 32, "depth": 5, "max_filters": 256, "dropout_layers": 2},
            "discriminator": "patchgan",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 4, "padding": "same"},
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 100.0},
    },
    # pix2pix (Isola et al. 2017) reference: unet_256, 70x70 PatchGAN, BCE, L1 weight 100,
    # Adam 2e-4 with beta_1 0.5, batch 1.
    "pix2pix": {
        "data": {"crop": 256, "batch_size": 1},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 64, "depth": 8, "max_filters": 512, "dropout_layers": 3},
            "discriminator": "patchgan",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "padding": "pix2pix"},
        },
        "loss": {"adversarial": "bce", "l1_weight": 100.0},
        "optimizer": {"generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4, "beta_1": 0.5},
    },
}


def _merge(base, overrides):
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in (
            "generator_args", "discriminator_args", "extra"
        ):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_from_preset(name, overrides=None):
    """Build a TrainConfig from a preset name plus a nested dict of overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    values = _merge(TrainConfig(preset=name).to_dict(), PRESETS[name])
    values = _merge(values, overrides or {})
    return TrainConfig.from_dict(values).validate()
