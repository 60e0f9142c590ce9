"""Augmentation as a config: `AugmentConfig` -> albumentations pipelines, and back to a dict.

Two pipelines, because two kinds of change must be kept apart:
- geometric ("pair"): flips and 90-degree rotations, applied to the raw image, the label,
  the instance labels and the source stack together (albumentations targets `image`,
  `mask` and `additional_targets`), so that they stay aligned pixel for pixel. Only
  transforms that move pixels without interpolating are used, so labels stay exact.
- intensity: Poisson-Gaussian camera noise, brightness/contrast and gamma, on one
  image at a time, on float32 in [0, 1] (after percentile normalisation, before the
  mapping to [-1, 1]).

Where intensity changes go (a choice, see `AugmentConfig.intensity_on_target`):
- mask -> image: the raw image is the *target*. A generator learns to reproduce what it is
  shown, so noise or intensity changes there are drawn back: they widen the images it draws
  beyond the real ones. The default keeps the target as recorded. (With the earlier default,
  noise up to 2% of the range on half the targets, the default generator's learned camera
  noise came out at the augmented targets' level, twice the real background's grain, and
  Inception FID was 36 where the real level gives 27; benchmarks/RESULTS.md, issue 14.)
- virtual staining: noise and intensity changes go on the label-free *input* stack
  (robustness to acquisition), and never on the fluorescence target by default.

Crops are not part of these pipelines: `BatchStream` crops before augmenting (cheaper),
with its own seeded generator.
"""

import dataclasses

import albumentations as A
import cv2
import numpy as np


