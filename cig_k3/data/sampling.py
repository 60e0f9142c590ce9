"""The per-worker sample stream: shards -> fields -> crops -> shuffle -> augment -> encode.

`sample_stream` is what one worker (or the main process, with workers=0) runs for one
epoch. Everything random in it comes from one generator seeded with
(seed, epoch, worker, num_workers), and the shard order of each pass from
(seed, epoch, pass), so a worker's output depends on nothing else: not on timing, not on
what other workers do, not on earlier epochs. With workers=0 the main process runs the
stream of worker 0 of 1, so workers=0 and workers=1 give the same batches.
"""

import dataclasses
import tarfile
import zlib

import numpy as np

from cig_k3.data.augment import build_intensity_transform, build_pair_transform
from cig_k3.data.field_cache import FieldCache
from cig_k3.data.mixing import mix_samples, square_box
from cig_k3.data.normalize import encode_label, to_unit_range, unit_to_model_range
from cig_k3.data.shards import decode_sample, iter_tar

# What a broken tar raises while it is streamed.
TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError)


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """Everything a worker needs to produce its samples; plain values, so it pickles."""

    urls: tuple
    task: str
    encoding: str | None
    num_classes: int
    raw_percentiles: tuple          # (p_low, p_high), per channel
    source_percentiles: tuple | None
    crop: int | None
    training: bool
    augment: object                 # AugmentConfig or None
    mixing: str | None
    mix_fraction: tuple
    shuffle_buffer: int
    crops_per_field: int
    field_cache_bytes: int          # per reader process; 0: decode every field on every pass
    with_instances: bool
    on_error: str
    seed: int


def _fields(spec, urls, cache=None):
    """Yield ("field", url, decoded) per readable sample, ("warning", url, text) per problem.

    cache: a `FieldCache`; a shard it holds is not read again, and a shard read to its end
    without a warning is offered to it.
    """
    for url in urls:
        cached = cache.get(url) if cache is not None else None
        if cached is not None:
            for field in cached:
                yield "field", url, field
            continue
        keeper = cache.keeper(url) if cache is not None else None
        samples = iter_tar(url)
        while True:
            try:
                raw_sample = next(samples)
            except StopIteration:
                break
            except TAR_ERRORS as error:
                message = f"shard {url} is corrupt or unreadable ({type(error).__name__}: {error})"
                if spec.on_error == "fail":
                    raise ValueError(message + "; pass on_error='skip' (cig train --on-error skip) "
                                             "to go on without it") from error
                yield "warning", url, message + "; skipping the rest of it"
                keeper = None
                break
            try:
                field = decode_sample(raw_sample, spec.task, instances=spec.with_instances)
                _check_label(spec, field)
            except Exception as error:  # any decoder failure is a bad sample, named below
                message = f"shard {url}: sample {raw_sample.get('__key__')!r} cannot be decoded ({error})"
                if spec.on_error == "fail":
                    raise ValueError(message) from error
                yield "warning", url, message + "; skipped"
                keeper = None
                continue
            if keeper is not None:
                keeper.add(field)
            yield "field", url, field
        if keeper is not None:
            keeper.store()


def _check_label(spec, field):
    if spec.task == "mask2image" and spec.encoding != "raw" and field["label"].size:
        largest = int(field["label"].max())
        if largest >= spec.num_classes:
            raise ValueError(f"label value {largest} is outside the {spec.num_classes} classes "
                             f"of encoding {spec.encoding!r}")


def one_hot_condition(spec):
    """Whether conditions leave the workers as class ids, to be one-hot encoded per batch."""
    return spec.task == "mask2image" and spec.encoding != "raw"


