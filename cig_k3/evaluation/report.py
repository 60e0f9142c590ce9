"""A small self-contained evaluation report: PNG figures and one `report.html`.

Takes the results of the other evaluation modules (nested dicts of numbers and arrays) and a
few example images, and writes into a folder:

- `examples.png`: rows of condition | real | generated (| std map) images;
- `<metric>_hist.png`: the distribution over images of each per-image metric table;
- `report.html`: the scalar results as tables and the figures, with relative links only.

Example:
    write_report("runs/eval", {"paired": evaluate_paired(real, fake),
                               "distances": fid_kid(f_real, f_fake, "inception_v3")},
                 examples={"condition": masks[:4], "real": real[:4], "fake": fake[:4]})
"""

import html
import logging
import os

import numpy as np

logger = logging.getLogger(__name__)


def _flatten(results, prefix=""):
    """Scalars of a nested dict as (dotted key, value); arrays go to `tables`."""
    scalars, tables = [], []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            inner_scalars, inner_tables = _flatten(value, f"{name}.")
            scalars += inner_scalars
            tables += inner_tables
        elif isinstance(value, (int, float, str, bool, np.integer, np.floating)):
            scalars.append((name, value))
        elif isinstance(value, np.ndarray) and value.ndim == 1 and value.size:
            tables.append((name, value))
    return scalars, tables