class PoissonGaussianNoise(A.ImageOnlyTransform):
    """Camera noise on linear [0, 1] float images: Poisson shot noise plus Gaussian read noise.

    A pixel of value x, seen with `photons` photons at full scale and a read noise of
    standard deviation `read_std`, becomes x + sqrt(x / photons + read_std**2) * N(0, 1):
    the Poisson-Gaussian model of fluorescence cameras, with the Poisson part in its
    Gaussian approximation (close for more than about 20 photons per pixel). Smaller
    `photons` means more shot noise.

    Why not albumentations' GaussNoise + ShotNoise: ShotNoise applies a 2.2 display gamma
    first (right for photographs, wrong for linear microscopy counts) and draws exact
    Poisson numbers, about 5 ms per 256 x 256 crop; one normal draw for both terms here
    costs a tenth of that. Like GaussNoise, the draw uses OpenCV's generator, seeded from
    the transform's own generator on every call.

    Args:
        read_std_range: range of the read-noise standard deviation (fraction of the range).
        photons_range: range of photons at full scale (value 1.0), or None for no shot noise.
        p: probability of applying the transform.

    Reference: Foi et al., "Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data", IEEE TIP 17(10), 2008.
    """

    class InitSchema(A.core.transforms_interface.BaseTransformInitSchema):
        read_std_range: tuple[float, float]
        photons_range: tuple[float, float] | None

    def __init__(self, read_std_range=(0.0, 0.02), photons_range=(200.0, 2000.0), p=0.5):
        super().__init__(p=p)
        if not 0 <= read_std_range[0] <= read_std_range[1]:
            raise ValueError(f"read_std_range must be non-negative and increasing, got {read_std_range}")
        if photons_range is not None and not 0 < photons_range[0] <= photons_range[1]:
            raise ValueError(f"photons_range must be positive and increasing, got {photons_range}")
        self.read_std_range = tuple(float(value) for value in read_std_range)
        self.photons_range = None if photons_range is None else tuple(float(value) for value in photons_range)

    def get_params(self):
        return {
            "read_std": self.py_random.uniform(*self.read_std_range),
            "photons": self.py_random.uniform(*self.photons_range) if self.photons_range else 0.0,
            "noise_seed": int(self.random_generator.integers(0, 2**31 - 1)),
        }

    def apply(self, img, read_std=0.0, photons=0.0, noise_seed=0, **params):
        if photons > 0:
            std = np.maximum(img, 0.0, dtype=np.float32)
            std *= np.float32(1.0 / photons)
            std += np.float32(read_std**2)
            np.sqrt(std, out=std)
        else:
            std = np.float32(read_std)
        noise = np.empty((img.shape[0], img.size // img.shape[0]), dtype=np.float32)
        cv2.setRNGSeed(noise_seed)
        cv2.randn(noise, 0.0, 1.0)
        noise = noise.reshape(img.shape)
        noise *= std
        noise += img
        return np.clip(noise, 0.0, 1.0, out=noise)

    def get_transform_init_args_names(self):
        return ("read_std_range", "photons_range")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """What augmentation a training stream applies; plain values, JSON-able.

    A range that is None switches its transform off; a probability of 0 does the same.

    Args:
        hflip, vflip: probabilities of a horizontal / vertical flip.
        rotate90: probability of a rotation by 90, 180 or 270 degrees (drawn uniformly).
        gaussian_noise_std: range of the read-noise standard deviation, as a fraction of
            the [0, 1] intensity range.
        poisson_photons: range of photons at full scale for shot noise. Both noises are one
            transform (`PoissonGaussianNoise`), applied together with probability noise_p.
        brightness, contrast: limits of RandomBrightnessContrast (fractions of the range).
        gamma: RandomGamma limits in percent, e.g. (90, 110) for gamma 0.9-1.1.
        noise_p, intensity_p: probability of the noise / of each intensity transform.
        intensity_on_target: apply noise and intensity changes to the raw (target) image
            too (default no: the generator would learn to draw them; see the module
            docstring). None, as older run logs write it, means the default.
        intensity_on_source: apply them to the input stack of virtual staining.

    Example:
        >>> config = AugmentConfig(gaussian_noise_std=None, intensity_on_target=False)
        >>> AugmentConfig.from_dict(config.to_dict()) == config
        True
    """

    hflip: float = 0.5
    vflip: float = 0.5
    rotate90: float = 0.5
    gaussian_noise_std: tuple | None = (0.0, 0.02)
    poisson_photons: tuple | None = (200.0, 2000.0)
    noise_p: float = 0.5
    brightness: float = 0.1
    contrast: float = 0.1
    gamma: tuple | None = (90.0, 110.0)
    intensity_p: float = 0.5
    intensity_on_target: bool | None = False
    intensity_on_source: bool = True

    def __post_init__(self):
        for name in ("hflip", "vflip", "rotate90", "noise_p", "intensity_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{name} is a probability; got {value}")
        for name in ("gaussian_noise_std", "poisson_photons", "gamma"):
            value = getattr(self, name)
            if value is not None:
                if len(value) != 2 or value[0] > value[1]:
                    raise ValueError(f"AugmentConfig.{name} must be (low, high) with low <= high; got {value}")
                object.__setattr__(self, name, (float(value[0]), float(value[1])))

    @classmethod
    def none(cls):
        """A config that changes nothing (every probability 0)."""
        return cls(hflip=0.0, vflip=0.0, rotate90=0.0, noise_p=0.0, intensity_p=0.0)

    @classmethod
    def geometric_only(cls):
        """Flips and rotations only; intensities untouched."""
        return cls(noise_p=0.0, intensity_p=0.0)

    def to_dict(self):
        return {field.name: (list(value) if isinstance(value, tuple) else value)
                for field in dataclasses.fields(self)
                for value in [getattr(self, field.name)]}

    @classmethod
    def from_dict(cls, values):
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown AugmentConfig fields {unknown}; known: {sorted(names)}")
        return cls(**{key: (tuple(value) if isinstance(value, list) else value)
                      for key, value in values.items()})

    def target_gets_intensity(self, task):
        """Whether the target image of a `task` stream gets the intensity pipeline: only when
        `intensity_on_target` says so, for every task."""
        return bool(self.intensity_on_target)


def build_pair_transform(config):
    """The geometric pipeline: raw (`image`), label (`mask`), instances, source together."""
    transforms = []
    if config.hflip > 0:
        transforms.append(A.HorizontalFlip(p=config.hflip))
    if config.vflip > 0:
        transforms.append(A.VerticalFlip(p=config.vflip))
    if config.rotate90 > 0:
        transforms.append(A.RandomRotate90(p=config.rotate90))
    return A.Compose(transforms, additional_targets={"instances": "mask", "source": "image"})


def build_intensity_transform(config):
    """The intensity pipeline for one float32 [0, 1] image (raw or source)."""
    transforms = []
    if config.noise_p > 0 and (config.gaussian_noise_std is not None or config.poisson_photons is not None):
        transforms.append(PoissonGaussianNoise(read_std_range=config.gaussian_noise_std or (0.0, 0.0),
                                               photons_range=config.poisson_photons, p=config.noise_p))
    if config.intensity_p > 0 and (config.brightness > 0 or config.contrast > 0):
        transforms.append(A.RandomBrightnessContrast(
            brightness_limit=config.brightness, contrast_limit=config.contrast, p=config.intensity_p))
    if config.intensity_p > 0 and config.gamma is not None:
        transforms.append(A.RandomGamma(gamma_limit=config.gamma, p=config.intensity_p))
    return A.Compose(transforms)


def augment_to_dict(config):
    """A JSON-able description of `config` and the pipelines built from it, for run logs.

    "config" restores the `AugmentConfig` (`augment_from_dict`); "pair" and "intensity" are
    albumentations' own serialisation (`albumentations.from_dict` rebuilds them).
    """
    if config is None:
        return {"config": None, "pair": None, "intensity": None}
    return {
        "config": config.to_dict(),
        "pair": A.to_dict(build_pair_transform(config)),
        "intensity": A.to_dict(build_intensity_transform(config)),
    }


def augment_from_dict(values):
    """Inverse of `augment_to_dict`: the `AugmentConfig`, or None."""
    if values is None or values.get("config") is None:
        return None
    return AugmentConfig.from_dict(values["config"])
