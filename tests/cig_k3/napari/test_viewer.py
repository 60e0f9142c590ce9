"""The widgets in a real (hidden, offscreen) napari viewer, with pytest-qt: layers appear,
refusals are one notification each, and a screenshot is kept as the test's artifact."""

import numpy as np
import pytest

from tests.cig_k3.napari.conftest import labels_field

pytestmark = pytest.mark.backend_independent  # Qt wiring; the generation itself is tested per backend

TIMEOUT_MS = 60_000


@pytest.fixture
def errors(monkeypatch):
    """The messages the widgets show with show_error, in order."""
    from cig_k3.napari import masks_widget, widget

    shown = []
    monkeypatch.setattr(widget, "show_error", shown.append)
    monkeypatch.setattr(masks_widget, "show_error", shown.append)
    return shown


def _run(qtbot, function_gui):
    """Press the widget's button and wait until its worker has finished."""
    worker = function_gui()
    # The button comes back when the worker has finished and its results are in the viewer.
    qtbot.waitUntil(lambda: function_gui.call_button.enabled, timeout=TIMEOUT_MS)
    return worker


def _generate_widget(viewer, run_dir, labels, samples):
    from cig_k3.napari.widget import generate_widget

    gui = generate_widget()
    viewer.window.add_dock_widget(gui, name="Generate from labels")
    gui.model.value = run_dir
    gui.labels_layer.value = labels
    gui.samples.value = samples
    gui.tile.value = 32
    return gui


def test_generate_adds_the_image_mean_and_std_beside_the_labels(viewer, qtbot, run_dir, errors):
    labels = viewer.add_labels(labels_field(), name="drawn", scale=(0.5, 0.5), translate=(3, 4))
    gui = _generate_widget(viewer, run_dir, labels, samples=2)
    _run(qtbot, gui)
    assert errors == []
    assert [layer.name for layer in viewer.layers] == ["drawn", "run", "run mean", "run std"]
    image = viewer.layers["run"]
    assert image.data.shape == (2, 40, 56) and image.data.dtype == np.uint16
    assert image.metadata["synthetic"] is True and image.metadata["mask"] == "drawn"
    assert list(image.scale) == [1.0, 0.5, 0.5] and list(image.translate) == [0.0, 3.0, 4.0]  # lies on the labels
    assert viewer.layers["run std"].data.dtype == np.float32


def test_each_refusal_is_one_notification(viewer, qtbot, run_dir, errors, tmp_path):
    stack = viewer.add_labels(np.zeros((3, 40, 56), np.uint8), name="stack")
    gui = _generate_widget(viewer, run_dir, stack, samples=1)
    _run(qtbot, gui)  # refused before any worker starts
    flat = viewer.add_labels(labels_field(), name="drawn")
    gui.labels_layer.value = flat
    (run_dir / "broken.keras").write_bytes(b"not a model")
    gui.model.value = run_dir / "broken.keras"
    _run(qtbot, gui)
    assert errors[0] == ("labels layer 'stack' is 3-D (3, 40, 56); CIG draws from 2-D label images: pick a 2-D "
                         "layer or split the stack first.")
    assert errors[1].endswith("broken.keras is not a Keras model file (not a .keras zip archive: truncated or "
                              "corrupt?).") and len(errors) == 2
    assert [layer.name for layer in viewer.layers] == ["stack", "drawn"]  # nothing added


def test_sample_data_and_sample_masks(viewer, qtbot, tmp_path, errors):
    from cig_k3.napari.masks_widget import sample_masks_widget
    from tests.cig_k3.napari.test_masks_and_sample_data import _shard_folder

    viewer.open_sample("cig", "synthetic_nuclei")  # through the installed manifest
    assert [layer.name for layer in viewer.layers] == ["synthetic nuclei", "synthetic nuclei labels"]
    gui = sample_masks_widget()
    viewer.window.add_dock_widget(gui)
    gui.shard_folder.value = _shard_folder(tmp_path / "like")
    gui.number.value = 2
    _run(qtbot, gui)
    assert errors == [] and viewer.layers[-1].name == "masks like like"
    assert viewer.layers[-1].data.shape == (2, 48, 48)
    gui.shard_folder.value = tmp_path
    _run(qtbot, gui)
    assert len(errors) == 1 and "is not a shard folder" in errors[0]


def test_screenshot(viewer, qtbot, run_dir, tmp_path):
    labels = viewer.add_labels(labels_field(), name="drawn")
    gui = _generate_widget(viewer, run_dir, labels, samples=1)
    _run(qtbot, gui)
    viewer.grid.enabled = True
    viewer.window._qt_window.resize(1000, 520)
    qtbot.wait(50)  # the resize reaches the canvas
    viewer.reset_view()
    path = tmp_path / "napari_generate.png"
    # The whole window: a hidden canvas alone draws nothing offscreen.
    shot = viewer.screenshot(path=str(path), canvas_only=False, flash=False)
    assert path.is_file() and shot.ndim == 3 and shot.shape[-1] == 4
    assert len(np.unique(shot[..., :3].reshape(-1, 3), axis=0)) > 20  # labels and a generated image, not blank
