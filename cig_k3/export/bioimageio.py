"""`cig export --format bioimageio`: a BioImage Model Zoo package of a trained generator.

The package (a folder, or a `.zip` of it) holds `rdf.yaml` in the current model format
(0.5), the README it links as documentation, a cover from the run's sample grid, test
tensors, and two weights entries: the run's `generator.keras` (`keras_v3`, the parent) and an
ONNX file converted from it (`cig_k3.export.formats`, checked against Keras). The input is
the encoded label mask (axes batch, y, x, channel, as the Keras model takes it); the output
goes through `scale_linear`, which maps the network's [-1, 1] back to the data's units with
the training percentiles, as `cig generate` does. A virtual-staining source image is scaled
into the network's range by `scale_linear` and `clip` preprocessing steps; a one-hot label
needs none (bioimage.io has no one-hot step, so the input is the encoded mask). The test
tensors are made with every noise source off (dropout, noise injection, latent code), so a
package test is deterministic.

Everything is built in a temporary folder beside `--out`, validated with bioimageio.spec
(local files only, nothing fetched) and only then renamed.

Example:
    >>> export_bioimageio("runs/cig", "cig-model.zip")  # doctest: +SKIP
    BioimageioResult(path='cig-model.zip', ...)

Reference: BioImage Model Zoo model description format 0.5
(bioimageio.spec, `bioimageio.spec.model.v0_5`).
"""

import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cig_k3.export import bioimageio_card as card
from cig_k3.export.formats import _remove  # the same "remove a file or folder" as the other formats
from cig_k3.export.loading import (
    atomic_target, load_generator, load_run_manifest, refuse_instance_generator, resolve_model_path,
)

logger = logging.getLogger(__name__)

WEIGHTS_KERAS = "generator.keras"
WEIGHTS_ONNX = "generator.onnx"
CHANNEL_NAMES = {"semantic3": ["background", "interior", "boundary"], "binary": ["background", "foreground"],
                 "raw": ["label"]}
TOLERANCE = 1e-4


@dataclass
class BioimageioResult:
    path: str
    name: str
    test_max_abs_diff: float  # Keras vs the ONNX child on the test input, before postprocessing


def check_out(out):
    """Refuse an `--out` that cannot become a package, before anything is written."""
    out = Path(out)
    if out.suffix.lower() == ".zip":
        if out.is_dir():
            raise ValueError(f"--out {out} is a folder: give a new or existing .zip file, or a folder name "
                             "without .zip.")
        if out.exists() and not zipfile.is_zipfile(out):
            raise ValueError(f"--out {out} exists and is not a zip archive: refusing to overwrite it.")
    elif out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file that is not a zip: give a folder or a .zip path.")
    elif out.is_dir() and any(out.iterdir()) and not (out / "rdf.yaml").is_file():
        raise ValueError(f"--out {out} is a folder that holds other files (no rdf.yaml): give an empty or new "
                         "folder, or a .zip path.")
    return out