def _format(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def _display(image):
    """An HxWxC image in [-1, 1] (or a one-hot / class map) as something imshow can draw."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[-1] not in (3,):
        image = np.argmax(image, axis=-1).astype(np.float64)  # one-hot condition
        return image / max(image.max(), 1.0), "viridis"
    return np.clip((image + 1.0) / 2.0, 0.0, 1.0), "gray"


def _examples_figure(examples, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    columns = list(examples)
    rows = min(len(examples[name]) for name in columns)
    figure, axes = pyplot.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.2 * rows),
                                   squeeze=False)
    for row in range(rows):
        for column, name in enumerate(columns):
            image, colormap = _display(examples[name][row])
            axes[row, column].imshow(image, cmap=colormap, vmin=0, vmax=1)
            axes[row, column].set_axis_off()
            if row == 0:
                axes[row, column].set_title(name)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _histogram(name, values, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    values = values[np.isfinite(values)]
    figure, axis = pyplot.subplots(figsize=(4, 3))
    axis.hist(values, bins=min(30, max(5, values.size // 3)))
    axis.set_title(f"{name} (n={values.size})")
    axis.set_xlabel(name)
    axis.set_ylabel("images")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _feature_histograms(real_table, fake_table, path, max_features=16):
    """One small panel per cell feature: real against generated distributions."""
    pyplot = _pyplot()
    names = [name for name in real_table if name in fake_table and name not in ("image_index", "label")
             and np.asarray(real_table[name]).ndim == 1][:max_features]
    columns = 4
    rows = max(1, -(-len(names) // columns))
    figure, axes = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.set_axis_off()
    for axis, name in zip(axes.ravel(), names):
        real = np.asarray(real_table[name], dtype=np.float64)
        fake = np.asarray(fake_table[name], dtype=np.float64)
        real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
        if not real.size or not fake.size:
            continue
        axis.set_axis_on()
        low, high = np.percentile(np.concatenate([real, fake]), [1, 99])
        bins = np.linspace(low, high if high > low else low + 1e-6, 30)
        axis.hist(real, bins=bins, alpha=0.5, density=True, label="real")
        axis.hist(fake, bins=bins, alpha=0.5, density=True, label="generated")
        axis.set_title(name, fontsize=8)
        axis.tick_params(labelsize=6)
    axes.ravel()[0].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def _samples_figure(masks, real, samples, path, size=128):
    """Rows of mask | real | K samples | std map (a centre window of `size` pixels)."""
    pyplot = _pyplot()
    count = len(samples)
    k = samples[0].shape[0]
    figure, axes = pyplot.subplots(count, k + 3, figsize=(1.9 * (k + 3), 1.9 * count), squeeze=False)
    for row in range(count):
        height, width = real[row].shape[:2]
        top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
        window = (slice(top, top + size), slice(left, left + size))
        draws = np.asarray(samples[row])[:, window[0], window[1], 0]
        std = ((draws + 1.0) / 2.0).std(axis=0)
        panels = [(np.asarray(masks[row])[window] > 0, "gray", "mask"),
                  (real[row][window][..., 0], "gray", "real")]
        panels += [(draws[i], "gray", f"sample {i + 1}") for i in range(k)]
        panels.append((std, "magma", f"std (max {std.max():.2f})"))
        for column, (image, colormap, title) in enumerate(panels):
            axis = axes[row, column]
            if colormap == "gray" and title != "mask":
                axis.imshow(np.clip((image + 1.0) / 2.0, 0, 1), cmap="gray", vmin=0, vmax=1)
            else:
                axis.imshow(image, cmap=colormap)
            axis.set_axis_off()
            if row == 0:
                axis.set_title(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def realism_figures(out_dir, realism, reference, generated, sampled=None, channel=0, suffix=""):
    """The realism figures: spectra, cell-feature histograms and the K-samples grid.

    Returns [(caption, file name)] for `write_report(figures=...)`.
    """
    from cig_k3.evaluation.spectrum import plot_spectra

    os.makedirs(out_dir, exist_ok=True)
    figures = []
    spectra = {name: curve for name, curve in realism.get("spectra", {}).items() if curve is not None}
    if spectra:
        filename = f"spectra{suffix}.png"
        plot_spectra(spectra, os.path.join(out_dir, filename))
        figures.append(("radially averaged log power spectra (real, generated, floor, baselines)", filename))
    tables = realism.get("cell_tables", {})
    if "real" in tables and "generated" in tables:
        filename = f"cell_features{suffix}.png"
        _feature_histograms(tables["real"], tables["generated"], os.path.join(out_dir, filename))
        figures.append(("cell features per object: real vs generated", filename))
    if sampled is not None and reference.instances is not None:
        filename = f"samples{suffix}.png"
        count = min(len(sampled), 4)
        _samples_figure(reference.instances[:count], [x[..., channel:channel + 1] for x in reference.images[:count]],
                        [np.asarray(s)[..., channel:channel + 1] for s in sampled[:count]],
                        os.path.join(out_dir, filename))
        figures.append(("K samples per mask, with the per-pixel std", filename))
    return figures


def write_report(out_dir, results, examples=None, title="CIG evaluation", figures=(), summary=None):
    """Write PNG figures and `report.html` into `out_dir` (created if needed).

    Args:
        out_dir: the report folder.
        results: a nested dict; scalars become table rows named by their dotted path, 1-D
            arrays (per-image tables) become histograms.
        examples: optional {column name: (N, H, W, C) images in [-1, 1]}, drawn in rows.
        figures: [(caption, file name)] already written into `out_dir` (e.g. `realism_figures`).
        summary: optional preformatted text shown first (the realism table).

    Returns:
        the path of `report.html`.
    """
    os.makedirs(out_dir, exist_ok=True)
    scalars, tables = _flatten(results)
    figures = list(figures)
    if examples:
        _examples_figure(examples, os.path.join(out_dir, "examples.png"))
        figures.append(("examples", "examples.png"))
    for name, values in tables:
        if not np.any(np.isfinite(values)):
            continue
        filename = "".join(char if char.isalnum() else "_" for char in name) + "_hist.png"
        _histogram(name, np.asarray(values, dtype=np.float64), os.path.join(out_dir, filename))
        figures.append((name, filename))
    rows = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(_format(value))}</td></tr>"
        for name, value in scalars
    )
    images = "\n".join(
        f'<figure><img src="{html.escape(filename)}" alt="{html.escape(name)}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, filename in figures
    )
    summary_block = f"<h2>Summary</h2>\n<pre>{html.escape(summary)}</pre>" if summary else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td{{border:1px solid #ccc;padding:2px 8px}} figure{{display:inline-block;margin:8px}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>Images in [-1, 1] are mapped to [0, 1] (data range 1) before every metric.</p>
{summary_block}
<h2>Results</h2>
<table>
{rows}
</table>
<h2>Figures</h2>
{images}
</body></html>
"""
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    logger.info("report written to %s", path)
    return path
