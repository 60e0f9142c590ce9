"""The "Sample masks like these" dock widget: a shard folder in, a new labels layer out.

Measuring the shards reads every train sample, so it runs in a napari worker thread (an
indeterminate progress bar meanwhile); a refusal is one `show_error` line.

Example:
    >>> viewer.window.add_dock_widget(sample_masks_widget(), name="Sample masks like these")
"""

from pathlib import Path

import napari
from magicgui import magicgui
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error

from cig_k3.napari.masks import sample_masks


def sample_masks_widget():
    """The "Sample masks like these" widget (a magicgui `FunctionGui`); calling it starts
    the worker and returns it."""

    @magicgui(
        call_button="Sample masks",
        shard_folder={"label": "like (shard folder)", "mode": "d",
                      "tooltip": "a shard folder with manifest.json, from cig prepare"},
        # not `count`: a magicgui Container has a method of that name
        number={"label": "count", "min": 1, "max": 1000},
        height={"min": 0, "max": 8192, "tooltip": "0: the size of the measured fields"},
        width={"min": 0, "max": 8192, "tooltip": "0: the size of the measured fields"},
        seed={"min": 0, "max": 2**31 - 1},
    )
    def sample(viewer: napari.Viewer, shard_folder: Path = Path(""), number: int = 1, height: int = 0,
               width: int = 0, seed: int = 0):
        request = {"shard_folder": str(shard_folder) if str(shard_folder) not in ("", ".") else "",
                   "count": number, "height": height, "width": width, "seed": seed}

        @thread_worker(progress={"desc": "Sample masks"})
        def work():
            try:
                return sample_masks(**request)
            except ValueError as error:
                return str(error)

        def finish(result):
            if isinstance(result, str):
                show_error(result)
            else:
                data, kwargs, _ = result
                viewer.add_labels(data, **kwargs)

        def close():
            sample.call_button.enabled = True

        worker = work()
        worker.returned.connect(finish)
        worker.finished.connect(close)
        sample.call_button.enabled = False
        worker.start()
        return worker

    return sample
