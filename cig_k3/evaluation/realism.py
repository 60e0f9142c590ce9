"""Realism: do generated images pass for real ones? Measured against a floor and two baselines.

Every metric of this module is computed the same way for four image sets, each against the
real images of the evaluated split (the *reference*):

- `generated`: the images a generator drew for the reference's masks;
- `floor`: real images of another split (train), as many fields as the reference, so that
  "real against real" gives each metric the value a perfect generator would reach;
- `flat`: the flat-mask baseline, each mask painted with the train set's mean foreground and
  background intensities and blurred with sigma = 1, what a texture-less generator draws;
- `blurred`: the reference's real images blurred with sigma = 2.

A model is realistic on a metric only where it beats both baselines and approaches the floor.
The metrics (each in its own module): Inception FID / KID on tiles (`inception`), classifier
two-sample tests (`c2st`), cell-level intensity and texture features (`cell_features`), the
radially averaged power spectrum and its checkerboard peak (`spectrum`), the texture's
amplitude by scale inside the objects and in the far background (`texture_bands`), and, for
a generator that draws K samples per mask, the diversity ratio (`diversity`).

Example:
    reference = load_fields("data/bbbc039", "test")
    generated = [generate(field) for field in reference.conditions]
    train, more = load_floor("data/bbbc039", len(reference), draws=4)
    results = realism_suite(reference, {"generated": generated}, train=train, more={"floor": more})
    print(format_table(results))
"""

import dataclasses
import logging

import numpy as np

log = logging.getLogger(__name__)

BASELINES = ("floor", "flat", "blurred")
FLAT_SIGMA = 1.0
BLUR_SIGMA = 2.0
DIVERSITY_TILES = 4


@dataclasses.dataclass
class FieldSet:
    """Whole fields of one split: images in [-1, 1], instance masks, generator conditions.

    Args:
        keys: the samples' keys (file stems at `cig prepare` time).
        images: H x W x C float32 arrays in [-1, 1].
        instances: H x W int arrays (0 = background), or None for virtual staining.
        conditions: H x W x C_in float32 arrays, encoded as the generator takes them.
    """

    keys: list
    images: list
    instances: list = None
    conditions: list = None

    def __len__(self):
        return len(self.images)

    def subset(self, indices):
        pick = lambda values: None if values is None else [values[i] for i in indices]  # noqa: E731
        return FieldSet([self.keys[i] for i in indices], pick(self.images), pick(self.instances),
                        pick(self.conditions))


@dataclasses.dataclass(frozen=True)
class RealismOptions:
    """How realism is measured; stated in every result.

    Args:
        tile: tile size in pixels; fields are cut into non-overlapping tiles (remainders
            dropped) for Inception features, C2ST and spectra (None: 128, or the smallest
            field side if smaller).
        cnn_steps: training steps of the C2ST CNN (0 skips it).
        cnn_crop: pixel crop of the C2ST CNN.
        seed: seed of every random choice (halves, classifiers, subsets).
        channel: the image channel measured (Inception sees grey replicated to RGB).
        draws: image sets whose checkerboard peaks are averaged for each set: the generator's
            draws of the reference's masks, and disjoint train subsets of the reference's size
            for the floor (as many as the split holds). One draw of 28 BBBC039 fields moves the
            peak by about 0.3 dB, more than the difference the target asks about.
    """

    tile: int = None
    cnn_steps: int = 300
    cnn_crop: int = 48
    seed: int = 0
    channel: int = 0
    draws: int = 4


def load_fields(shards, split, count=None, seed=0, with_conditions=True):
    """Whole fields of `split` of a shard folder, in the model's range (no crops, no augmentation).

    Args:
        count: at most this many fields, drawn at random with `seed` (all when None).
    """
    from cig_k3.data import BatchStream
    from cig_k3.data.normalize import encode_label
    from cig_k3.data.sampling import one_hot_condition

    stream = BatchStream(shards, split=split, batch_size=1, crop=None, augment=None, seed=seed,
                         with_instances=True if _is_mask2image(shards) else False, training=False)
    keys, images, instances, conditions = [], [], [], []
    for sample in stream._items_in_process(0, endless=False):  # one pass, in shard order
        keys.append(sample["key"])
        images.append(sample["target"].astype(np.float32))
        if "instances" in sample:
            instances.append(sample["instances"])
        if with_conditions:
            condition = sample["condition"]
            if one_hot_condition(stream.spec):
                condition = encode_label(condition, stream.encoding, stream.spec.num_classes)
            conditions.append(np.asarray(condition, dtype=np.float32))
    if not images:
        raise ValueError(f"split {split!r} of {shards} holds no fields to evaluate")
    fields = FieldSet(keys, images, instances or None, conditions if with_conditions else None)
    if count is not None and count < len(fields):
        fields = fields.subset(chosen_fields(len(fields), count, seed))
    return fields


