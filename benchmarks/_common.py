"""Helpers shared by the benchmark scripts: machine name, RSS, RESULTS.md, subprocess JSON."""

import datetime
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
REPO = Path(__file__).resolve().parents[1]


def machine():
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gpu_peak_mb():
    """Peak GPU memory of this process in MB through the backend that is loaded, or None."""
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    if "jax" in sys.modules:
        import jax

        stats = [d.memory_stats() or {} for d in jax.devices() if d.platform == "gpu"]
        if stats:
            return max(s.get("peak_bytes_in_use", 0) for s in stats) / 2**20
    return None


def on_gpu():
    """Whether the current Keras backend computes on a GPU."""
    import keras

    return any("gpu" in str(d).lower() or "cuda" in str(d).lower() for d in _devices(keras.backend.backend()))


def _devices(backend):
    if backend == "jax":
        import jax

        return [d.platform for d in jax.devices()]
    if backend == "torch":
        import torch

        return ["cuda"] if torch.cuda.is_available() else ["cpu"]
    import tensorflow as tf

    return [d.device_type for d in tf.config.list_physical_devices()]


def run_worker(script, args, env=None, timeout=1800):
    """Run `script --worker args` in a fresh process; it prints one JSON line last."""
    process = subprocess.run(
        [sys.executable, str(script), "--worker", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout, cwd=REPO,
    )
    if process.returncode != 0:
        tail = (process.stderr or process.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(process.stdout.strip().splitlines()[-1])


def table(rows, columns):
    """A Markdown table of dict rows."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def append_results(title, body, command):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"\n## {title}\n{stamp} on {machine()}\n\n`{command}`\n\n{body}\n"
    with open(RESULTS, "a", encoding="utf-8") as handle:
        handle.write(text)
    return text


def publish(title, body, record=True):
    """Print a result table and, unless `record` is false, append it to RESULTS.md with the
    command line that produced it."""
    print(body)
    if record:
        append_results(title, body, "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]]))


def save_figure(figure, path, dpi=80):
    """Lay out `figure`, write it to `path` as a PNG (its folder made), close it, say where."""
    from matplotlib import pyplot

    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    pyplot.close(figure)
    print(f"wrote {path}")
    return path


def crop_grid(rows, titles, path, window=128, highs=None):
    """A PNG of image crops: one row per field, one column per image, each the centre
    `window` of a (H, W, C) image in [-1, 1], shown in grey from -1 to its column's `highs`
    value (1: the full range; lower stretches the dark end)."""
    import numpy as np
    from matplotlib import pyplot

    highs = highs or [1.0] * len(titles)
    axes = pyplot.subplots(len(rows), len(titles), figsize=(1.9 * len(titles), 1.9 * len(rows)), squeeze=False)[1]
    for row, images in enumerate(rows):
        for column, (image, high) in enumerate(zip(images, highs)):
            height, width = image.shape[:2]
            top, left = max(0, (height - window) // 2), max(0, (width - window) // 2)
            crop = np.asarray(image)[top:top + window, left:left + window, 0]
            axes[row, column].imshow(np.clip((crop + 1) / (high + 1), 0, 1), cmap="gray", vmin=0, vmax=1)
            axes[row, column].set_axis_off()
            if row == 0:
                axes[row, column].set_title(titles[column], fontsize=8)
    save_figure(pyplot.gcf(), path, dpi=90)


def inception_scorer(real_images, cache, tile=128):
    """A function scoring a set of fields against `real_images` as `cig evaluate` scores a
    generator's draws: both cut into `tile`-px tiles, Inception features (cached under
    `cache`), FID and the logistic C2ST cross-validated by field, a field's real and scored
    tiles kept in one half. score(images) -> (FID, C2ST accuracy, (CI low, CI high));
    score.tiles is the number of real tiles. The pieces of `realism_suite`, not the suite,
    which would also measure cell features, spectra and the CNN C2ST for every set."""
    import numpy as np

    from cig_k3.evaluation import c2st
    from cig_k3.evaluation.inception import InceptionFeatures, fid_kid_from_features, tile_images
    from cig_k3.evaluation.realism import CachedFeatures

    features = CachedFeatures(InceptionFeatures(), Path(cache))
    tiles, groups = tile_images([np.asarray(image, np.float32)[..., :1] for image in real_images], tile)
    real = features(tiles)

    def score(images):
        fake = features(tile_images([np.asarray(image, np.float32)[..., :1] for image in images], tile)[0])
        result = c2st.c2st_logistic(real, fake, groups, groups, seed=0)
        return fid_kid_from_features(real, fake, tile_size=tile)["fid"], result["accuracy"], tuple(result["ci95"])

    score.tiles = len(tiles)
    return score


def print_scores(score, named_sets, first_column="set"):
    """A Markdown table of `score` (an `inception_scorer`) over (name, fields) pairs, printed
    row by row as each set is scored (an iterable, so sets can be made one at a time)."""
    print(f"| {first_column} | FID | C2ST logistic | 95 % CI |\n|---|---|---|---|")
    for name, images in named_sets:
        fid, accuracy, (low, high) = score(images)
        print(f"| {name} | {fid:.1f} | {accuracy:.3f} | {low:.3f}-{high:.3f} |", flush=True)
