"""Reading a PNG or TIFF the user names: masks for `cig generate`, style fields for `--style`."""

from pathlib import Path

import cv2
import tifffile


def read_array(path, what="the mask", prefix=""):
    """The pixels of a PNG (OpenCV, any depth) or TIFF (tifffile) as an array; a one-line
    ValueError "{prefix}{path}: cannot read {what} (...)" when it cannot be decoded."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".png":
            array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if array is None:
                raise ValueError("OpenCV cannot decode it")
            return array
        return tifffile.imread(path)
    except (OSError, ValueError, tifffile.TiffFileError) as error:
        raise ValueError(f"{prefix}{path}: cannot read {what} ({error}).") from None
