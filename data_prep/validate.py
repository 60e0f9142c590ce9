"""What makes an image, a mask and a pair acceptable; one clear error per problem.

Every check raises `ValueError` with one line that names the file (as the user knows it,
relative to the source folder) and says what is wrong and what is expected. Sizes are read
from the file header first, so that a file claiming an enormous size is refused before
any memory is allocated.
"""

import os
import stat
import struct
from pathlib import Path

import cv2
import numpy as np
import tifffile

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")
TIFF_SUFFIXES = (".tif", ".tiff")
RAW_DTYPES = ("uint8", "uint16", "float32")
# Smallest accepted field: a 16 x 16 crop is the least any model here trains on.
MIN_SIZE = 16
# Largest accepted image, counted as height x width x channels values (400 MB at uint16).
DEFAULT_MAX_PIXELS = 200_000_000
# A 3-D TIFF stored as planes (not as samples per pixel) whose first axis is at most this
# long and shorter than the other two is read as channels-first (C x H x W) and transposed
# to H x W x C.
MAX_CHANNELS = 64

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # colour type -> channels as OpenCV reads them


def _dims(shape):
    return "x".join(str(int(n)) for n in shape)


def _header(path, name):
    """(shape, dtype name) from the file header, without reading pixel data."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{name} is not an image file: expected one of {', '.join(IMAGE_SUFFIXES)}.")
    try:
        status = path.stat()
    except OSError as error:
        raise ValueError(f"{name} cannot be read: {error.strerror or error}.") from None
    # Root may read any file whatever its mode; a file that no one is allowed to read is
    # refused all the same, so that a job gives the same result whoever runs it.
    mode = stat.S_IMODE(status.st_mode)
    if not mode & 0o444 or not os.access(path, os.R_OK):
        raise ValueError(f"{name} cannot be read: permission denied (mode {mode:04o}).")
    if status.st_size == 0:
        raise ValueError(f"{name} is empty (0 bytes).")
    if suffix in TIFF_SUFFIXES:
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                return tuple(series.shape), series.dtype.name, series.axes
        except Exception as error:  # tifffile raises many types on corrupt input
            raise ValueError(f"{name} is not a readable TIFF file ({type(error).__name__}: {error}).") from None
    try:
        with open(path, "rb") as handle:
            head = handle.read(33)
    except OSError as error:
        raise ValueError(f"{name} cannot be read: {error.strerror or error}.") from None
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ValueError(f"{name} is not a readable PNG file (bad signature or header).")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", head[16:26])
    channels = _PNG_CHANNELS.get(colour_type, 1)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return shape, "uint16" if bit_depth == 16 else "uint8", "YX" if channels == 1 else "YXS"


def check_header(path, name, max_pixels=DEFAULT_MAX_PIXELS):
    """Shape and dtype of an image file from its header; refuses oversized or broken files."""
    shape, dtype, axes = _header(Path(path), name)
    count = int(np.prod(shape, dtype=np.float64)) if shape else 0
    if count > max_pixels:
        raise ValueError(
            f"{name} claims a size of {_dims(shape)} ({count:,} values), more than the limit of "
            f"{max_pixels:,} (--max-pixels)."
        )
    return shape, dtype, axes


def _decode(path, name):
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            return tifffile.imread(path)
        except Exception as error:
            raise ValueError(f"{name} is not a readable TIFF file ({type(error).__name__}: {error}).") from None
    data = np.fromfile(path, dtype=np.uint8)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError(f"{name} is not a readable PNG file (corrupt or truncated data).")
    if array.ndim == 3 and array.shape[2] in (3, 4):
        # OpenCV decodes colour as BGR(A); store channels in file order (RGB(A)).
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return array


def is_channels_first(shape, axes):
    """Whether a 3-D image of this shape and tifffile axes is C x H x W."""
    return (len(shape) == 3 and not axes.endswith("S")
            and shape[0] <= MAX_CHANNELS and shape[0] < min(shape[1], shape[2]))


def _to_channels_last(array, axes, name):
    if array.ndim == 3 and is_channels_first(array.shape, axes):
        return np.ascontiguousarray(np.moveaxis(array, 0, -1))
    if array.ndim in (2, 3):
        return array
    raise ValueError(
        f"{name} is {array.ndim}-D ({_dims(array.shape)}); expected H x W or H x W x C "
        f"(or C x H x W with at most {MAX_CHANNELS} channels)."
    )


def check_size(shape, name):
    height, width = shape[:2]
    if height < MIN_SIZE or width < MIN_SIZE:
        raise ValueError(
            f"{name} is {height}x{width}: too small, the smallest accepted field is "
            f"{MIN_SIZE}x{MIN_SIZE} pixels."
        )


def read_image(path, name=None, max_pixels=DEFAULT_MAX_PIXELS):
    """Read and check a raw image: H x W or H x W x C, uint8/uint16/float32, no NaN/inf.

    Values are returned exactly as stored (no scaling, no dtype change).
    """
    path = Path(path)
    name = name or str(path)
    _, _, axes = check_header(path, name, max_pixels)
    array = _to_channels_last(_decode(path, name), axes, name)
    if array.dtype.name not in RAW_DTYPES:
        raise ValueError(f"{name} has dtype {array.dtype.name}; an image must be one of {', '.join(RAW_DTYPES)}.")
    check_size(array.shape, name)
    if array.dtype.kind == "f":
        bad = np.count_nonzero(~np.isfinite(array))
        if bad:
            raise ValueError(f"{name} has {bad} NaN or infinite values; an image must hold finite values only.")
    return array


def read_mask(path, name=None, max_pixels=DEFAULT_MAX_PIXELS):
    """Read and check a 2-D label mask; returns it as uint16 (0 = background)."""
    path = Path(path)
    name = name or str(path)
    check_header(path, name, max_pixels)
    array = _decode(path, name)
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[2]):
        array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:2])
    if array.ndim != 2:
        raise ValueError(
            f"{name} is {array.ndim}-D ({_dims(array.shape)}); a mask must be a 2-D label image (H x W)."
        )
    check_size(array.shape, name)
    if array.dtype.kind == "b":
        return array.astype(np.uint16)
    if array.dtype.kind not in "uif":
        raise ValueError(f"{name} has dtype {array.dtype.name}; a mask must hold integer labels.")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} has NaN or infinite values; a mask must hold integer labels >= 0.")
        fractional = array[array != np.round(array)]
        if fractional.size:
            raise ValueError(
                f"{name} has non-integer values (e.g. {float(fractional[0]):g}); a mask must hold integer labels."
            )
    low, high = array.min(), array.max()
    if low < 0:
        raise ValueError(f"{name} has negative values (min {low:g}); a mask must hold labels >= 0.")
    if high > np.iinfo(np.uint16).max:
        raise ValueError(f"{name} has label {high:g}; at most 65535 labels fit in a uint16 mask.")
    return array.astype(np.uint16, copy=False)


def check_pair(image_shape, image_name, mask_shape, mask_name):
    if tuple(image_shape[:2]) != tuple(mask_shape[:2]):
        raise ValueError(
            f"{mask_name} is {_dims(mask_shape[:2])} but {image_name} is {_dims(image_shape[:2])}: "
            f"a pair must have the same height and width."
        )
