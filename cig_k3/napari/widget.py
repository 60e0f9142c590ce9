"""The "Generate from labels" dock widget: pick a model and a labels layer, get the image.

A magicgui function widget over `generate.generate_from_labels`. The work runs in a napari
worker thread so that the viewer stays responsive; each generator call advances a progress
bar in napari's activity dock. A refusal comes back from the worker as one line and is shown
with `show_error` (a notification, no traceback); only a bug would raise.

Example:
    >>> viewer.window.add_dock_widget(generate_widget(), name="Generate from labels")
"""

import logging
from pathlib import Path

import napari
from magicgui import magicgui
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Signal

from cig_k3.napari.generate import check_labels, generate_from_labels

logger = logging.getLogger(__name__)


class ProgressRelay(QObject):
    """Carries (done, total) from the worker thread to the GUI thread: a Qt signal emitted in
    the worker is delivered, queued, in the thread the relay lives in."""

    advanced = Signal(int, int)


def placed_like(kwargs, data, labels_layer):
    """`kwargs` plus the labels layer's scale and translate, so the image lies on the labels;
    a leading sample axis (K x H x W) gets scale 1."""
    spatial = data.ndim - (1 if "channel_axis" in kwargs else 0)
    lead = spatial - 2
    scale, translate = list(labels_layer.scale[-2:]), list(labels_layer.translate[-2:])
    return {**kwargs, "scale": [1.0] * lead + scale, "translate": [0.0] * lead + translate}


def add_layer_tuples(viewer, tuples, labels_layer):
    """Add `(data, kwargs, "image")` tuples to `viewer`; returns the new layers."""
    added = []
    for data, kwargs, kind in tuples:
        layers = getattr(viewer, f"add_{kind}")(data, **placed_like(kwargs, data, labels_layer))
        added.extend(layers if isinstance(layers, list) else [layers])
    return added


def generate_widget():
    """The "Generate from labels" widget (a magicgui `FunctionGui`).

    Calling it (or pressing Generate) starts the worker and returns it; its `returned`
    signal carries the new layers, or the refusal's message.
    """
    relay = ProgressRelay()

    @magicgui(
        call_button="Generate",
        # not `labels`: a magicgui Container has an attribute of that name
        labels_layer={"label": "labels"},
        model={"label": "model", "mode": "r", "filter": "*.keras",
               "tooltip": "a run folder (generator.keras + manifest.json) or a generator .keras file"},
        style={"tooltip": "the style image, for generators that draw in an image's style (MixLC)"},
        samples={"label": "samples K", "min": 1, "max": 64,
                 "tooltip": "1: one seeded draw (noise on); K >= 2: K draws plus mean and std"},
        tile={"label": "tile size", "min": 16, "max": 4096, "step": 16},
        seed={"min": 0, "max": 2**31 - 1},
    )
    def generate(viewer: napari.Viewer, labels_layer: napari.layers.Labels, model: Path = Path(""),
                 style: napari.layers.Image | None = None, samples: int = 1, tile: int = 256, seed: int = 0):
        labels = labels_layer
        if labels is None:
            show_error("Generate from labels: add or choose a labels layer first.")
            return None
        try:
            check_labels(labels.data, labels.name)
        except ValueError as error:  # answer at once, before loading any model
            show_error(str(error))
            return None
        request = {"model_path": str(model) if str(model) not in ("", ".") else "", "labels": labels.data,
                   "style": None if style is None else style.data, "samples": samples, "tile": tile, "seed": seed,
                   "overlap": min(32, tile // 4),  # cig generate's default, kept below half a small tile
                   "labels_name": labels.name, "style_name": None if style is None else style.name}
        bar = progress(total=0, desc=f"Generate from {labels.name}")

        def advance(done, total):
            bar.total = total
            bar.update(done - bar.n)

        @thread_worker
        def work():
            try:
                return generate_from_labels(**request, on_progress=relay.advanced.emit)
            except ValueError as error:
                return str(error)

        def finish(result):
            if isinstance(result, str):
                show_error(result)
            else:
                add_layer_tuples(viewer, result, labels)

        def close():
            relay.advanced.disconnect(advance)
            bar.close()
            generate.call_button.enabled = True

        relay.advanced.connect(advance)
        worker = work()
        worker.returned.connect(finish)
        worker.finished.connect(close)
        generate.call_button.enabled = False
        worker.start()
        return worker

    generate.relay = relay  # keeps the QObject alive as long as the widget
    return generate
