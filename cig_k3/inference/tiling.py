"""Tiled inference for fields larger than a model can take at once.

Tiles of `tile` x `tile` pixels overlap by `overlap`; each tile's output is weighted by a
raised-cosine ramp across the overlap (weight 1 inside and along the field's own border)
and the weighted outputs are averaged, so no seam shows. Sides are padded by reflection to
the model's size multiple (and cropped again); a field smaller than a tile runs in one piece,
exactly as untiled inference would.
"""

import numpy as np


def _ramp(length, overlap, ramp_start, ramp_end):
    """1-D weights of one tile: a raised-cosine ramp over `overlap` pixels at inner edges."""
    weights = np.ones(length, dtype=np.float64)
    if overlap > 0:
        rising = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)  # never 0
        if ramp_start:
            weights[:overlap] = np.minimum(weights[:overlap], rising)
        if ramp_end:
            weights[-overlap:] = np.minimum(weights[-overlap:], rising[::-1])
    return weights


def _layout(size, tile, overlap, multiple):
    """(tile length, starts) along one axis: the fewest, smallest tiles covering `size`.

    `tile` is the largest tile allowed. Rather than a fixed stride whose last tile sticks out
    (up to a whole tile of wasted work), the count n is the smallest that covers the axis,
    and the tiles shrink to the smallest multiple of `multiple` that still covers it with at
    least `overlap` pixels shared; starts are spread evenly.
    """
    if size <= tile:
        return size, [0]
    count = -(-(size - overlap) // (tile - overlap))
    while True:
        length = _round_up(-(-(size + (count - 1) * overlap) // count), multiple)
        if length <= tile:
            break
        count += 1
    length = max(length, overlap * 2)
    starts = np.linspace(0, size - length, count).round().astype(int).tolist()
    return length, starts


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def _reflect_pad(image, height, width):
    pad = ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0))
    if pad[0][1] == 0 and pad[1][1] == 0:
        return image
    mode = "reflect" if min(image.shape[:2]) > 1 else "edge"
    return np.pad(image, pad, mode=mode)


def _check_tiling(tile, overlap, multiple):
    if multiple < 1 or tile < multiple or tile % multiple:
        raise ValueError(f"tile {tile} must be a positive multiple of the model's size multiple {multiple}")
    if not 0 <= overlap <= tile // 2:
        raise ValueError(f"overlap {overlap} must be between 0 and half the tile ({tile // 2})")


def count_calls(height, width, tile, overlap, multiple, batch_size=1):
    """How many times `predict_tiled` calls `fn` for an H x W field (for progress bars)."""
    _check_tiling(tile, overlap, multiple)
    padded_height, padded_width = _round_up(height, multiple), _round_up(width, multiple)
    tiles = len(_layout(padded_height, tile, overlap, multiple)[1]) * len(_layout(padded_width, tile, overlap, multiple)[1])
    return 1 if tiles == 1 else -(-tiles // batch_size)


def predict_tiled(fn, image, tile, overlap, multiple, batch_size=1):
    """Run `fn` over `image` in overlapping tiles and blend the results.

    Args:
        fn: maps an N x h x w x C float32 batch (h, w multiples of `multiple`) to an
            N x h x w x C_out array.
        image: H x W x C array (any H, W).
        tile: largest tile side in pixels, a multiple of `multiple`; tiles shrink (to a
            multiple) so that they cover the field with the least extra work.
        overlap: pixels shared by neighbouring tiles, 0 <= overlap <= tile / 2.
        multiple: the model's size multiple (e.g. `generator.size_multiple`).
        batch_size: tiles per call of `fn`.

    Returns:
        H x W x C_out float32.

    Example:
        >>> out = predict_tiled(lambda x: generator(x), condition, tile=256, overlap=32, multiple=32)
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"image must be H x W x C, got shape {image.shape}")
    _check_tiling(tile, overlap, multiple)
    height, width = image.shape[:2]
    padded_height, padded_width = _round_up(height, multiple), _round_up(width, multiple)
    padded = _reflect_pad(image, padded_height, padded_width)
    tile_height, rows = _layout(padded_height, tile, overlap, multiple)
    tile_width, cols = _layout(padded_width, tile, overlap, multiple)
    if len(rows) == 1 and len(cols) == 1:
        return np.asarray(fn(padded[None]), dtype=np.float32)[0, :height, :width]

    origins = [(y, x) for y in rows for x in cols]
    ramps = {}  # (ramp at top, bottom, left, right) -> tile weights, at most 9 kinds

    def weights_at(y, x):
        key = (y > 0, y + tile_height < padded_height, x > 0, x + tile_width < padded_width)
        if key not in ramps:
            ramps[key] = np.outer(_ramp(tile_height, overlap, *key[:2]),
                                  _ramp(tile_width, overlap, *key[2:])).astype(np.float32)[..., None]
        return ramps[key]

    total = None
    weight_sum = np.zeros((padded_height, padded_width, 1), dtype=np.float32)
    for first in range(0, len(origins), batch_size):
        chunk = origins[first:first + batch_size]
        batch = np.stack([padded[y:y + tile_height, x:x + tile_width] for y, x in chunk])
        outputs = np.array(fn(batch), dtype=np.float32)
        if total is None:
            total = np.zeros((padded_height, padded_width, outputs.shape[-1]), dtype=np.float32)
        for (y, x), output in zip(chunk, outputs):
            weights = weights_at(y, x)
            output *= weights
            total[y:y + tile_height, x:x + tile_width] += output
            weight_sum[y:y + tile_height, x:x + tile_width] += weights
    total /= weight_sum
    return total[:height, :width]
