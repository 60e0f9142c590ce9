"""Fixtures of the napari plugin's tests: the tiny run folder of the export tests, a MixLC run
that takes a style image, and a display with OpenGL for napari's canvas.

Qt runs offscreen (QT_QPA_PLATFORM=offscreen). Its offscreen platform draws OpenGL only
through an X display, so `gl_display` starts a private Xvfb (Debian's xvfb, which .ci/run
installs) when no DISPLAY is set; the screenshot test skips, saying so, where neither exists.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.cig_k3.export.conftest import MANIFEST, disc_instances, run_dir, tiny_generator  # noqa: F401

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def style_run_dir(tmp_path):
    """A run folder whose generator (MixLC) draws a label in the style of a raw image."""
    from cig_k3.models import MixLCGenerator

    folder = tmp_path / "style_run"
    folder.mkdir()
    generator = MixLCGenerator(3, 1, base_filters=4, depth=2, max_filters=8, seed=1)
    generator({"label": np.zeros((1, 16, 16, 3), np.float32), "raw": np.zeros((1, 16, 16, 1), np.float32)})
    generator.save(folder / "generator.keras")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    return folder


@pytest.fixture(scope="session")
def gl_display():
    """An X display for OpenGL ($DISPLAY, or a private Xvfb started here), or None."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        yield None
        return
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it to the pipe when ready.
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        server.wait()
        yield None
        return
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield os.environ["DISPLAY"]
    finally:
        del os.environ["DISPLAY"]
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def qapp_args(gl_display):
    """pytest-qt's QApplication arguments; depending on `gl_display` makes the display exist
    before the QApplication, which reads DISPLAY once."""
    return [sys.argv[0]]


@pytest.fixture
def viewer(qtbot):
    """A hidden napari viewer, closed after the test."""
    napari = pytest.importorskip("napari")  # a safety net: make test installs the napari extra

    viewer = napari.Viewer(show=False)
    yield viewer
    viewer.close()


def labels_field():
    """A 40 x 56 instance label image with three discs."""
    return disc_instances()
