"""The pix2pix U-Net generator (and the CIG cGAN's generator of seed 000)."""

import keras

from cig_k3.layers import MCDropout, normalization, phase_conv, upsampling
from cig_k3.layers.blocks import HEAD_DTYPE
from cig_k3.layers.noise import CameraNoise, LatentCode, NoiseInjection, Specks

# generator_args.camera_noise: off, learned sizes (True or "learned"), read noise measured on the data
CAMERA_NOISE = (False, True, "learned", "calibrated")
# generator_args.specks: off, or density and brightness measured on the data (never learned)
SPECKS = (False, "calibrated")


@keras.saving.register_keras_serializable(package="cig_k3")
class UNetGenerator(keras.Model):
    """U-Net: strided-convolution encoder, upsampling decoder, skip connections.

    Encoder blocks are Conv(4x4, stride 2) - norm - LeakyReLU(0.2); decoder blocks are
    Upsample(x2) - norm - [noise] - [dropout] - ReLU followed by concatenation with the
    mirrored encoder output. The output is tanh with `out_channels` channels, always float32
    (mixed precision keeps it there).

    Upsampling is pix2pix's 4x4 stride-2 ConvTranspose by default; "resize_conv",
    "bilinear_conv" and "subpixel" start free of its checkerboard (`cig_k3.layers.upsampling`). The noise sources
    are dropout in the first `dropout_layers` decoder blocks (pix2pix), per-pixel noise with a
    learned per-channel scale in every decoder block (`noise=True`, StyleGAN) and a latent
    code appended at the bottleneck (`latent_dim > 0`). All of them draw when training and,
    at inference, inside `cig_k3.layers.sampling(model)` (K calls give K images); otherwise
    they are off and the output is deterministic. The noise sits after the normalisation so
    that batch norm's moving statistics do not depend on whether noise is drawn.

    The defaults build exactly the layers of the pix2pix U-Net, so models saved before these
    options existed load unchanged.

    Inputs must have height and width divisible by 2**depth.

    Args:
        in_channels: channels of the condition (e.g. 3 for a one-hot semantic3 label).
        out_channels: channels of the generated image.
        base_filters: filters of the first encoder block (pix2pix: 64).
        depth: number of down-sampling blocks (pix2pix unet_256: 8).
        max_filters: cap on filters per block (pix2pix: 512).
        dropout: dropout rate in the dropout blocks.
        dropout_layers: how many of the innermost decoder blocks use dropout.
        norm: "batch", "instance" or "none".
        seed: integer seed of the dropout and noise layers' seed generators (None: random).
        upsample: "transpose" (pix2pix), "resize_conv" (nearest x2 + 3x3 conv), "bilinear_conv" or
            "subpixel" (3x3 conv + depth to space, ICNR start), in every decoder block and
            the output block.
        noise: add `NoiseInjection` (scale starting at 0) to every decoder block.
        latent_dim: size of a latent code z ~ N(0, I) drawn inside the model and appended
            at the bottleneck; 0 for none.
        full_resolution_noise: end with a full-resolution block instead of upsampling
            straight to the image: Upsample(x2) to `base_filters` - NoiseInjection - ReLU -
            Conv(3x3) to `out_channels`. Camera noise and fine chromatin grain vary from
            pixel to pixel; without noise at the output's own resolution the generator can
            only draw them from half-resolution noise, as 2x2 blocks that read as a smooth
            background and a faint grid.
        camera_noise: end with `CameraNoise`, white read and shot noise on the output image,
            drawn when the other noise sources draw. True (or "learned"): both sizes are
            learned; "calibrated": the read noise is fixed at `camera_read` and the shot
            noise at `camera_shot`, which `cig train` measures on the train split
            (`cig_k3.training.camera_calibration`); with `camera_shot` None the shot noise is
            learned (runs calibrated before the shot noise was measured).
        camera_read: the read-noise level (standard deviation in the [-1, 1] range): fixed for
            "calibrated", the learned read noise's start otherwise (None: 0.005).
        camera_shot: the shot-noise level (standard deviation at full brightness): fixed for
            "calibrated", the learned shot noise's start otherwise (None: 0.01).
        specks: "calibrated": before the camera noise, add small bright specks (`Specks`,
            debris) at `speck_density` with peak brightnesses drawn from `speck_amplitudes`,
            which `cig train` measures on the train split's far background
            (`camera_calibration.measure_specks`); False: none.
        speck_density: probability that a pixel starts a speck.
        speck_amplitudes: the specks' peak brightnesses (quantiles of the measured ones).

    Example:
        >>> generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=8, depth=3)
        >>> generator(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 1)
        >>> diverse = UNetGenerator(3, 1, base_filters=8, depth=3, upsample="resize_conv", noise=True)
        >>> with sampling(diverse):  # two calls, two different images
        ...     first, second = diverse(condition), diverse(condition)

    Reference: Ronneberger et al., MICCAI 2015; Isola et al., CVPR 2017 (unet_256);
    Odena et al., Distill 2016 (resize-convolution); Karras et al., CVPR 2019 (noise).
    """

    def __init__(
        self,
        in_channels=3,
        out_channels=1,
        base_filters=64,
        depth=8,
        max_filters=512,
        dropout=0.5,
        dropout_layers=3,
        norm="batch",
        seed=None,
        upsample="transpose",
        noise=False,
        latent_dim=0,
        full_resolution_noise=False,
        camera_noise=False,
        camera_read=None,
        camera_shot=None,
        specks=False,
        speck_density=None,
        speck_amplitudes=None,
        **kwargs,
    ):
        if upsample not in upsampling.UPSAMPLINGS:
            raise ValueError(f"unknown upsample {upsample!r} in UNetGenerator's generator_args; "
                             f"choose one of {upsampling.UPSAMPLINGS}")
        if camera_noise not in CAMERA_NOISE:
            raise ValueError(f"camera_noise={camera_noise!r} in UNetGenerator's generator_args; choose one of "
                             f"{CAMERA_NOISE}")
        if camera_noise == "calibrated" and camera_read is None:
            raise ValueError("camera_noise 'calibrated' in UNetGenerator's generator_args needs camera_read, the "
                             "read-noise level; cig train measures it on the train split's background")
        if specks not in SPECKS:
            raise ValueError(f"specks={specks!r} in UNetGenerator's generator_args; choose one of {SPECKS}")
        if specks and (speck_density is None or not speck_amplitudes):
            raise ValueError("specks 'calibrated' in UNetGenerator's generator_args needs speck_density and "
                             "speck_amplitudes; cig train measures them on the train split's background")
        if int(latent_dim) < 0:
            raise ValueError(f"latent_dim={latent_dim} in UNetGenerator's generator_args must be >= 0")
        # Seeds of the new noise layers are offset from the dropout ones (seed + j).
        offset_seed = lambda offset: None if seed is None else seed + offset  # noqa: E731
        condition = keras.Input(shape=(None, None, in_channels), name="condition")
        filters = [min(base_filters * 2**i, max_filters) for i in range(depth)]

        x = condition
        skips = []
        for i, num_filters in enumerate(filters):
            # Keras' Conv2D, computed without input dilation in its gradient where that is faster.
            x = phase_conv.Conv2D(
                num_filters, 4, strides=2, padding="same", use_bias=(i == 0 or norm == "none"),
                name=f"down{i}_conv",
            )(x)
            # pix2pix: no norm on the outermost block, and none on the innermost (1x1) one.
            if 0 < i < depth - 1:
                x = normalization(norm, name=f"down{i}_norm")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
            skips.append(x)

        if latent_dim:
            x = LatentCode(latent_dim, seed=offset_seed(2000), name="latent_code")(x)

        for j, num_filters in enumerate(reversed(filters[:-1])):
            x = upsampling.upsample(x, num_filters, upsample, use_bias=(norm == "none"), name=f"up{j}")
            x = normalization(norm, name=f"up{j}_norm")(x)
            if noise:
                x = NoiseInjection(seed=offset_seed(1000 + j), name=f"up{j}_noise")(x)
            if j < dropout_layers:
                x = MCDropout(dropout, seed=None if seed is None else seed + j, name=f"up{j}_dropout")(x)
            x = keras.layers.ReLU(name=f"up{j}_act")(x)
            x = keras.layers.Concatenate(name=f"up{j}_skip")([x, skips[-2 - j]])

        if full_resolution_noise:
            x = upsampling.upsample(x, base_filters, upsample, use_bias=True, name="full")
            x = NoiseInjection(seed=offset_seed(3000), name="full_noise")(x)
            x = keras.layers.ReLU(name="full_act")(x)
            x = keras.layers.Conv2D(out_channels, 3, padding="same", dtype=HEAD_DTYPE, name="out_conv")(x)
        else:
            x = upsampling.upsample(x, out_channels, upsample, use_bias=True, dtype=HEAD_DTYPE, name="out")
        image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
        if specks:
            image = Specks(speck_density, speck_amplitudes, seed=offset_seed(5000), dtype="float32",
                           name="specks")(image)
        if camera_noise:
            calibrated = camera_noise == "calibrated"
            learned = (() if camera_shot is not None else ("shot",)) if calibrated else ("read", "shot")
            image = CameraNoise(read=0.005 if camera_read is None else float(camera_read),
                                shot=0.01 if camera_shot is None else float(camera_shot), seed=offset_seed(4000),
                                learned=learned, dtype="float32", name="camera_noise")(image)
        super().__init__(inputs=condition, outputs=image, **kwargs)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_filters = base_filters
        self.depth = depth
        self.max_filters = max_filters
        self.dropout = dropout
        self.dropout_layers = dropout_layers
        self.norm = norm
        self.seed = seed
        self.upsample = upsample
        self.noise = noise
        self.latent_dim = int(latent_dim)
        self.full_resolution_noise = bool(full_resolution_noise)
        self.camera_noise = camera_noise
        self.camera_read = None if camera_read is None else float(camera_read)
        self.camera_shot = None if camera_shot is None else float(camera_shot)
        self.specks = specks
        self.speck_density = None if speck_density is None else float(speck_density)
        self.speck_amplitudes = None if speck_amplitudes is None else [float(value) for value in speck_amplitudes]

    @property
    def size_multiple(self):
        """Height and width of inputs must be multiples of this."""
        return 2**self.depth

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "base_filters": self.base_filters,
            "depth": self.depth,
            "max_filters": self.max_filters,
            "dropout": self.dropout,
            "dropout_layers": self.dropout_layers,
            "norm": self.norm,
            "seed": self.seed,
            "upsample": self.upsample,
            "noise": self.noise,
            "latent_dim": self.latent_dim,
            "full_resolution_noise": self.full_resolution_noise,
            "camera_noise": self.camera_noise,
            "camera_read": self.camera_read,
            "camera_shot": self.camera_shot,
            "specks": self.specks,
            "speck_density": self.speck_density,
            "speck_amplitudes": self.speck_amplitudes,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
