"""Readers: folder pairs, multi-channel stacks cut into tiles, and synthetic cells.

A source lists its fields of view cheaply (`scan`), then loads one field at a time (`load`),
in a worker process. A field is the unit of splitting: one shard sample per field.

- `FolderPairs`: `images/` and `masks/` paired by file stem (BBBC039 layout), task mask2image.
- `StackTiles`: one field of view stored as an input stack plus target images (In Silico
  Labeling layout), cut into square tiles, task virtual_staining. Each tile is a field.
  The bottom-right quadrant is the test split and the bottom-left quadrant the val split;
  the top half is train. Tiles never straddle a quadrant border, so no pixel of a test tile
  is ever seen in training.
- `Synthetic`: fields drawn by `data_prep.synthetic.make_field`, seeded per field.
"""

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_prep import synthetic, validate

IMAGES, MASKS = "images", "masks"


@dataclass(frozen=True)
class Field:
    """One field of view: `key` is the shard key, `name` the name used for splitting."""

    key: str
    name: str
    split: str = None
    paths: tuple = ()
    window: tuple = None  # (y, x, height, width) of a tile
    index: int = None  # synthetic field number


def sanitize(stem):
    """A shard key part: WebDataset splits keys at the first dot, so keep [A-Za-z0-9_-]."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", stem)


def display_name(text):
    """A path as the user can read it: bytes that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _files(folder, sub):
    """(files, problems) of `folder`: hidden entries and sub-folders are left out; a link that
    loops or points nowhere, and a name that is not UTF-8, are problems (never silently dropped)."""
    files, problems = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        rel = f"{sub}/{display_name(path.name)}"
        try:
            path.name.encode("utf-8")
        except UnicodeEncodeError:
            problems.append((rel, f"{rel}: the file name is not valid UTF-8; rename the file."))
            continue
        if path.is_symlink() and not path.exists():
            problems.append((rel, f"{rel} is a symbolic link that loops or points to nothing."))
            continue
        if path.is_file():
            files.append(path)
    return files, problems


def _digest(root, paths):
    """Fingerprint of the input files (relative path and size), to detect a changed source."""
    sha = hashlib.sha1()
    for path in paths:
        sha.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode())
    return sha.hexdigest()


