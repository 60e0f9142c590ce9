"""Run configuration: dataclasses for data, model, loss, optimiser and training, and presets.

Dataclasses configure runs; constructor arguments configure architectures. A preset is a
plain dict of overrides applied on top of the defaults (`config_from_preset`).

Overrides merge deeply, at every level: `{"model": {"generator_args": {"depth": 4}}}`
changes the depth and keeps the preset's other generator arguments. To replace a dict
whole, end its key with "!": `{"model": {"generator_args!": {"base_filters": 8}}}` drops
every generator argument of the preset but base_filters. Both hold for every overrides
dict given to `config_from_preset` (the CLI options, the tests' tiny configs, benchmarks).
"""

import copy
import dataclasses
import json
from dataclasses import dataclass, field

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
JIT_MODES = ("auto", "on", "off")
DISTRIBUTE_MODES = ("auto", "none", "data_parallel")
ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge", "wgan-gp")  # wgan-gp: the wgan-gp preset only
# The adversarial losses each `model.gan` trains with: the conditional systems take those of
# cig_k3.losses.adversarial, the families of issue 9 those of families/base.py, and WGAN-GP
# only its own critic loss. Checked in validate(), before anything is built or written.
_SYSTEM_LOSSES = ("lsgan", "bce", "hinge")
_FAMILY_LOSSES = ("bce", "lsgan")
GAN_LOSSES = {
    "conditional": _SYSTEM_LOSSES, "attention": _SYSTEM_LOSSES, "mixlc": _SYSTEM_LOSSES,
    "feature_matching": _SYSTEM_LOSSES, "dcgan": _FAMILY_LOSSES, "cgan": _FAMILY_LOSSES, "bigan": _FAMILY_LOSSES,
    "cyclegan": _FAMILY_LOSSES, "wgan-gp": ("wgan-gp",),
}
REPLACE_SUFFIX = "!"  # {"generator_args!": {...}} replaces the dict instead of merging into it
NAN_POLICIES = ("stop", "rollback")
ON_ERROR = ("fail", "skip")


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
    shards_b: str = ""  # a second shard folder: domain B of unpaired translation (cyclegan)
    on_error: str = "fail"  # a corrupt shard: fail (one-line error) or skip (warn once, go on)


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
    # Data parallel over all local accelerators through Keras' distribution API (JAX):
    # "auto" uses it when JAX sees more than one device, so one script serves 1 or 8 GPUs.
    distribute: str = "auto"
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
            (self.distribute in DISTRIBUTE_MODES,
             f"--distribute {self.distribute!r}: choose one of {DISTRIBUTE_MODES}"),
            (self.loss.adversarial in ADVERSARIAL_LOSSES,
             f"adversarial loss {self.loss.adversarial!r}: choose one of {ADVERSARIAL_LOSSES}"),
            (self.model.gan in GAN_LOSSES, f"model.gan {self.model.gan!r}: choose one of {sorted(GAN_LOSSES)}"),
            (self.loss.adversarial in GAN_LOSSES.get(self.model.gan, ADVERSARIAL_LOSSES),
             f"--adversarial {self.loss.adversarial!r} (loss.adversarial): the {self.model.gan!r} gan of preset "
             f"{self.preset!r} trains with one of {GAN_LOSSES.get(self.model.gan)}"),
            (self.nan_policy in NAN_POLICIES, f"nan_policy {self.nan_policy!r}: choose one of {NAN_POLICIES}"),
            (self.data.batch_size >= 1, f"--batch-size must be at least 1, got {self.data.batch_size}"),
            (self.data.crop >= 8, f"--crop must be at least 8 pixels, got {self.data.crop}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.steps_per_epoch >= 1, f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}"),
            (self.optimizer.generator_learning_rate > 0,
             f"generator learning rate must be positive, got {self.optimizer.generator_learning_rate}"),
            (self.optimizer.discriminator_learning_rate > 0,
             f"discriminator learning rate must be positive, got {self.optimizer.discriminator_learning_rate}"),
            (self.model.gan != "cyclegan" or bool(self.data.shards_b),
             "the cyclegan preset translates between two shard folders: give data.shards_b (--data-b)"),
            (self.data.on_error in ON_ERROR, f"--on-error {self.data.on_error!r}: choose one of {ON_ERROR}"),
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
    # Seed 002 (French notes): attention-guided generator (one encoder, image and attention
    # decoders, dilated bottleneck), U-Net discriminator with one logit per pixel, identity loss.
    "attention": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "attention",
            "generator_args": {"base_filters": 32, "depth": 3, "max_filters": 256, "dropout_layers": 1},
            "discriminator": "unet",
            "discriminator_args": {"base_filters": 16, "depth": 3},
            "gan": "attention",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 100.0, "extra": {"identity_weight": 5.0}},
    },
    # Seed 001: MixLC ACGAN on mixing batches (a's raw + mixed label -> mixed raw); two-branch
    # generator, 8x8 patch + per-pixel auxiliary classifier; STYLE 0.45, ADV 0.05, PIXEL 0.5.
    # Set loss.extra.vgg_weights to a VGG16 weights file for the relu3_3 style loss.
    "mixlc": {
        "data": {"crop": 64, "batch_size": 4, "mixing": "random"},
        "model": {
            "generator": "mixlc",
            "generator_args": {"base_filters": 32, "depth": 4, "max_filters": 256, "dropout_layers": 1},
            "discriminator": "mixlc",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 3},
            "gan": "mixlc",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.5,
                 "extra": {"style_weight": 0.45, "adv_weight": 0.05, "auxiliary_weight": 1.0, "identity_weight": 1.0}},
    },
    # Seed 003: pix2pixHD for virtual staining: coarse-to-fine generator (G1 at half resolution
    # + local enhancer), three PatchGANs at 1, 1/2, 1/4 scale, LSGAN + 10 x feature matching,
    # instance norm. generator_args.global_only=True trains G1 alone first.
    "pix2pixhd": {
        "data": {"crop": 256, "batch_size": 1},
        "model": {
            "generator": "pix2pixhd",
            "generator_args": {"base_filters": 32, "global_downsamples": 4, "global_blocks": 9, "local_blocks": 3,
                               "norm": "instance"},
            "discriminator": "multiscale",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "num_scales": 3, "norm": "instance"},
            "gan": "feature_matching",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.0,
                 "extra": {"feature_matching_weight": 10.0, "vgg_weight": 10.0}},
    },
    # SPADE / GauGAN (Park et al. 2019) for label -> image: SPADE residual blocks, multi-scale
    # discriminator, hinge loss + 10 x feature matching, TTUR (G 1e-4, D 4e-4, betas 0, 0.9).
    "spade": {
        "data": {"crop": 128, "batch_size": 4},
        "model": {
            "generator": "spade",
            "generator_args": {"base_filters": 32, "num_upsamples": 4, "hidden_filters": 64, "norm": "batch"},
            "discriminator": "multiscale",
            "discriminator_args": {"base_filters": 32, "num_downsamples": 3, "num_scales": 2, "norm": "instance"},
            "gan": "feature_matching",
        },
        "loss": {"adversarial": "hinge", "l1_weight": 0.0,
                 "extra": {"feature_matching_weight": 10.0, "vgg_weight": 10.0}},
        "optimizer": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4,
                      "beta_1": 0.0, "beta_2": 0.9},
    },
    # Issue 9: the GAN families of seed 004 on the same trainer. dcgan, wgan-gp and bigan
    # learn unconditional field crops (the stream's label is ignored); cgan conditions on the
    # crop's density class (sparse / medium / dense foreground, tertiles of the training
    # crops); cyclegan translates raw images of data.shards (A) <-> data.shards_b (B), unpaired.
    # DCGAN (Radford et al. 2016): transposed convolutions, batch norm, no dense layers, BCE
    # from logits, Adam 2e-4 with beta_1 0.5, batch 128 in the paper (16 here).
    "dcgan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "dcgan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
    "cgan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "cgan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
    # WGAN-GP (Gulrajani et al. 2017): layer-norm critic, lambda 10, n_critic 5, Adam 1e-4, betas (0, 0.9).
    "wgan-gp": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 100, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64, "norm": "layer"},
            "gan": "wgan-gp",
        },
        "loss": {"adversarial": "wgan-gp", "l1_weight": 0.0, "extra": {"n_critic": 5, "penalty_weight": 10.0}},
        "optimizer": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 1e-4,
                      "beta_1": 0.0, "beta_2": 0.9},
    },
    # BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder + joint (x, z) discriminator.
    "bigan": {
        "data": {"crop": 64, "batch_size": 16},
        "model": {
            "generator": "dcgan", "generator_args": {"latent_dim": 64, "base_filters": 64},
            "discriminator": "dcgan", "discriminator_args": {"base_filters": 64},
            "gan": "bigan",
        },
        "loss": {"adversarial": "bce", "l1_weight": 0.0},
    },
    # CycleGAN (Zhu et al. 2017): U-Net generators with instance norm and no dropout, 70x70
    # PatchGANs on single images, LSGAN, cycle 10, identity 5 (0.5 x 10), pools of 50, batch 1.
    "cyclegan": {
        "data": {"crop": 128, "batch_size": 1},
        "model": {
            "generator": "unet",
            "generator_args": {"base_filters": 32, "depth": 7, "max_filters": 256, "dropout_layers": 0,
                               "norm": "instance"},
            "discriminator": "image_patchgan",
            "discriminator_args": {"base_filters": 64, "num_downsamples": 3, "norm": "instance"},
            "gan": "cyclegan",
        },
        "loss": {"adversarial": "lsgan", "l1_weight": 0.0,
                 "extra": {"cycle_weight": 10.0, "identity_weight": 5.0, "pool_size": 50}},
    },
}


def _merge(base, overrides):
    """`overrides` on top of `base`, deeply: a dict merges into the dict it overrides, key by
    key, at every level. A key ending in "!" replaces the value of the key without it whole
    (`{"generator_args!": {...}}`)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if key.endswith(REPLACE_SUFFIX):
            merged[key[: -len(REPLACE_SUFFIX)]] = _merge({}, value) if isinstance(value, dict) else copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif isinstance(value, dict):
            merged[key] = _merge({}, value)  # strips any "!" below
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_from_preset(name, overrides=None):
    """Build a TrainConfig from a preset name plus a nested dict of overrides.

    The overrides merge deeply into the preset (a key ending in "!" replaces instead; see
    the module docstring), and the result is validated.

    Example:
        >>> config = config_from_preset("pix2pix", {"model": {"generator_args": {"depth": 6}}})
        >>> config.model.generator_args["max_filters"]  # the preset's, kept
        512
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    values = _merge(TrainConfig(preset=name).to_dict(), PRESETS[name])
    values = _merge(values, overrides or {})
    return TrainConfig.from_dict(values).validate()