def _crop_boxes(spec, url, field, rng):
    height, width = field["raw"].shape[:2]
    if spec.crop is None:
        return [(0, 0, height, width)]
    if spec.crop > height or spec.crop > width:
        raise ValueError(
            f"shard {url}: field {field['key']!r} is {height}x{width}, smaller than the "
            f"{spec.crop}x{spec.crop} crop; crops larger than the fields are a config error: "
            f"choose crop <= {min(height, width)}"
        )
    if not spec.training:
        return [((height - spec.crop) // 2, (width - spec.crop) // 2, spec.crop, spec.crop)]
    tops = rng.integers(0, height - spec.crop + 1, size=spec.crops_per_field)
    lefts = rng.integers(0, width - spec.crop + 1, size=spec.crops_per_field)
    return [(int(top), int(left), spec.crop, spec.crop) for top, left in zip(tops, lefts)]


def _crops(spec, url, field, rng):
    """Crops of one field; always copies, so the full field is freed once they are taken and
    nothing downstream can write into a field the `FieldCache` holds."""
    for top, left, height, width in _crop_boxes(spec, url, field, rng):
        window = (slice(top, top + height), slice(left, left + width))
        crop = {"key": field["key"]}
        for name in ("raw", "label", "instances", "source"):
            if name in field:
                crop[name] = np.array(field[name][window], order="C")
        if spec.with_instances and "instances" not in crop:
            raise ValueError(f"shard {url}: sample {field['key']!r} has no instances.png, "
                             "but with_instances=True")
        yield crop


def _shuffled(items, size, rng):
    """A shuffle buffer: fill to `size`, then emit a random entry for each new one."""
    if size <= 1:
        yield from items
        return
    buffer = []
    for item in items:
        if item[0] != "crop":
            yield item
            continue
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = int(rng.integers(len(buffer)))
        buffer[index], item = item, buffer[index]
        yield item
    for index in rng.permutation(len(buffer)):
        yield buffer[index]


class SampleProcessor:
    """Augments and normalises one crop: float32 target (and source) in [-1, 1], the label as
    class ids (one-hot per batch, in the main process) or, for "raw" encoding, one scaled channel."""

    def __init__(self, spec, rng):
        self.spec = spec
        config = spec.augment if spec.training else None
        self.pair = build_pair_transform(config) if config is not None else None
        self.intensity = build_intensity_transform(config) if config is not None else None
        self.intensity_on_target = config is not None and config.target_gets_intensity(spec.task)
        self.intensity_on_source = config is not None and config.intensity_on_source
        # Seeded once: the stream calls them in a fixed order, so their draws are fixed too
        # (seeding per sample would cost more than the flips themselves).
        for transform in (self.pair, self.intensity):
            if transform is not None:
                transform.set_random_seed(int(rng.integers(2**31)))

    def _to_model(self, image, percentiles, augment):
        unit = to_unit_range(image, *percentiles)
        if augment and self.intensity.transforms:
            unit = self.intensity(image=unit)["image"]
        return unit_to_model_range(unit)

    def __call__(self, crop):
        spec = self.spec
        if self.pair is not None and self.pair.transforms:
            targets = {name: crop[name] for name in ("instances", "source") if name in crop}
            if "label" in crop:
                targets["mask"] = crop["label"]
            moved = self.pair(image=crop["raw"], **targets)
            crop = dict(crop, raw=moved["image"], **{name: moved[name] for name in targets if name != "mask"})
            if "label" in crop:
                crop["label"] = moved["mask"]
        sample = {"key": crop["key"],
                  "target": self._to_model(crop["raw"], spec.raw_percentiles, self.intensity_on_target)}
        if spec.task == "virtual_staining":
            sample["condition"] = self._to_model(
                crop["source"], spec.source_percentiles, self.intensity_on_source)
        elif spec.encoding == "raw":
            sample["condition"] = encode_label(crop["label"], spec.encoding, spec.num_classes)
        else:
            # Class ids travel as they are (a quarter of a float one-hot through the worker
            # pipes); `one_hot_condition` encodes whole batches in the main process.
            sample["condition"] = crop["label"]
        if spec.with_instances:
            sample["instances"] = crop["instances"].astype(np.int32)
        return sample


def _passes(spec, epoch, worker, num_workers, endless):
    """Shard lists for this worker, pass after pass (one pass unless `endless`)."""
    pass_index = 0
    while True:
        if spec.training:
            order = np.random.default_rng([spec.seed, epoch, pass_index]).permutation(len(spec.urls))
        else:
            order = np.arange(len(spec.urls))
        yield [spec.urls[index] for index in order[worker::num_workers]]
        if not endless:
            return
        pass_index += 1


def sample_stream(spec, epoch, worker=0, num_workers=1, endless=False, field_cache=None):
    """Yield ("sample", dict) and ("warning", shard, text) for one worker and one epoch.

    endless: repeat passes over the shards (with a new shard order each pass) until the
    consumer stops; a pass that yields no field ends the stream, so an all-corrupt shard
    list cannot loop for ever.
    field_cache: a `FieldCache` to use (and fill), e.g. one kept across epochs; None makes
        one of spec.field_cache_bytes for this call. The samples are the same either way.
    """
    rng = np.random.default_rng([spec.seed, epoch, worker, num_workers])
    processor = SampleProcessor(spec, rng)
    if field_cache is None and spec.field_cache_bytes > 0:
        field_cache = FieldCache(spec.field_cache_bytes)

    def crops():
        for urls in _passes(spec, epoch, worker, num_workers, endless):
            found = False
            for kind, url, payload in _fields(spec, urls, field_cache):
                if kind == "warning":
                    yield "warning", url, payload
                    continue
                found = True
                for crop in _crops(spec, url, payload, rng):
                    yield "crop", url, crop
            if not found:
                return

    pending = None  # sample a, waiting for its partner b in mixing mode
    for kind, url, payload in _shuffled(crops(), spec.shuffle_buffer if spec.training else 0, rng):
        if kind == "warning":
            yield kind, url, payload
            continue
        sample = processor(payload)
        if spec.mixing is None:
            yield "sample", url, sample
        elif pending is None:
            pending = sample
        else:
            height, width = sample["target"].shape[:2]
            box = square_box(height, width, rng, spec.mixing, spec.mix_fraction)
            yield "sample", url, mix_samples(pending, sample, box)
            pending = None