class FolderPairs:
    """`root/images/<stem>.{tif,tiff,png}` with `root/masks/<stem>.{png,tif,tiff}`."""

    task = "mask2image"
    needs_validation = True

    def __init__(self, root, max_pixels=validate.DEFAULT_MAX_PIXELS, channels=None):
        self.root = Path(root)
        self.max_pixels = max_pixels
        self.channels = tuple(channels) if channels else None
        self.prefix = sanitize(self.root.resolve().name) or "data"

    def scan(self):
        """(fields sorted by key, problems as [(path, message)]); raises if nothing is there."""
        if not self.root.is_dir():
            raise ValueError(f"source folder {self.root} does not exist.")
        for sub in (IMAGES, MASKS):
            if not (self.root / sub).is_dir():
                raise ValueError(
                    f"{self.root} has no {sub}/ folder: a mask2image source holds images/ and "
                    f"masks/ paired by file stem (or use 'synthetic', or --task virtual_staining)."
                )
        (images, image_problems), (masks, mask_problems) = _files(self.root / IMAGES, IMAGES), _files(
            self.root / MASKS, MASKS)
        problems = image_problems + mask_problems
        # The partner of an unusable file is not reported as unpaired: the file is the problem.
        unusable = {Path(rel).stem for rel, _ in problems}
        if not images and not masks and not problems:
            raise ValueError(f"{self.root} is empty: images/ and masks/ hold no files.")
        self._all_files = images + masks
        by_stem = {IMAGES: {}, MASKS: {}}
        for sub, files in ((IMAGES, images), (MASKS, masks)):
            for path in files:
                rel = f"{sub}/{path.name}"
                if path.suffix.lower() not in validate.IMAGE_SUFFIXES:
                    problems.append((rel, f"{rel} is not an image file: expected one of "
                                          f"{', '.join(validate.IMAGE_SUFFIXES)}."))
                    continue
                by_stem[sub].setdefault(path.stem, []).append(rel)
        fields, keys = [], {}
        for stem in sorted(set(by_stem[IMAGES]) | set(by_stem[MASKS])):
            image_paths, mask_paths = by_stem[IMAGES].get(stem, []), by_stem[MASKS].get(stem, [])
            duplicate = next((p for p in (image_paths, mask_paths) if len(p) > 1), None)
            if stem in unusable and not (image_paths and mask_paths):
                continue
            if duplicate:
                problems.append((duplicate[0], f"{' and '.join(duplicate)} share the stem {stem!r}: "
                                               f"keep one file per field."))
            elif not mask_paths:
                problems.append((image_paths[0], f"{image_paths[0]} has no mask: expected "
                                                 f"masks/{stem}.png or masks/{stem}.tif."))
            elif not image_paths:
                problems.append((mask_paths[0], f"{mask_paths[0]} has no image: expected "
                                                f"images/{stem}.tif or images/{stem}.png."))
            else:
                key = f"{self.prefix}/{sanitize(stem)}"
                if key in keys:
                    problems.append((image_paths[0], f"{image_paths[0]} and {keys[key]} map to the "
                                                     f"same key {key!r}; rename one of them."))
                    continue
                keys[key] = image_paths[0]
                fields.append(Field(key=key, name=stem, paths=(image_paths[0], mask_paths[0])))
        return sorted(fields, key=lambda f: f.key), sorted(problems)

    def digest(self):
        return _digest(self.root, self._all_files)

    def channel_names(self, num_channels):
        if self.channels:
            if len(self.channels) != num_channels:
                raise ValueError(f"--channels names {len(self.channels)} channels but the images "
                                 f"have {num_channels}.")
            return list(self.channels)
        return [f"ch{i}" for i in range(num_channels)]

    def load(self, field):
        image_name, mask_name = field.paths
        raw = validate.read_image(self.root / image_name, image_name, self.max_pixels)
        mask = validate.read_mask(self.root / mask_name, mask_name, self.max_pixels)
        validate.check_pair(raw.shape, image_name, mask.shape, mask_name)
        return {"raw": raw, "mask": mask, "meta": {"source_path": image_name, "label_path": mask_name}}


def _stack_channel_names(stem, count):
    if count == 1:
        return [stem]
    base = re.sub(r"_?(z?stack)$", "", stem) or stem
    axis = "z" if stem.endswith("zstack") else "c"
    return [f"{base}_{axis}{i:02d}" for i in range(count)]


