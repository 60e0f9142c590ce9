"""The plugin's "Generate from labels": a labels array in, napari image layers out.

Everything here is napari-free (no Qt, no viewer), so that it runs headless in tests and
from scripts: the widget (`widget.py`) only collects inputs, runs this in a worker thread
and adds the returned layer-data tuples. Generation is `cig generate`'s own code: the mask is
encoded as training encoded it, tiled with `predict_tiled`, sampled with dropout on for
K >= 2, and mapped back to the data's intensity scale with the run's manifest.

A refusal (wrong labels, a refused model file, a channel mismatch) is a `ValueError` with one
line that says what to change; the widget shows exactly that line.
"""

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def model_name(model_path):
    """The name a generated layer takes: the run folder's name for `RUN/generator.keras`,
    else the file's stem."""
    path = Path(model_path)
    if path.is_dir():
        return path.resolve().name
    return path.resolve().parent.name if path.stem == "generator" else path.stem


def check_labels(labels, name="labels"):
    """`labels` as an H x W integer array; ValueError naming the layer otherwise."""
    if isinstance(labels, (list, tuple)):
        raise ValueError(f"labels layer {name!r} is multiscale: pick a single-scale labels layer.")
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels layer {name!r} is {labels.ndim}-D {tuple(labels.shape)}; CIG draws from 2-D "
                         "label images: pick a 2-D layer or split the stack first.")
    if labels.size == 0:
        raise ValueError(f"labels layer {name!r} is empty {tuple(labels.shape)}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels layer {name!r} holds {labels.dtype} values; labels must be integers.")
    return labels


def load_model_and_manifest(model_path):
    """(model path, model, manifest) for a run folder or a generator .keras file.

    The file is checked before loading (`load_generator`: safe mode, no foreign code) and
    must be a mask-to-image generator taking images; every refusal is one ValueError line.
    """
    from cig_k3.export.loading import load_generator, load_run_manifest, resolve_model_path

    if not str(model_path).strip():
        raise ValueError("choose a model: a run folder or its generator.keras.")
    try:
        path = resolve_model_path(model_path)
        manifest = load_run_manifest(path)
    except FileNotFoundError as error:
        raise ValueError(str(error).replace("pass --manifest with", "put")
                         .replace("manifest.json.", "manifest.json beside the model.")) from None
    if manifest.get("task", "mask2image") != "mask2image":
        raise ValueError(f"{path} was trained for task {manifest.get('task')!r}; this widget draws images from "
                         "labels (a mask2image run).")
    model = load_generator(path)
    for spec in getattr(model, "inputs", None) or []:  # an instance generator is subclassed: no inputs
        if len(spec.shape) != 4:
            raise ValueError(f"{path}: {model.name!r} takes inputs of shape {tuple(spec.shape)}, not images "
                             "(N, H, W, C): it is not a mask-to-image generator.")
    return path, model, manifest


def style_condition(style, labels_shape, manifest, out_channels, name="style"):
    """A style image in the data's scale -> H x W x C in the model's [-1, 1]."""
    from cig_k3.data.normalize import to_model_range

    style = np.asarray(style)
    if style.ndim == 2:
        style = style[..., None]
    if style.ndim != 3 or style.shape[:2] != tuple(labels_shape):
        raise ValueError(f"style layer {name!r} has shape {tuple(style.shape)}; it must be an image of the "
                         f"labels' size {tuple(labels_shape)} (H x W, or H x W x C).")
    if style.shape[-1] != out_channels:
        raise ValueError(f"style layer {name!r} has {style.shape[-1]} channels but the model draws "
                         f"{out_channels}: channel mismatch.")
    stats = manifest["stats"]["raw"]
    return to_model_range(style, stats["p_low"], stats["p_high"])


def _style_function(model, label_channels):
    """fn for `predict_tiled` over label and style stacked on the channel axis: tiling cuts
    both alike, and the model gets them apart again as {"label", "raw"}."""
    import keras

    def run(batch):
        inputs = {"label": batch[..., :label_channels], "raw": batch[..., label_channels:]}
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    return run