def chosen_fields(total, count, seed=0):
    """The sorted indices of the `count` of `total` fields that `load_fields(count=count,
    seed=seed)` keeps."""
    return np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))


def load_floor(shards, count, draws=1, seed=0):
    """The floor's real train fields and, for per-draw metrics, more disjoint train subsets.

    Returns:
        (train, more): `train` is what `load_fields(shards, "train", count, seed,
        with_conditions=False)` returns (the floor and the flat baseline's means); `more` holds
        up to `draws` - 1 further lists of `count` train images, none of them in `train` or in
        each other (fewer where the split is too small).
    """
    every = load_fields(shards, "train", with_conditions=False)
    if count >= len(every):
        return every, []
    chosen = chosen_fields(len(every), count, seed)
    rest = np.setdiff1d(np.arange(len(every)), chosen)
    more = [[every.images[i] for i in rest[k * count:(k + 1) * count]]
            for k in range(min(max(draws, 1) - 1, len(rest) // count))]
    return every.subset(chosen), more


def _is_mask2image(shards):
    from cig_k3.data import read_manifest

    return read_manifest(shards)["task"] == "mask2image"


def flat_mask_baseline(instances, foreground_mean, background_mean, sigma=FLAT_SIGMA):
    """Masks painted flat: `foreground_mean` inside objects, `background_mean` outside,
    Gaussian-blurred with `sigma` pixels; H x W x C float32 in [-1, 1] per mask."""
    from scipy import ndimage

    foreground_mean = np.atleast_1d(np.asarray(foreground_mean, dtype=np.float32))
    background_mean = np.atleast_1d(np.asarray(background_mean, dtype=np.float32))
    painted = []
    for mask in instances:
        inside = (np.asarray(mask) > 0)[..., None]
        image = np.where(inside, foreground_mean, background_mean).astype(np.float32)
        painted.append(ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0)))
    return painted


def intensity_means(fields):
    """Mean foreground and background intensity per channel over `fields` (which need masks)."""
    if fields.instances is None:
        raise ValueError("the flat-mask baseline needs instance masks; virtual staining has none")
    foreground, background = [], []
    for image, mask in zip(fields.images, fields.instances):
        inside = np.asarray(mask) > 0
        foreground.append(image[inside])
        background.append(image[~inside])
    return np.concatenate(foreground).mean(axis=0), np.concatenate(background).mean(axis=0)


def blurred_images(images, sigma=BLUR_SIGMA):
    """Images Gaussian-blurred with `sigma` pixels in height and width."""
    from scipy import ndimage

    return [ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), sigma=(sigma, sigma, 0))
            for image in images]


def baselines(reference, train):
    """The baseline image sets for `reference`: {"floor", "flat", "blurred"} -> FieldSet.

    The floor holds as many train fields as the reference has (fewer if train is smaller).
    """
    sets = {"floor": train.subset(range(min(len(train), len(reference))))}
    if reference.instances is not None and train.instances is not None:
        foreground, background = intensity_means(train)
        sets["flat"] = FieldSet(reference.keys, flat_mask_baseline(reference.instances, foreground, background),
                                reference.instances)
    sets["blurred"] = FieldSet(reference.keys, blurred_images(reference.images), reference.instances)
    return sets


def _tile_size(options, *field_sets):
    smallest = min(min(image.shape[:2]) for fields in field_sets for image in fields.images)
    return min(options.tile or 128, smallest)


def _tiles(images, tile, channel, group_offset=0):
    """(tiles (T, tile, tile, 1), group id per tile): non-overlapping tiles of each image."""
    from cig_k3.evaluation.inception import tile_images

    tiles, groups = [], []
    for index, image in enumerate(images):
        cut, _ = tile_images(np.asarray(image)[None, ..., channel:channel + 1], tile)
        tiles.append(cut)
        groups.append(np.full(len(cut), group_offset + index))
    return np.concatenate(tiles), np.concatenate(groups)