class StackTiles:
    """An input stack and target images of one field of view, cut into `tile` x `tile` tiles."""

    task = "virtual_staining"
    needs_validation = True

    def __init__(self, root, input_name, target_names, tile=256, max_pixels=validate.DEFAULT_MAX_PIXELS):
        if not input_name or not target_names:
            raise ValueError("--task virtual_staining needs --input FILE and --targets FILE [FILE ...].")
        self.root = Path(root)
        self.input_name = input_name
        self.target_names = tuple(target_names)
        self.tile = int(tile)
        self.max_pixels = max_pixels
        self.prefix = sanitize(self.root.resolve().name) or "data"
        self._arrays = None  # (input, targets) of the field, read once per process

    def _headers(self):
        shapes = {}
        for name in (self.input_name,) + self.target_names:
            if not (self.root / name).is_file():
                raise ValueError(f"{self.root / name} does not exist.")
            shape, _, axes = validate.check_header(self.root / name, name, self.max_pixels)
            if validate.is_channels_first(shape, axes):
                shape = shape[1:] + shape[:1]
            if len(shape) not in (2, 3):
                raise ValueError(f"{name} is {len(shape)}-D; expected H x W or a stack of H x W planes.")
            shapes[name] = shape
        reference = shapes[self.input_name]
        for name in self.target_names:
            validate.check_pair(reference, self.input_name, shapes[name], name)
        return shapes

    def scan(self):
        shapes = self._headers()
        self._all_files = [self.root / name for name in shapes]
        height, width = shapes[self.input_name][:2]
        half_height, half_width = height // 2, width // 2
        if self.tile < validate.MIN_SIZE or self.tile > min(half_height, half_width):
            raise ValueError(
                f"--tile {self.tile} does not fit: the quadrant hold-out of a {height}x{width} field "
                f"needs tiles between {validate.MIN_SIZE} and {min(half_height, half_width)} pixels."
            )
        self.source_channels = _stack_channel_names(Path(self.input_name).stem,
                                                    shapes[self.input_name][2] if len(shapes[self.input_name]) == 3 else 1)
        self.raw_channels = []
        for name in self.target_names:
            count = shapes[name][2] if len(shapes[name]) == 3 else 1
            self.raw_channels += _stack_channel_names(Path(name).stem, count)
        fields = []
        for top, bottom in ((0, half_height), (half_height, height)):
            for left, right in ((0, half_width), (half_width, width)):
                split = "train" if top == 0 else ("val" if left == 0 else "test")
                for y in range(top, bottom - self.tile + 1, self.tile):
                    for x in range(left, right - self.tile + 1, self.tile):
                        fields.append(Field(key=f"{self.prefix}/y{y:05d}_x{x:05d}", name=f"y{y}_x{x}",
                                            split=split, window=(y, x, self.tile, self.tile)))
        return sorted(fields, key=lambda f: f.key), []

    def digest(self):
        return _digest(self.root, self._all_files)

    def channel_names(self, num_channels):
        return list(self.raw_channels)

    def _read(self):
        if self._arrays is None:
            stack = validate.read_image(self.root / self.input_name, self.input_name, self.max_pixels)
            targets = [validate.read_image(self.root / n, n, self.max_pixels) for n in self.target_names]
            dtypes = {t.dtype.name for t in targets}
            if len(dtypes) > 1:
                raise ValueError(f"{', '.join(self.target_names)} have different dtypes ({sorted(dtypes)}); "
                                 f"targets must share one dtype.")
            targets = np.concatenate([t.reshape(t.shape[:2] + (-1,)) for t in targets], axis=2)
            self._arrays = (stack.reshape(stack.shape[:2] + (-1,)), targets)
        return self._arrays

    def load(self, field):
        stack, targets = self._read()
        y, x, height, width = field.window
        window = (slice(y, y + height), slice(x, x + width))
        return {
            "raw": np.ascontiguousarray(targets[window]),
            "source": np.ascontiguousarray(stack[window]),
            "meta": {
                "source_path": "+".join(self.target_names),
                "source_stack_path": self.input_name,
                "window": list(field.window),
            },
        }


class Synthetic:
    """`count` synthetic fields of `size` x `size` pixels; field i uses `field_rng(seed, i)`."""

    task = "mask2image"
    needs_validation = False

    def __init__(self, count, size=256, seed=0):
        if not count or count < 1:
            raise ValueError("the synthetic source needs --count N with N >= 1.")
        if size < validate.MIN_SIZE:
            raise ValueError(f"--size {size} is too small: the smallest field is {validate.MIN_SIZE} pixels.")
        self.count, self.size, self.seed = int(count), int(size), int(seed)

    def scan(self):
        return [Field(key=f"synthetic/{i:06d}", name=f"{i:06d}", index=i) for i in range(self.count)], []

    def digest(self):
        return None

    def channel_names(self, num_channels):
        return list(synthetic.CHANNELS)

    def load(self, field):
        raw, instances = synthetic.make_field(synthetic.field_rng(self.seed, field.index), self.size)
        return {"raw": raw, "mask": instances, "meta": {"source_path": f"synthetic:{field.index}"}}

