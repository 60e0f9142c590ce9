"""Run configuration: dataclasses for data, model, loss, optimiser and training, and presets.

Dataclasses configure runs; constructor arguments configure architectures. A preset is a
plain dict of overrides applied on top of the defaults (`config_from_preset`); the presets
live beside their GAN class (`cig_k3/training/gans/*_presets.py`) and `PRESETS` is their
merged registry. The adversarial losses are those of `cig_k3.losses.adversarial`, and each
GAN class says which of them it trains with (`adversarial_losses`): `validate()` checks both
before anything is built or written.

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

from cig_k3.losses.adversarial import ADVERSARIAL_LOSSES, ALIASES
from cig_k3.training.gans import GANS, PRESETS

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
JIT_MODES = ("auto", "on", "off")
DISTRIBUTE_MODES = ("auto", "none", "data_parallel")
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
    # The same, over the last `decay_fraction` of the epochs (0..1), whatever their number,
    # for presets; `decay_epochs`, when set, wins.
    decay_fraction: float = 0.0
    # Whether the discriminator's rate decays with the generator's (pix2pix: both). False keeps
    # it constant to the end, so the discriminators go on learning while the generator anneals.
    decay_discriminator: bool = True
    # Momentum of an exponential moving average of the generator's weights (0: none). The
    # average is what training saves as generator.keras, so every sample, evaluation and
    # export draws with it (Karras et al. 2018; Yazici et al. 2019); checkpoints keep the
    # raw weights and the average both, so a resumed run continues exactly.
    generator_ema: float = 0.0
    # Train batches over which the saved generator's batch-norm statistics are measured again,
    # with its final (averaged) weights, when training ends (0: keep the moving averages of
    # the last batches). `cig_k3.training.standing_statistics`; conditional GANs only.
    standing_statistics: int = 0


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
            (self.loss.adversarial in ADVERSARIAL_LOSSES or self.loss.adversarial in ALIASES,
             f"adversarial loss {self.loss.adversarial!r}: choose one of {ADVERSARIAL_LOSSES}"),
            (self.model.gan in GANS, f"model.gan {self.model.gan!r}: choose one of {sorted(GANS)}"),
            (ALIASES.get(self.loss.adversarial, self.loss.adversarial) in self._gan_losses(),
             f"--adversarial {self.loss.adversarial!r} (loss.adversarial): the {self.model.gan!r} gan of preset "
             f"{self.preset!r} trains with one of {self._gan_losses()}"),
            (self.nan_policy in NAN_POLICIES, f"nan_policy {self.nan_policy!r}: choose one of {NAN_POLICIES}"),
            (self.data.batch_size >= 1, f"--batch-size must be at least 1, got {self.data.batch_size}"),
            (self.data.crop >= 8, f"--crop must be at least 8 pixels, got {self.data.crop}"),
            (self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.steps_per_epoch >= 1, f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}"),
            (self.optimizer.generator_learning_rate > 0,
             f"generator learning rate must be positive, got {self.optimizer.generator_learning_rate}"),
            (self.optimizer.discriminator_learning_rate > 0,
             f"discriminator learning rate must be positive, got {self.optimizer.discriminator_learning_rate}"),
            (0.0 <= self.optimizer.decay_fraction <= 1.0,
             f"optimizer.decay_fraction {self.optimizer.decay_fraction!r} (--decay-fraction): a share of the "
             "epochs in [0, 1], 0 for no decay"),
            (isinstance(self.optimizer.decay_discriminator, bool),
             f"optimizer.decay_discriminator {self.optimizer.decay_discriminator!r}: true or false "
             "(--keep-discriminator-rate sets false)"),
            (self.optimizer.standing_statistics >= 0,
             f"optimizer.standing_statistics {self.optimizer.standing_statistics!r}: a number of train batches, "
             "0 for none"),
            (self.optimizer.standing_statistics == 0 or self._conditional(),
             f"optimizer.standing_statistics: the {self.model.gan!r} gan of preset {self.preset!r} does not draw "
             "from a mask or an image; set it to 0"),
            (0.0 <= self.optimizer.generator_ema < 1.0,
             f"optimizer.generator_ema {self.optimizer.generator_ema!r}: an EMA momentum in [0, 1), 0 for none"),
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

    def _gan_losses(self):
        """The adversarial losses the GAN class of `model.gan` trains with."""
        gan = GANS.get(self.model.gan)
        return gan.adversarial_losses if gan is not None else ADVERSARIAL_LOSSES

    def _conditional(self):
        """Whether the GAN of `model.gan` draws from a mask or an image (the pix2pix family and
        the regression baseline), so that its generator can be fed train batches."""
        from cig_k3.training.gans import Pix2PixGAN, RegressionBaseline

        gan = GANS.get(self.model.gan)
        return gan is not None and issubclass(gan, (Pix2PixGAN, RegressionBaseline))

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
