"""Masks in, synthetic microscopy images out: encode, tile, sample, write with provenance.

Masks are encoded as training encoded them (the manifest's `encoding`, through
`data_prep.labels` and `cig_k3.data.normalize.encode_label`). Outputs are TIFFs in the
data's original intensity scale and dtype (`from_model_range` with the manifest's
percentiles); every file carries its provenance as JSON in the TIFF ImageDescription
(`synthetic: true`, model, run id, seed, mask, CIG version) so that nobody mistakes it
for a real image.
"""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from cig_k3.data.normalize import encode_label, from_model_range
from cig_k3.export.loading import atomic_target, cig_version
from cig_k3.inference.images import read_array
from cig_k3.inference.tiling import predict_tiled

MASK_SUFFIXES = (".png", ".tif", ".tiff")
MASK_TYPES = ("instance", "semantic")

logger = logging.getLogger(__name__)


@dataclass
class GenerateOptions:
    samples: int = 1  # 1: one seeded draw; K >= 2: K draws + their mean and std
    # One image with every noise source off (the generator's mean image), as pix2pix without
    # test-time dropout. Smooth: a noise-driven texture (preset realistic) is its noise.
    mean: bool = False
    tile: int = 256
    overlap: int = 32
    seed: int = 0
    mask_type: str = "instance"
    batch_size: int = 4  # tiles per generator call
    style: str | None = None  # a style image for generators with a style encoder (cig_k3.inference.style)


@dataclass
class Provenance:
    model: str
    run_id: str | None
    seed: int
    extra: dict = field(default_factory=dict)

    def for_mask(self, mask_path, **more):
        return {"synthetic": True, "generator": "cig", "model": self.model, "run_id": self.run_id,
                "seed": self.seed, "mask": str(mask_path), "cig_version": cig_version(), **self.extra, **more}


def list_masks(folder):
    """Mask files (PNG/TIFF) in `folder`, sorted; ValueError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of masks.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in MASK_SUFFIXES and not p.name.startswith("."))
    if not paths:
        raise ValueError(f"{folder} holds no mask files ({', '.join(MASK_SUFFIXES)}).")
    return paths


def read_mask(path):
    """An H x W non-negative integer mask from a PNG or TIFF; ValueError naming the file."""
    path = Path(path)
    mask = np.squeeze(read_array(path))
    if mask.ndim == 3 and all(np.array_equal(mask[..., 0], mask[..., c]) for c in range(1, mask.shape[-1])):
        mask = mask[..., 0]  # a grey mask saved as RGB
    if mask.ndim != 2:
        raise ValueError(f"{path}: a mask must be a single-channel H x W image, got shape {mask.shape}.")
    if not np.issubdtype(mask.dtype, np.integer):
        if not np.array_equal(mask, np.round(mask)):
            raise ValueError(f"{path}: mask values must be integer labels, got {mask.dtype} with fractions.")
        mask = mask.astype(np.int64)
    if mask.size and mask.min() < 0:
        raise ValueError(f"{path}: mask labels must be non-negative, found {int(mask.min())}.")
    if min(mask.shape) < 1:
        raise ValueError(f"{path}: the mask is empty ({mask.shape}).")
    return mask


def encode_mask(mask, manifest, in_channels, mask_type="instance", path="mask"):
    """(condition, label, instances) from a mask, encoded as in training.

    condition: H x W x in_channels float32; label: the encoded label (uint8/uint16);
    instances: uint16 instance labels, or None for a semantic mask.
    """
    from data_prep import labels

    encoding = manifest.get("encoding", "semantic3")
    num_classes = int(manifest.get("num_classes") or labels.num_classes(encoding))
    if mask_type == "instance" and mask.max(initial=0) > np.iinfo(np.uint16).max:
        raise ValueError(f"{path}: more than 65535 instances do not fit the uint16 instance labels.")
    try:
        label, instances, _ = labels.encode_label(mask, encoding, mask_type, path=str(path))
        condition = encode_label(label, encoding, num_classes)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if condition.shape[-1] != in_channels:
        raise ValueError(f"{path}: encoding {encoding!r} gives {condition.shape[-1]} channels but the "
                         f"generator takes {in_channels}; is this the manifest of the run that trained it?")
    return condition, label, instances


def reseed_dropout(model, seed):
    """Reset the state of every noise layer's seed generator (`stochastic_layers`: dropout,
    noise injection, latent codes, camera noise) so that sampling is reproducible."""
    import keras

    from cig_k3.layers import stochastic_layers

    layers = stochastic_layers(model)
    for index, layer in enumerate(layers):
        state = layer.seed_generator.state
        state.assign(keras.ops.convert_to_tensor([seed * 1009 + index, 0], dtype=state.dtype))
    return len(layers)


def model_function(model):
    import keras

    def run(batch):
        return keras.ops.convert_to_numpy(model(batch, training=False))

    return run


def generate_for_mask(model, condition, options, codes=None, seed=0):
    """[-1, 1] images for one condition: a list of `options.samples` H x W x C arrays.

    `codes` (samples x latent_dim), for a generator with a style encoder: sample k is drawn
    with code k on every tile (`cig_k3.inference.style`). A generator with a latent code
    (`LatentCode`) draws sample k with one code from (seed, k) on every tile."""
    from cig_k3.inference.style import code_function
    from cig_k3.layers import one_draw_per_field, sampling

    multiple = int(getattr(model, "size_multiple", 1) or 1)

    def tiled(k=0):
        run = model_function(model) if codes is None else code_function(model, codes[k])
        with one_draw_per_field(model, (seed, k)) as field:
            return predict_tiled(run, condition, options.tile, options.overlap, multiple,
                                 batch_size=options.batch_size, on_tiles=field.place)

    if options.mean:
        return [tiled()]
    with sampling(model):  # one draw is draw 0 of K: the texture the realism metrics score
        return [tiled(k) for k in range(options.samples)]


def write_tiff(path, image, provenance):
    """Write `image` (H x W x C) with provenance JSON in the ImageDescription, atomically."""
    path = Path(path)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    partial = atomic_target(path)
    extra = {"planarconfig": "contig"} if image.ndim == 3 else {}
    try:
        tifffile.imwrite(partial, image, photometric="minisblack", compression="zlib", metadata=provenance,
                         software=f"cig {cig_version()} (synthetic)", **extra)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)  # after a failed write, nothing half-written stays
    return path


def read_provenance(path):
    """The provenance dict of a generated TIFF (or {} for a file without one)."""
    with tifffile.TiffFile(path) as tif:
        meta = tif.shaped_metadata
        return dict(meta[0]) if meta else {}


def native_images(images, manifest):
    """[-1, 1] images -> the data's scale and dtype; plus float32 mean and std for K >= 2."""
    stats = manifest["stats"]["raw"]
    p_low, p_high = stats["p_low"], stats["p_high"]
    dtype = manifest.get("raw_dtype", "float32")
    natives = [from_model_range(image, p_low, p_high, dtype=dtype) for image in images]
    summary = {}
    if len(images) >= 2:
        stack = np.stack([from_model_range(image, p_low, p_high, dtype="float32") for image in images])
        summary = {"mean": stack.mean(axis=0), "std": stack.std(axis=0)}
    return natives, summary


