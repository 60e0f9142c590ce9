"""Fixtures of the napari plugin's tests: the tiny run folder of the export tests, a MixLC run
that takes a style image, and a display with OpenGL for napari's canvas.

Qt runs offscreen (QT_QPA_PLATFORM=offscreen). Its offscreen platform draws OpenGL only
through an X display (and napari queries OpenGL as soon as an image layer is added), so
`gl_display` starts a private Xvfb (Debian's xvfb, which .ci/run installs) when no DISPLAY is
set; the viewer tests skip, saying so, where neither exists.
"""

import json
import os
import shutil
import subprocess
import sys

import keras  # noqa: F401 - the backend's libraries load before Mesa's GL driver (see gl_display)
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


# Xvfb for this process: it must outlive the QApplication (Xlib ends a process whose server
# went away), so a shell watches this process and stops Xvfb once it has exited. Xvfb's own
# -terminate does not do: Qt's first probe connection would already end it.
XVFB_WATCHER = 'Xvfb "$@" & server=$!; while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill $server'


@pytest.fixture(scope="session")
def gl_display():
    """An X display for OpenGL ($DISPLAY, or a private Xvfb started here), or None."""
    # Mesa's llvmpipe and TensorFlow's own LLVM crash each other in one process; softpipe
    # draws without LLVM. Mesa loaded before TensorFlow gives no OpenGL at all (no
    # extensions), hence keras imported at the top of this file.
    os.environ.setdefault("GALLIUM_DRIVER", "softpipe")
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"]
    if shutil.which("Xvfb") is None:
        return None
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it to the pipe when ready.
    subprocess.Popen(["sh", "-c", XVFB_WATCHER.format(pid=os.getpid()), "sh", "-displayfd", str(write_end),
                      "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                     pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        return None
    os.environ["DISPLAY"] = f":{number}"
    return os.environ["DISPLAY"]


@pytest.fixture(scope="session")
def qapp_args(gl_display):
    """pytest-qt's QApplication arguments; depending on `gl_display` makes the display exist
    before the QApplication, which reads DISPLAY once."""
    return [sys.argv[0]]


# Mesa's OpenGL driver and TensorFlow, both loaded in one process, crash it in their C++
# static destructors at exit ("free(): invalid pointer", SIGABRT, whatever the tests did).
# Once a viewer has drawn, the session therefore ends with os._exit and pytest's own status,
# after pytest has written everything; JAX and torch do not need it but are not harmed.
VIEWERS_OPENED = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    VIEWERS_OPENED and VIEWERS_OPENED.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if VIEWERS_OPENED and not isinstance(VIEWERS_OPENED[-1], bool):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(VIEWERS_OPENED[-1])


@pytest.fixture
def viewer(gl_display, qtbot):
    """A hidden napari viewer, closed after the test."""
    napari = pytest.importorskip("napari")  # a safety net: make test installs the napari extra

    if keras.backend.backend() != "tensorflow":
        # make test runs backend-independent tests once, on TensorFlow; with JAX or torch
        # loaded beside Mesa's GL driver the process was seen to crash (not yet understood).
        pytest.skip("the viewer tests run with KERAS_BACKEND=tensorflow (as make test runs them)")
    if gl_display is None:  # napari's image layers query OpenGL as they are added
        pytest.skip("napari's canvas needs OpenGL: set DISPLAY or install Xvfb (apt-get install xvfb)")

    viewer = napari.Viewer(show=False)
    VIEWERS_OPENED[:] = [True]
    yield viewer
    viewer.close()


def labels_field():
    """A 40 x 56 instance label image with three discs."""
    return disc_instances()
