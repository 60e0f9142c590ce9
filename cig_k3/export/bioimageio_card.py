"""What a BioImage Model Zoo package says about its model: citations, evaluation results and
the README (`documentation`) of `cig export --format bioimageio`.

Everything here is read from the run folder (config.json, manifest.json,
evaluation/results.json); a run without an evaluation gets a card that says so.
"""

import json
import math
from importlib import metadata
from pathlib import Path

# The paper behind each preset's generator, cited by DOI (no URL is fetched to validate it).
PAPERS = {
    "pix2pix": {"text": "Isola, Zhu, Zhou & Efros. Image-to-Image Translation with Conditional Adversarial "
                        "Networks. CVPR 2017.", "doi": "10.1109/CVPR.2017.632"},
    "pix2pixhd": {"text": "Wang, Liu, Zhu, Tao, Kautz & Catanzaro. High-Resolution Image Synthesis and Semantic "
                          "Manipulation with Conditional GANs. CVPR 2018.", "doi": "10.1109/CVPR.2018.00917"},
    "spade": {"text": "Park, Liu, Wang & Zhu. Semantic Image Synthesis with Spatially-Adaptive Normalization. "
                      "CVPR 2019.", "doi": "10.1109/CVPR.2019.00244"},
}
# Presets whose generator is a pix2pix U-Net (or builds on it) cite pix2pix.
PRESET_PAPER = {"pix2pixhd": "pix2pixhd", "spade": "spade"}

# Headline keys of `cig evaluate` (evaluation/results.json) -> (short name, description).
METRICS = {
    "fid_inception": ("FID", "Frechet Inception distance, generated vs real test tiles (lower is better)"),
    "c2st_logistic": ("C2ST logistic", "accuracy of a logistic two-sample classifier, real vs generated (0.5: "
                                       "indistinguishable)"),
    "c2st_cnn": ("C2ST CNN", "accuracy of a small CNN two-sample classifier, real vs generated (0.5: "
                             "indistinguishable)"),
    "synthetic_dice_foreground_ratio": ("TSTR Dice ratio", "foreground Dice of a segmenter trained on synthetic "
                                                          "pairs / trained on real pairs (1: as useful as real)"),
    "synthetic_ap_50_ratio": ("TSTR AP50 ratio", "AP@0.5 of a segmenter trained on synthetic pairs / trained on "
                                                "real pairs (1: as useful as real)"),
    "psnr": ("PSNR", "peak signal-to-noise ratio against the real image of each test mask (dB)"),
    "ssim": ("SSIM", "structural similarity against the real image of each test mask"),
}


def read_json(path):
    """The JSON object in `path`, or {} when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def _find(node, key):
    """The first value stored under `key` anywhere in nested dicts, else None."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = _find(value, key)
            if found is not None:
                return found
    return None


def evaluation_metrics(results):
    """{headline key: float} of the metrics in METRICS that `results` (results.json) holds."""
    headline = results.get("headline", {}) if isinstance(results, dict) else {}
    found = {}
    for key in METRICS:
        value = headline.get(key, _find(results, key))
        if isinstance(value, (int, float)) and math.isfinite(value):
            found[key] = float(value)
    return found


def citations(preset):
    """The bioimage.io `cite` list: the preset's paper, and CIG when it has a public URL."""
    paper = PAPERS[PRESET_PAPER.get(preset, "pix2pix")]
    cite = [dict(paper)]
    url = cig_url()
    if url:
        cite.append({"text": "CIG: Cell Image Generation with conditional GANs (Keras 3).", "url": url})
    return cite


def cig_url():
    """CIG's home page from the installed package's metadata, or None."""
    try:
        urls = metadata.metadata("cig").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        _, _, url = entry.partition(", ")
        if url.startswith("https://"):
            return url
    return None