def generate_from_labels(model_path, labels, style=None, samples=1, tile=256, overlap=32, seed=0, batch_size=4,
                         labels_name="labels", style_name="style", on_progress=None, mean=False):
    """Draw images for a labels array with a trained CIG generator.

    Args:
        model_path: a run folder (generator.keras and manifest.json) or a generator .keras
            file with manifest.json beside it.
        labels: H x W integer instance labels (0 background).
        style: the data-scale style image (H x W or H x W x C) for generators that take one
            (MixLC), else None.
        samples: 1 for one seeded draw (noise and dropout on); K >= 2 for K draws plus the
            per-pixel mean and std.
        tile, overlap, batch_size: tiling, as `cig generate --tile --overlap --batch-size`.
        seed: seeds the noise layers; the same seed gives the same samples.
        labels_name, style_name: the layers' names, for messages and provenance.
        on_progress: called as on_progress(done, total) after each generator call.
        mean: one image with every noise source off (the generator's smooth mean image)
            instead of a draw; samples must be 1.

    Returns:
        napari layer-data tuples `(data, kwargs, "image")`: the image (K x H x W for K >= 2)
        in the data's dtype, and for K >= 2 the float32 mean and std. Each layer's metadata
        holds the provenance (`synthetic: True`, model, run id, seed, labels, kind).

    Raises:
        ValueError: one line saying what to change.

    Example:
        >>> layers = generate_from_labels("runs/bbbc039", labels, samples=4)
        >>> [kwargs["name"] for _, kwargs, _ in layers]
        ['bbbc039', 'bbbc039 mean', 'bbbc039 std']
    """
    from cig_k3.evaluation.conditioning import takes_instances, takes_style
    from cig_k3.export.loading import run_id_of, size_multiple
    from cig_k3.inference.instances import instance_function, sample_seed, with_instance_channel
    from cig_k3.inference.generate import Provenance, encode_mask, model_function, native_images, reseed_dropout
    from cig_k3.inference.tiling import count_calls, predict_tiled
    from cig_k3.layers import one_draw_per_field, sampling

    labels = check_labels(labels, labels_name)
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}.")
    path, model, manifest = load_model_and_manifest(model_path)
    instanced = takes_instances(model)  # each object drawn with a feature of its own (realistic-instance)
    if instanced:
        label_channels = model.in_channels
    else:
        label_channels = int(model.inputs[0].shape[-1]) if not takes_style(model) else int(model.input["label"].shape[-1])
    condition, _, _ = encode_mask(labels, manifest, label_channels, "instance", path=f"labels layer {labels_name!r}")
    if instanced:
        if style is not None:
            raise ValueError(f"{model_name(path)} takes no style image: leave style empty.")
        # The labels layer's own objects, as one more channel that the tiles carry.
        condition, _ = with_instance_channel(condition, labels)

        def run_for(k):  # sample k's features, drawn as `cig generate --seed seed` draws them
            features = model.sample_features(labels[None], seed=sample_seed(seed, k))
            return instance_function(model, features, label_channels)
    elif takes_style(model):
        if style is None:
            raise ValueError(f"{model_name(path)} draws in the style of an image: choose a style image layer.")
        out_channels = int(model.input["raw"].shape[-1])
        condition = np.concatenate(
            [condition, style_condition(style, labels.shape, manifest, out_channels, style_name)], axis=-1)
        styled_run = _style_function(model, label_channels)
        run_for = lambda k: styled_run  # noqa: E731
    else:
        if style is not None:
            raise ValueError(f"{model_name(path)} takes no style image: leave style empty.")
        plain_run = model_function(model)
        run_for = lambda k: plain_run  # noqa: E731

    multiple = size_multiple(model)
    total = samples * count_calls(*labels.shape, tile, overlap, multiple, batch_size)
    done = 0

    def counted(batch):
        nonlocal done
        output = run(batch)  # this sample's function, set below
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        return output

    reseed_dropout(model, seed)
    images = []
    if mean and samples > 1:
        raise ValueError(f"mean draws one noise-free image; it cannot go with {samples} samples.")
    with sampling(model, enabled=not mean):  # one draw is draw 0 of K, as `cig generate` draws it
        for k in range(samples):  # one latent code per sample on every tile
            run = run_for(k)
            with one_draw_per_field(model, (seed, k)) as field:
                images.append(predict_tiled(counted, condition, tile, overlap, multiple, batch_size=batch_size,
                                            on_tiles=field.place))
    natives, summary = native_images(images, manifest)
    provenance = Provenance(model=str(path.resolve()), run_id=run_id_of(path), seed=seed)
    return _layer_tuples(model_name(path), natives, summary, manifest, provenance, labels_name, not mean)


def _layer_tuples(name, natives, summary, manifest, provenance, labels_name, drawn=True):
    stats = manifest["stats"]["raw"]
    channels = natives[0].shape[-1]
    samples = len(natives)
    image = natives[0] if samples == 1 else np.stack(natives)
    kind = "image" if samples == 1 else "samples"
    layers = [(image, {"name": name, "kind": kind, "limits": (stats["p_low"], stats["p_high"])})]
    for key, values in summary.items():
        limits = (stats["p_low"], stats["p_high"]) if key == "mean" else None
        layers.append((values.astype(np.float32), {"name": f"{name} {key}", "kind": f"uncertainty_{key}",
                                                   "limits": limits}))
    tuples = []
    channel_names = list(manifest.get("raw_channels") or [])
    for data, spec in layers:
        metadata = provenance.for_mask(labels_name, kind=spec["kind"], samples=samples,
                                       dropout_sampling=drawn, units="data intensity scale")
        kwargs = {"name": spec["name"], "metadata": metadata}
        if channels == 1:
            data = data[..., 0]
            if spec["limits"] is not None:
                kwargs["contrast_limits"] = [float(spec["limits"][0][0]), float(spec["limits"][1][0])]
        else:
            # One layer per channel, as napari shows multichannel fluorescence.
            kwargs["channel_axis"] = -1
            names = channel_names if len(channel_names) == channels else [str(c) for c in range(channels)]
            kwargs["name"] = [f"{spec['name']} [{channel}]" for channel in names]
        tuples.append((data, kwargs, "image"))
    return tuples