def generate_folder(model, manifest, mask_paths, out_dir, options, provenance, progress=True):
    """Generate images for every mask; returns [(mask_path, label, instances, [image paths])]."""
    from tqdm import tqdm

    from cig_k3.evaluation.conditioning import takes_instances, takes_style
    from cig_k3.inference.instances import generate_with_instances, with_instance_channel
    from cig_k3.inference.style import check_style_model, encode_style, read_style, style_codes
    from cig_k3.models.style_encoder import has_style_encoder

    styled = has_style_encoder(model)
    if takes_style(model) and not styled:
        raise ValueError(
            f"generator {model.name!r} also takes a style image (MixLC: label + raw), which `cig generate` "
            "does not give; `cig evaluate` draws each test mask in another test image's style"
        )
    check_style_model(model, options.style)
    posterior = None
    if options.style:  # read and encoded once, before anything is written
        posterior = encode_style(model, read_style(options.style, manifest, int(model.input["raw"].shape[-1])))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    instanced = takes_instances(model)  # objects drawn with per-instance features (pix2pixHD)
    id_channel = getattr(model, "instance_channel", False)  # its exported graph: label + ids in one array
    if instanced or id_channel:
        in_channels = model.in_channels
    else:
        in_channels = model.input["label"].shape[-1] if takes_style(model) else model.inputs[0].shape[-1]
    provenance_style = {"style": str(options.style) if options.style else "prior N(0, I)"} if styled else {}
    if instanced:
        provenance_style = {"instance_features": "k-means cluster centres, one per instance by (seed, sample, id)"}
    results = []
    # disable=None: a bar on a terminal only, so that logs and errors stay one line each.
    bar = tqdm(mask_paths, desc="generate", unit="mask", disable=None if progress else True)
    for index, mask_path in enumerate(bar):
        mask = read_mask(mask_path)
        condition, label, instances = encode_mask(mask, manifest, in_channels, options.mask_type, path=mask_path)
        seed = options.seed + index
        if id_channel:
            condition, _ = with_instance_channel(condition, instances)
        reseed_dropout(model, seed)
        codes = style_codes(model.latent_dim, options.samples, seed, posterior) if styled else None
        if instanced:  # a semantic mask has no instances: its objects are found in the label
            drawn = generate_with_instances(model, condition, instances, options.tile, options.overlap,
                                            options.samples, seed, options.batch_size, sample=not options.mean)
        else:
            drawn = generate_for_mask(model, condition, options, codes, seed)
        images, summary = native_images(drawn, manifest)
        stem = mask_path.stem
        written = []
        if options.samples <= 1:
            meta = provenance.for_mask(mask_path, seed=seed, kind="mean_image" if options.mean else "image",
                                       dropout_sampling=not options.mean, **provenance_style)
            written.append(write_tiff(out_dir / f"{stem}.tif", images[0], meta))
        else:
            for k, image in enumerate(images):
                meta = provenance.for_mask(mask_path, seed=seed, kind="sample", sample=k, samples=len(images),
                                           dropout_sampling=True, **provenance_style)
                written.append(write_tiff(out_dir / f"{stem}_sample{k:02d}.tif", image, meta))
            for kind, image in summary.items():
                meta = provenance.for_mask(mask_path, seed=seed, kind=f"uncertainty_{kind}", samples=len(images),
                                           units="data intensity scale, float32", **provenance_style)
                write_tiff(out_dir / f"{stem}_{kind}.tif", image.astype(np.float32), meta)
        results.append((mask_path, label, instances, written))
    return results