def evaluation_config(metrics, results, manifest):
    """The evaluation for the rdf's `config`: bioimage.io's `evaluations` entry when the data
    has a public http(s) source (the spec requires one), else CIG's own `evaluation` dict.

    Returns ("bioimageio", [entry]) or ("cig", {...}); None without metrics.
    """
    if not metrics:
        return None
    split = results.get("split", "test")
    count = int(results.get("n_images") or 0)
    source = str(manifest.get("source") or "")
    if source.startswith(("https://", "http://")):
        entry = {
            "dataset_id": "cig-" + (Path(source.rstrip("/")).name.lower() or "data"),
            "dataset_source": source,
            "dataset_role": {"test": "test", "val": "validation", "train": "train"}.get(split, "unknown"),
            "sample_count": count,
            "evaluation_factors": ["overall"],
            "evaluation_factors_long": [f"every field of the {split} split"],
            "metrics": [METRICS[key][0] for key in metrics],
            "metrics_long": [METRICS[key][1] for key in metrics],
            "results": [[value] for value in metrics.values()],
        }
        return "bioimageio", [entry]
    return "cig", {"split": split, "n_images": count, "metrics": metrics,
                   "descriptions": {key: METRICS[key][1] for key in metrics}}


def readme(name, preset, manifest, config, metrics, channels_in, channels_out, scale):
    """The package's README.md: training data, preset, metrics and intended use."""
    splits = manifest.get("splits", {})
    counts = ", ".join(f"{split} {info.get('count', '?')}" for split, info in splits.items()) or "unknown"
    lines = [
        f"# {name}", "",
        "A conditional GAN generator trained with CIG (Cell Image Generation, Keras 3): it draws a "
        "synthetic microscopy image from a label mask.", "",
        "## Intended use", "",
        "Synthetic training and test data for segmentation and analysis methods, data augmentation, and "
        "studies of what a generator learned. The images are plausible, not measured: never use them as "
        "observations of real cells, and check any downstream result on real images.", "",
        "## Inputs and outputs", "",
        f"- input `condition`: the label mask encoded as `{manifest.get('encoding', 'semantic3')}`, channels "
        f"{', '.join(channels_in)}, float32 (one-hot values 0/1 for class encodings).",
        f"- output `image`: channels {', '.join(channels_out)}, float32 in the units of the training data "
        f"(the network's [-1, 1] mapped back with the training percentiles p_low {scale[0]}, p_high {scale[1]}).",
        "- the model is deterministic here: its noise sources (dropout, noise injection, latent code) are off "
        "at inference, so the test tensors reproduce exactly.", "",
        "## Training", "",
        f"- preset: `{preset}` (gan `{config.get('model', {}).get('gan', '?')}`, generator "
        f"`{config.get('model', {}).get('generator', '?')}`), {config.get('epochs', '?')} epochs of "
        f"{config.get('steps_per_epoch', '?')} steps, crop {config.get('data', {}).get('crop', '?')}.",
        f"- data: `{manifest.get('source', 'unknown')}` (task `{manifest.get('task', '?')}`, raw dtype "
        f"`{manifest.get('raw_dtype', '?')}`), fields per split: {counts}.", "",
        "## Validation", "",
        "`cig evaluate` on held-out fields of the data (evaluation/results.json of the run):", "",
    ]
    if metrics:
        lines += ["| metric | value | meaning |", "| --- | --- | --- |"]
        lines += [f"| {METRICS[key][0]} | {value:.4g} | {METRICS[key][1]} |" for key, value in metrics.items()]
    else:
        lines.append("This run was not evaluated (`cig evaluate` writes evaluation/results.json).")
    lines += ["", "## Use", "", "```python",
              "from bioimageio.core import load_model_description, predict",
              "sample = predict(model=load_model_description(\"package.zip\"), inputs=condition)  # (1, H, W, C)",
              "image = sample.members[\"image\"].data  # in the data's units",
              "```", ""]
    return "\n".join(lines)
