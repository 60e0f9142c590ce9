"""Every bad data input, through the prepare entry point: one line naming the file, nothing written.

The library-level cases live in tests/data_prep/test_bad_inputs.py (CASES, reused here);
this module runs them, and the cases that only make sense on a real file system (a link
loop, a file nobody may read, a name that is not UTF-8, an unwritable output folder),
through `python -m data_prep`'s `main`, so that the one-line rule is checked end to end.

Permissions: the suite may run as root, who reads and writes whatever the mode bits say.
The readers therefore check the mode explicitly (a file with no read bit, a folder with no
write bit is refused for everyone), and these tests rely on that rather than on switching
to an unprivileged user.
"""

import os
import tracemalloc

import numpy as np
import pytest

from data_prep import validate
from data_prep.cli import main as prepare_main
from tests.data_prep.conftest import make_pairs, output_files, write_png, write_tiff
from tests.data_prep.test_bad_inputs import CASES, huge_tiff_bytes
from tests.reliability.conftest import one_error_line, run_module

pytestmark = pytest.mark.backend_independent

FLAGS = {"mask_type": "--mask-type"}


def _library_case(name):
    build, message, options = CASES[name]

    def setup(root, out):
        make_pairs(root, ["a", "z"])
        build(root)
        flags = []
        for key, value in options.items():
            flags += [FLAGS[key], value]
        return flags

    return setup, message


def _link_loop(root, out):
    make_pairs(root, ["a", "z"])
    os.symlink("c.tif", root / "images" / "b.tif")
    os.symlink("b.tif", root / "images" / "c.tif")
    write_png(root / "masks" / "b.png", np.ones((32, 40), np.uint16))
    return []


def _unreadable(root, out):
    make_pairs(root, ["a", "b", "z"])
    (root / "images" / "b.tif").chmod(0)
    return []


def _not_utf8_name(root, out):
    make_pairs(root, ["a", "z"])
    image = np.ones((32, 40), np.uint16)
    write_tiff(root / "images" / "tmp.tif", image)
    os.rename(root / "images" / "tmp.tif", os.fsencode(root / "images") + b"/caf\xe9.tif")
    return []


def _empty_source(root, out):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    return []


def _unwritable_output(root, out):
    make_pairs(root, ["a", "z"])
    out.mkdir()
    out.chmod(0o555)
    return []


def _label_above_classes(root, out):
    """16-bit class ids where semantic3 has 3 classes: a label of 7 is invalid."""
    make_pairs(root, ["a", "z"])
    for name in ("a", "z"):
        write_png(root / "masks" / f"{name}.png", np.full((32, 40), 2, np.uint16))
    write_tiff(root / "images" / "b.tif", np.ones((32, 40), np.uint16))
    mask = np.zeros((32, 40), np.uint16)
    mask[5:9, 5:9] = 7
    write_png(root / "masks" / "b.png", mask)
    return ["--mask-type", "semantic", "--encoding", "semantic3"]


EXTRA = {
    "symlink loop": (_link_loop, "images/b.tif is a symbolic link that loops or points to nothing"),
    "no read permission": (_unreadable, "images/b.tif cannot be read: permission denied (mode 0000)"),
    "non-UTF-8 file name": (_not_utf8_name, "images/caf\\xe9.tif: the file name is not valid UTF-8"),
    "empty source folder": (_empty_source, "is empty: images/ and masks/ hold no files"),
    "unwritable output folder": (_unwritable_output, "is not writable"),
    "16-bit label above the classes": (_label_above_classes, "masks/b.png holds class 7"),
}
ALL = {**{f"data issue: {name}": _library_case(name) for name in CASES}, **EXTRA}


@pytest.mark.parametrize("case", sorted(ALL))
def test_bad_data_gives_one_line_and_no_output(case, tmp_path, capsys):
    setup, message = ALL[case]
    root, out = tmp_path / "source", tmp_path / "out"
    flags = setup(root, out)
    try:
        status = prepare_main([str(root), "--out", str(out), "--no-progress", *flags])
    finally:
        if out.exists():
            out.chmod(0o755)
    assert status == 2
    one_error_line(capsys.readouterr().err, "data_prep: error: ", message)
    assert output_files(out) == {}


def test_bad_file_is_skipped_and_listed_with_on_error_skip(tmp_path, capsys):
    root, out = tmp_path / "source", tmp_path / "out"
    _link_loop(root, out)
    assert prepare_main([str(root), "--out", str(out), "--no-progress", "--on-error", "skip",
                         "--ratios", "1,0,0"]) == 0
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["train"]["count"] == 2
    assert [s["path"] for s in manifest["skipped"]] == ["images/b.tif", "images/c.tif"]


def test_huge_header_is_refused_before_allocating(tmp_path):
    """A 100000 x 100000 uint16 TIFF header (20 GB) with 64 bytes of data: refused, naming the
    size, while at most a few MB are allocated."""
    path = tmp_path / "huge.tif"
    path.write_bytes(huge_tiff_bytes())
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"huge.tif claims a size of 100000x100000 \(10,000,000,000 values\)"):
            validate.read_image(path, "huge.tif")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_real_cli_subprocess_one_line(tmp_path):
    """The same rule through `python -m cig_k3 prepare` in a fresh process (logging set up by
    the CLI itself, nothing captured by pytest)."""
    root = tmp_path / "source"
    _link_loop(root, tmp_path / "out")
    result = run_module("cig_k3", "prepare", root, "--out", tmp_path / "out", "--no-progress")
    assert result.returncode == 2
    one_error_line(result.stderr, "cig prepare: error: ", "images/b.tif is a symbolic link")
    assert output_files(tmp_path / "out") == {}