def export_bioimageio(model_path, out, manifest_path=None, tolerance=TOLERANCE, validate=True):
    """Write the bioimage.io package of the generator in `model_path` (a run folder or its
    `generator.keras`) to `out`: a folder, or a zip when `out` ends in `.zip`.

    Returns a `BioimageioResult`. Raises ValueError (nothing written under `out`) for a bad
    `out`, a generator with more than one input, or a package the validator refuses.
    """
    out = check_out(out)
    model_path = resolve_model_path(model_path)
    run_dir = model_path.parent
    manifest = load_run_manifest(model_path, manifest_path)
    model = load_generator(model_path)
    refuse_instance_generator(model, model_path, "a bioimage.io package")
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(f"{model_path}: a bioimage.io package takes a generator with one image input; "
                         f"this one takes {[tuple(x.shape) for x in model.inputs]}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = atomic_target(out)
    _remove(partial)
    folder = partial.with_suffix("") if out.suffix.lower() == ".zip" else partial
    _remove(folder)
    try:
        folder.mkdir(parents=True)
        name, diff = _write_package(model, model_path, run_dir, manifest, folder, tolerance)
        if validate:
            validate_package(folder / "rdf.yaml")
        if out.suffix.lower() == ".zip":
            _zip_folder(folder, partial)
            os.replace(partial, out)
        else:
            _replace_folder(folder, out)
    finally:
        _remove(partial)
        _remove(folder)
    logger.info("wrote the bioimage.io package %s (%s); ONNX vs Keras on the test input: %.3g", out, name, diff)
    return BioimageioResult(path=str(out), name=name, test_max_abs_diff=diff)


def channel_names(manifest, channels):
    """Names of the condition's channels (as the encoding or the source's channels say)."""
    if manifest.get("task") == "virtual_staining":
        names = [str(name) for name in manifest.get("source_channels") or []]
    else:
        names = CHANNEL_NAMES.get(manifest.get("encoding", "semantic3"), [])
    if len(names) != channels:
        names = [f"condition{index}" for index in range(channels)]
    return [_axis_safe(name) for name in names]


def output_scale(manifest, channels):
    """(p_low, p_high) lists of the training data, one value per output channel."""
    stats = manifest.get("stats", {}).get("raw", {})
    p_low, p_high = list(stats.get("p_low") or []), list(stats.get("p_high") or [])
    if len(p_low) != channels or len(p_high) != channels:
        raise ValueError(f"manifest.json gives {len(p_low)} percentile(s) for a generator with {channels} output "
                         "channel(s): the intensity scale of the output is unknown; pass --manifest.")
    return [float(v) for v in p_low], [float(v) for v in p_high]


def test_input(model, manifest):
    """A deterministic 1 x H x W x C condition: three discs as a label, encoded as in training."""
    multiple = max(1, int(getattr(model, "size_multiple", 1) or 1))
    side = multiple * max(1, -(-64 // multiple))
    channels = model.inputs[0].shape[-1]
    yy, xx = np.mgrid[:side, :side]
    label = np.zeros((side, side), np.uint8)
    for index, (y, x, radius) in enumerate(((0.3, 0.3, 0.15), (0.65, 0.6, 0.2), (0.25, 0.75, 0.1)), start=1):
        inside = (yy - y * side) ** 2 + (xx - x * side) ** 2 <= (radius * side) ** 2
        border = inside & ((yy - y * side) ** 2 + (xx - x * side) ** 2 > ((radius * side) - 2) ** 2)
        label[inside] = 1
        label[border] = 2
    if manifest.get("task") == "virtual_staining" or manifest.get("encoding") == "raw" or channels not in (2, 3):
        # A smooth image in [-1, 1] per channel: what the network takes after preprocessing.
        field = np.sin(yy / side * 6.0)[..., None] * np.cos(xx / side * 4.0)[..., None]
        return np.repeat(field, channels, axis=-1)[None].astype(np.float32)
    label = np.minimum(label, channels - 1)
    return np.eye(channels, dtype=np.float32)[label][None]


def validate_package(rdf_path):
    """Validate `rdf_path` with bioimageio.spec (local files hashed, no URL fetched); one-line
    ValueError naming the first error when the description is invalid."""
    from bioimageio.spec import InvalidDescr, load_description

    description = load_description(rdf_path, perform_io_checks=True)
    if isinstance(description, InvalidDescr):
        errors = description.validation_summary.errors
        first = f"{'.'.join(map(str, errors[0].loc))}: {errors[0].msg}" if errors else "unknown error"
        raise ValueError(f"{rdf_path} is not a valid bioimage.io model ({len(errors)} error(s)); first: {first}")
    return description


def _write_package(model, model_path, run_dir, manifest, folder, tolerance):
    import keras

    from cig_k3.export.formats import export_model, run_onnx
    from cig_k3.layers import sampling

    config = card.read_json(run_dir / "config.json")
    preset = str(config.get("preset") or "cig")
    name = f"CIG {preset} generator ({run_dir.name})"
    channels_in, channels_out = model.inputs[0].shape[-1], model.outputs[0].shape[-1]
    p_low, p_high = output_scale(manifest, channels_out)

    shutil.copyfile(model_path, folder / WEIGHTS_KERAS)
    export_model(model_path, "onnx", folder / WEIGHTS_ONNX, tolerance=tolerance)
    condition = test_input(model, manifest)
    with sampling(model, enabled=False):  # every noise source off: the mean image, deterministic
        network_output = np.asarray(keras.ops.convert_to_numpy(model(condition, training=False)), np.float32)
    diff = float(np.max(np.abs(run_onnx(folder / WEIGHTS_ONNX, condition) - network_output)))
    gain = np.float32((np.asarray(p_high) - np.asarray(p_low)) / 2.0)
    offset = np.float32((np.asarray(p_high) + np.asarray(p_low)) / 2.0)
    np.save(folder / "test_input.npy", _raw_input(condition, manifest))
    np.save(folder / "test_output.npy", (network_output * gain + offset).astype(np.float32))
    _write_cover(run_dir, folder / "cover.png", condition, network_output)

    metrics_results = card.read_json(run_dir / "evaluation" / "results.json")
    metrics = card.evaluation_metrics(metrics_results)
    names_in = channel_names(manifest, channels_in)
    names_out = [_axis_safe(n) for n in manifest.get("raw_channels") or []]
    if len(names_out) != channels_out:
        names_out = [f"channel{index}" for index in range(channels_out)]
    (folder / "README.md").write_text(card.readme(name, preset, manifest, config, metrics, names_in, names_out,
                                                  (p_low, p_high)), encoding="utf-8")
    rdf = _rdf(model, name, preset, manifest, names_in, names_out, gain, offset, metrics, metrics_results,
               _read_opset(folder / WEIGHTS_ONNX))
    _write_yaml(folder / "rdf.yaml", rdf)
    return name, diff


def _raw_input(condition, manifest):
    """The test input as a user hands it to the package, before the preprocessing steps."""
    scale = _input_scale(manifest, condition.shape[-1])
    if scale is None:
        return condition
    gain, offset = scale
    return ((condition - offset) / gain).astype(np.float32)


def _input_scale(manifest, channels):
    """(gain, offset) of the preprocessing scale_linear (a virtual-staining source image), else None."""
    if manifest.get("task") == "virtual_staining":
        stats = manifest.get("stats", {}).get("source", {})
        p_low = np.asarray(stats.get("p_low") or [0.0] * channels, np.float64)
        p_high = np.asarray(stats.get("p_high") or [1.0] * channels, np.float64)
        gain = 2.0 / np.maximum(p_high - p_low, 1e-6)
        return gain.astype(np.float32), (-1.0 - p_low * gain).astype(np.float32)
    # One-hot classes go in as they are; a "raw" label goes in as training saw it, divided by
    # its dtype's largest value and mapped to [-1, 1] (the manifest does not record that dtype).
    return None


def _rdf(model, name, preset, manifest, names_in, names_out, gain, offset, metrics, results, opset):
    import keras

    multiple = max(1, int(getattr(model, "size_multiple", 1) or 1))
    space_in = [{"type": "space", "id": axis, "size": {"min": multiple, "step": multiple}} for axis in ("y", "x")]
    space_out = [{"type": "space", "id": axis, "size": {"tensor_id": "condition", "axis_id": axis}}
                 for axis in ("y", "x")]
    preprocessing = [{"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}]
    scale = _input_scale(manifest, len(names_in))
    if scale is not None:
        preprocessing += [{"id": "scale_linear", "kwargs": {"axis": "channel", "gain": scale[0].tolist(),
                                                            "offset": scale[1].tolist()}},
                          {"id": "clip", "kwargs": {"min": -1.0, "max": 1.0}}]
    backend = keras.backend.backend()
    rdf = {
        "type": "model", "format_version": format_version(), "name": name,
        "description": "Conditional GAN generator: a label mask in, a synthetic microscopy image out "
                       "(CIG, Cell Image Generation).",
        "authors": [{"name": "CIG contributors"}],
        "cite": card.citations(preset),
        "license": "MIT",
        "tags": list(dict.fromkeys(["cig", "gan", "image-synthesis", "conditional-gan", preset, "microscopy", "cells",
                                    "2d", "keras"])),
        "documentation": {"source": "README.md"},
        "covers": [{"source": "cover.png"}],
        "inputs": [{
            "id": "condition", "description": f"label mask, {manifest.get('encoding', 'semantic3')} encoding",
            "axes": [{"type": "batch"}, *space_in, {"type": "channel", "channel_names": names_in}],
            "test_tensor": {"source": "test_input.npy"}, "data": {"type": "float32"},
            "preprocessing": preprocessing,
        }],
        "outputs": [{
            "id": "image", "description": "synthetic image in the units of the training data",
            "axes": [{"type": "batch"}, *space_out, {"type": "channel", "channel_names": names_out}],
            "test_tensor": {"source": "test_output.npy"}, "data": {"type": "float32"},
            "postprocessing": [{"id": "scale_linear", "kwargs": {"axis": "channel", "gain": gain.tolist(),
                                                                 "offset": offset.tolist()}},
                               {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}}],
        }],
        "weights": {
            "keras_v3": {"source": WEIGHTS_KERAS, "keras_version": keras.__version__,
                         "backend": [backend, _backend_version(backend)],
                         "comment": "the run's generator.keras; loads with keras.saving.load_model after "
                                    "`import cig_k3` (pip install cig)"},
            "onnx": {"source": WEIGHTS_ONNX, "opset_version": opset, "parent": "keras_v3",
                     "comment": "converted with `cig export --format onnx` and checked against Keras"},
        },
        "config": {"cig": {"preset": preset, "encoding": manifest.get("encoding"), "task": manifest.get("task"),
                           "size_multiple": multiple}},
    }
    evaluation = card.evaluation_config(metrics, results, manifest)
    if evaluation and evaluation[0] == "bioimageio":
        rdf["config"]["bioimageio"] = {"evaluations": evaluation[1]}
    elif evaluation:
        rdf["config"]["cig"]["evaluation"] = evaluation[1]
    return rdf


def _read_opset(path):
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return int(next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")))


def format_version():
    """The newest model format the installed bioimageio.spec writes (0.5.x)."""
    from bioimageio.spec.model.v0_5 import ModelDescr

    return ModelDescr.implemented_format_version


def _backend_version(backend):
    from importlib import metadata

    return metadata.version({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]).split("+")[0]


def _axis_safe(name):
    """A channel name bioimage.io accepts (letters, digits, _ and -)."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in str(name)).strip("_")
    return cleaned or "channel"


def _write_cover(run_dir, path, condition, output):
    """The run's last sample grid, or (none written) the test input beside its output."""
    from PIL import Image

    grids = sorted((run_dir / "samples").glob("*.png")) if (run_dir / "samples").is_dir() else []
    if grids:
        image = Image.open(grids[-1]).convert("RGB")
    else:
        mask = (condition[0] * 255).astype(np.uint8)[..., :3] if condition.shape[-1] >= 3 else \
            np.repeat(((condition[0, ..., :1] + 1) * 127.5).astype(np.uint8), 3, axis=-1)
        picture = np.repeat(((np.clip(output[0, ..., :1], -1, 1) + 1) * 127.5).astype(np.uint8), 3, axis=-1)
        image = Image.fromarray(np.concatenate([mask, picture], axis=1))
    image.thumbnail((1024, 1024))
    image.save(path)


def _write_yaml(path, data):
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _zip_folder(folder, target):
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            archive.write(item, item.name)


def _replace_folder(folder, out):
    if out.is_dir():
        old = atomic_target(out).with_name(atomic_target(out).name + ".old")
        _remove(old)
        os.replace(out, old)
        os.replace(folder, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(folder, out)