class CachedFeatures:
    """An Inception extractor whose features of identical tiles are kept in `folder` (.npy by
    content hash), so that the real, floor and baseline sets of a data set are computed once
    for every model evaluated on it."""

    def __init__(self, extractor, folder):
        import os

        self.extractor, self.folder = extractor, folder
        os.makedirs(folder, exist_ok=True)

    def __call__(self, tiles):
        import hashlib
        import os

        tiles = np.ascontiguousarray(tiles, dtype=np.float32)
        digest = hashlib.sha1(repr(tiles.shape).encode() + tiles.tobytes()).hexdigest()
        path = os.path.join(self.folder, f"{digest}.npy")
        if os.path.exists(path):
            return np.load(path, allow_pickle=False)
        features = self.extractor(tiles)
        partial = f"{path}.{os.getpid()}.partial.npy"
        np.save(partial, features)
        os.replace(partial, path)  # atomic: a killed run never leaves half a file
        return features


class _Measure:
    """The reference's statistics, computed once and met by every candidate set."""

    def __init__(self, reference, options, tile, inception):
        from cig_k3.evaluation import cell_features, spectrum, texture_bands

        self.options, self.tile, self.inception = options, tile, inception
        self.tiles, self.groups = _tiles(reference.images, tile, options.channel)
        self.features = inception(self.tiles)
        self.spectrum = spectrum.radial_power_spectrum(self.tiles[..., 0])
        self.checkerboard = spectrum.checkerboard_peak(self.tiles[..., 0])
        self.cells = self.bands = None
        if reference.instances is not None:
            planes = [image[..., options.channel] for image in reference.images]
            self.cells = cell_features.feature_table(planes, reference.instances)
            self.bands = texture_bands.amplitude_table(planes, reference.instances)

    def __call__(self, fields, same_fields, more=()):
        """Metrics of `fields` against the reference. `same_fields`: drawn for the reference's
        own masks, so field i of both belongs to one group and never straddles the C2ST halves.
        `more`: further image lists of the same kind (draws), averaged into the checkerboard peak."""
        from cig_k3.evaluation import c2st, cell_features, distances, spectrum, texture_bands
        from cig_k3.evaluation.inception import protocol

        options = self.options
        tiles, groups = _tiles(fields.images, self.tile, options.channel, group_offset=0 if same_fields else 10**6)
        features = self.inception(tiles)
        result = {"n_tiles": int(len(tiles)), "n_fields": len(fields)}
        inception = distances.fid_kid(self.features, features, features="inception_v3",
                                      n_subsets=50, subset_size=max(2, min(len(features), len(self.features)) // 2))
        result["fid_inception"] = inception["fid"]
        result["kid_inception"] = inception["kid_mean"]
        result["kid_inception_std"] = inception["kid_std"]
        result["protocol"] = protocol(self.tile, int(len(tiles)))
        logistic = c2st.c2st_logistic(self.features, features, self.groups, groups, seed=options.seed)
        result["c2st_logistic"] = logistic["accuracy"]
        result["c2st_logistic_ci95"] = logistic["ci95"]
        if options.cnn_steps:
            cnn = c2st.c2st_cnn(self.tiles, tiles, self.groups, groups, seed=options.seed,
                                steps=options.cnn_steps, crop=min(options.cnn_crop, self.tile))
            result["c2st_cnn"] = cnn["accuracy"]
            result["c2st_cnn_ci95"] = cnn["ci95"]
        frequencies, power = spectrum.radial_power_spectrum(tiles[..., 0])
        result["spectrum"] = (frequencies, power)
        result["spectral_distance"] = spectrum.spectral_distance(self.tiles[..., 0], tiles[..., 0])
        peaks = [spectrum.checkerboard_peak(tiles[..., 0])["peak"]]
        for images in more:
            extra, _ = _tiles(images, self.tile, options.channel)
            peaks.append(spectrum.checkerboard_peak(extra[..., 0])["peak"])
        result["checkerboard_peak"] = float(np.mean(peaks))
        result["checkerboard_peaks"] = [float(peak) for peak in peaks]
        result["checkerboard_excess"] = result["checkerboard_peak"] - self.checkerboard["peak"]
        if self.cells is not None and fields.instances is not None:
            planes = [image[..., options.channel] for image in fields.images]
            bands = texture_bands.compare_bands(self.bands, texture_bands.amplitude_table(planes, fields.instances))
            result["texture_bands"] = bands
            result["object_texture_ratio"] = bands["object_texture_ratio"]
            result["background_texture_ratio"] = bands["background_texture_ratio"]
            table = cell_features.feature_table(planes, fields.instances)
            compared = cell_features.compare(self.cells, table)
            result["cell_features"] = compared
            result["cell_table"] = table
            result["cell_fd"] = compared["frechet"]
            worst = compared["worst"][0] if compared["worst"] else None
            result["cell_worst"] = worst
        return result


def realism_suite(reference, candidates, train=None, options=RealismOptions(), inception=None, samples=None,
                  cache=None, more=None):
    """Realism metrics of each candidate image set, and of the floor and baselines.

    Args:
        reference: a `FieldSet` of real fields (the evaluated split).
        candidates: {name: list of H x W x C images in [-1, 1]}, drawn for the reference's
            masks in order (e.g. {"generated": ...}).
        train: a `FieldSet` of real train fields for the floor and the flat baseline (None:
            no floor and no flat baseline).
        options: `RealismOptions`.
        inception: an `InceptionFeatures` (None: loaded from the installed wheel).
        samples: optional {"images": (N, K, H, W, C) K samples for the first N reference
            masks} for the diversity ratio.
        cache: a folder that keeps Inception features by tile content (see `CachedFeatures`).
        more: {set name: [image list, ...]} further draws of a set (e.g. the generator's draws
            2..D of the reference's masks, `"floor"`: the train subsets of `load_floor`), whose
            checkerboard peaks are averaged with the set's own (`RealismOptions.draws`).

    Returns:
        {"options", "sets": {name: metrics}, "diversity": ..., "spectra": {name: (f, p)}}
    """
    from cig_k3.evaluation.inception import InceptionFeatures

    inception = inception or InceptionFeatures()
    if cache is not None:
        inception = CachedFeatures(inception, cache)
    sets = {name: FieldSet(reference.keys, list(images), reference.instances)
            for name, images in candidates.items()}
    for name, images in sets.items():
        if len(images) != len(reference):
            raise ValueError(f"{name}: {len(images)} images for {len(reference)} reference masks")
    if train is not None:
        sets.update(baselines(reference, train))
    else:
        sets["blurred"] = FieldSet(reference.keys, blurred_images(reference.images), reference.instances)
    tile = _tile_size(options, reference, *sets.values())
    log.info("realism: %d reference fields, tiles of %d px, sets %s", len(reference), tile, sorted(sets))
    measure = _Measure(reference, options, tile, inception)
    results = {"options": dataclasses.asdict(options) | {"tile": tile}, "sets": {}, "spectra": {},
               "cell_tables": {"real": measure.cells} if measure.cells is not None else {}}
    results["spectra"]["real"] = measure.spectrum
    for name, fields in sets.items():
        log.info("realism: measuring %s", name)
        metrics = measure(fields, same_fields=name != "floor", more=(more or {}).get(name, ()))
        results["spectra"][name] = metrics.pop("spectrum")
        if "cell_table" in metrics:
            results["cell_tables"][name] = metrics.pop("cell_table")
        results["sets"][name] = metrics
    if samples is not None:
        results["diversity"] = diversity_of(samples["images"], reference, inception, options, tile)
        results["sets"]["generated"]["diversity_ratio"] = results["diversity"]["pixel"]["diversity_ratio"]
        results["sets"].setdefault("flat", {})
        if "flat" in sets:
            results["sets"]["flat"]["diversity_ratio"] = 0.0  # one fixed image per mask
    return results


def diversity_of(sample_images, reference, inception, options, tile):
    """Diversity of K samples per mask, in pixels (inside objects) and in Inception features."""
    from cig_k3.evaluation import diversity
    from cig_k3.evaluation.inception import tile_images

    channel = options.channel
    count = len(sample_images)
    real = [reference.images[i][..., channel:channel + 1] for i in range(count)]
    result = {}
    if reference.instances is not None:
        per_mask = [diversity.pixel_diversity(np.asarray(sample_images[i])[None, ..., channel:channel + 1],
                                              None, real[i][None], instances=reference.instances[i][None])
                    for i in range(count)]
        distance = float(np.mean([item["pixel_distance"] for item in per_mask]))
        within = float(np.mean([item["real_within_object"] for item in per_mask]))
        result["pixel"] = {"pixel_distance": distance, "real_within_object": within,
                           "diversity_ratio": distance / within if within > 0 else float("nan"),
                           "k": int(np.asarray(sample_images[0]).shape[0]), "n_masks": count}
        std_maps = [np.asarray(sample_images[i])[..., channel].std(axis=0) for i in range(count)]
        follows = [diversity.uncertainty_follows_texture(std_maps[i], real[i][..., 0], reference.instances[i])
                   for i in range(count)]
        result["uncertainty_texture"] = {
            key: float(np.mean([item[key] for item in follows])) for key in follows[0] if key != "follows_texture"}
        result["uncertainty_texture"]["follows_texture"] = bool(
            result["uncertainty_texture"].get("corr_texture", 0) > result["uncertainty_texture"].get("corr_outline", 0))
    sample_features, real_features = [], []
    for i in range(count):
        draws = np.asarray(sample_images[i])[..., channel:channel + 1]  # (K, H, W, 1)
        # At most DIVERSITY_TILES tile positions per mask: K x tiles Inception calls add up.
        tiles = np.stack([tile_images(draw[None], tile)[0][:DIVERSITY_TILES] for draw in draws], axis=1)
        flat = inception(tiles.reshape((-1,) + tiles.shape[2:]))
        sample_features.append(flat.reshape(tiles.shape[0], tiles.shape[1], -1))
        real_features.append(inception(tile_images(real[i][None], tile)[0][:DIVERSITY_TILES]))
    result["inception"] = diversity.feature_diversity(np.concatenate(sample_features), np.concatenate(real_features))
    return result


# The terminal table: metric | generated | floor | flat baseline | blurred real.
TABLE_ROWS = (
    ("Inception FID", "fid_inception", "lower"),
    ("Inception KID", "kid_inception", "lower"),
    ("C2ST logistic (Inception)", "c2st_logistic", "0.5"),
    ("C2ST CNN (pixels)", "c2st_cnn", "0.5"),
    ("cell-feature FD", "cell_fd", "lower"),
    ("object texture < 3 px (x real)", "object_texture_ratio", "1"),
    ("background texture < 3 px (x real)", "background_texture_ratio", "1"),
    ("spectral distance", "spectral_distance", "lower"),
    ("checkerboard excess (dB)", "checkerboard_excess", "<= 0"),
    ("diversity ratio", "diversity_ratio", "higher"),
)


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if not np.isfinite(value):
            return "nan"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table_rows(results, names=("generated", "floor", "flat", "blurred")):
    """[(metric, target, value per set)] for the sets present in `results`."""
    present = [name for name in names if name in results["sets"]]
    rows = []
    for label, key, target in TABLE_ROWS:
        values = [results["sets"][name].get(key) for name in present]
        if all(value is None for value in values):
            continue
        rows.append((label, target, values))
    return present, rows


def format_table(results, extra_rows=()):
    """A short plain-text table: metric | target | generated | floor | flat baseline | blurred real."""
    headers = {"generated": "generated", "floor": "floor (real)", "flat": "flat baseline",
               "blurred": "blurred real", "images": "images"}
    present, rows = table_rows(results)
    rows = [(label, target, [_cell(v) for v in values]) for label, target, values in rows]
    rows += [(label, target, [_cell(v) for v in values]) for label, target, values in extra_rows]
    header = ["metric", "best"] + [headers.get(name, name) for name in present]
    body = [[label, target, *values] for label, target, values in rows]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    line = lambda row: "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()  # noqa: E731
    lines = [line(header), line(["-" * width for width in widths]), *map(line, body)]
    generated = results["sets"].get("generated", {})
    if generated.get("cell_features", {}).get("worst"):
        lines.append("cell features furthest off: " + "; ".join(
            item["text"] if isinstance(item, dict) else str(item) for item in generated["cell_features"]["worst"][:3]))
    return "\n".join(lines)
