"""Each bad input gets one line naming the file, and leaves no shard or manifest."""

import os
import struct

import cv2
import numpy as np
import pytest
import tifffile

from data_prep import prepare
from data_prep.cli import main

pytestmark = pytest.mark.backend_independent


def write_tiff(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, array)


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".png", array)[1].tobytes())


def huge_tiff_bytes(width=100_000, height=100_000):
    """A valid TIFF header that claims width x height uint16 pixels, with 64 bytes of data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
               (273, 4, None), (277, 3, 1), (278, 4, height), (279, 4, 0xFFFFFFFF)]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if value is None else value
        out += struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, 1, value)
    return out + struct.pack("<I", 0) + bytes(64)


def _image(shape=(32, 40), dtype=np.uint16):
    return np.arange(np.prod(shape), dtype=np.int64).reshape(shape).astype(dtype)


def _mask(shape=(32, 40)):
    mask = np.zeros(shape, np.uint16)
    mask[4:12, 4:12] = 1
    return mask


def _missing_mask(root):
    write_tiff(root / "images" / "b.tif", _image())


def _missing_image(root):
    write_png(root / "masks" / "c.png", _mask())


def _size_mismatch(root):
    write_tiff(root / "images" / "b.tif", _image((40, 48)))
    write_png(root / "masks" / "b.png", _mask((32, 32)))


def _corrupt_tiff(root):
    (root / "images" / "b.tif").write_bytes(b"II*\x00garbage that is no TIFF at all")
    write_png(root / "masks" / "b.png", _mask())


def _truncated_png(root):
    write_tiff(root / "images" / "b.tif", _image())
    data = (root / "masks" / "b.png")
    write_png(data, _mask())
    data.write_bytes(data.read_bytes()[:60])


def _empty_file(root):
    (root / "images" / "b.tif").write_bytes(b"")
    write_png(root / "masks" / "b.png", _mask())


def _text_as_png(root):
    write_tiff(root / "images" / "b.tif", _image())
    (root / "masks" / "b.png").write_text("not an image\n")


def _non_image_file(root):
    (root / "images" / "notes.txt").write_text("hello\n")


def _nan_image(root):
    image = _image(dtype=np.float32)
    image[3, 4] = np.nan
    write_tiff(root / "images" / "b.tif", image)
    write_png(root / "masks" / "b.png", _mask())


def _negative_mask(root):
    write_tiff(root / "images" / "b.tif", _image())
    mask = _mask().astype(np.int16)
    mask[0, 0] = -3
    write_tiff(root / "masks" / "b.tif", mask)


def _fractional_mask(root):
    write_tiff(root / "images" / "b.tif", _image())
    mask = _mask().astype(np.float32)
    mask[0, 0] = 0.5
    write_tiff(root / "masks" / "b.tif", mask)


def _tiny_image(root):
    write_tiff(root / "images" / "b.tif", _image((1, 1)))
    write_png(root / "masks" / "b.png", _mask((1, 1)))


def _duplicate_stems(root):
    write_tiff(root / "images" / "b.tif", _image())
    write_png(root / "images" / "b.png", _image())
    write_png(root / "masks" / "b.png", _mask())


def _mask_3d(root):
    write_tiff(root / "images" / "b.tif", _image())
    write_png(root / "masks" / "b.png", np.dstack([_mask().astype(np.uint8)] * 3))


def _huge_header(root):
    (root / "images" / "b.tif").write_bytes(huge_tiff_bytes())
    write_png(root / "masks" / "b.png", _mask())


def _semantic_mask_with_instances(root):
    for name in ("a", "z"):  # the good fields hold classes 0/1/2
        path = root / "masks" / f"{name}.png"
        write_png(path, np.minimum(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), 2))
    write_tiff(root / "images" / "b.tif", _image())
    mask = _mask()
    mask[20:24, 20:24] = 7
    write_png(root / "masks" / "b.png", mask)


CASES = {
    "image without mask": (_missing_mask, "images/b.tif has no mask", {}),
    "mask without image": (_missing_image, "masks/c.png has no image", {}),
    "size mismatch": (_size_mismatch, "masks/b.png is 32x32 but images/b.tif is 40x48: a pair must have "
                                      "the same height and width.", {}),
    "corrupt tiff": (_corrupt_tiff, "images/b.tif is not a readable TIFF file", {}),
    "truncated png": (_truncated_png, "masks/b.png is not a readable PNG file", {}),
    "empty file": (_empty_file, "images/b.tif is empty (0 bytes).", {}),
    "text as png": (_text_as_png, "masks/b.png is not a readable PNG file", {}),
    "non-image file": (_non_image_file, "images/notes.txt is not an image file", {}),
    "nan": (_nan_image, "images/b.tif has 1 NaN or infinite values", {}),
    "negative mask": (_negative_mask, "masks/b.tif has negative values (min -3)", {}),
    "fractional mask": (_fractional_mask, "masks/b.tif has non-integer values (e.g. 0.5)", {}),
    "too small": (_tiny_image, "images/b.tif is 1x1: too small, the smallest accepted field is 16x16", {}),
    "duplicate stems": (_duplicate_stems, "images/b.png and images/b.tif share the stem 'b'", {}),
    "3-D mask": (_mask_3d, "masks/b.png is 3-D (32x40x3); a mask must be a 2-D label image", {}),
    "huge header": (_huge_header, "images/b.tif claims a size of 100000x100000", {}),
    "semantic classes": (_semantic_mask_with_instances, "masks/b.png holds class 7",
                         {"mask_type": "semantic"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_named_and_nothing_is_written(tmp_path, case, dp):
    build, message, options = CASES[case]
    source, out = tmp_path / "source", tmp_path / "out"
    dp.make_pairs(source, ["a", "z"])  # good fields around the bad one: validation comes first
    build(source)
    with pytest.raises(ValueError) as caught:
        prepare(source, out, progress=False, **options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert dp.output_files(out) == {}


@pytest.mark.parametrize("case", ["image without mask", "nan", "huge header", "3-D mask"])
def test_skip_lists_the_bad_file_and_goes_on(tmp_path, case, dp):
    build, message, options = CASES[case]
    source, out = tmp_path / "source", tmp_path / "out"
    dp.make_pairs(source, ["a", "z"])
    build(source)
    manifest = prepare(source, out, progress=False, on_error="skip", ratios="1,0,0", **options)
    assert manifest["splits"]["train"]["count"] == 2
    assert len(manifest["skipped"]) == 1
    assert message in manifest["skipped"][0]["reason"]


def test_cli_prints_one_line_and_exits_2(tmp_path, dp, capsys):
    source = tmp_path / "source"
    dp.make_pairs(source, ["a"])
    _size_mismatch(source)
    status = main([str(source), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == ["data_prep: error: masks/b.png is 32x32 but images/b.tif is 40x48: a pair must have "
                   "the same height and width."]


def test_empty_source_folder(tmp_path):
    (tmp_path / "source" / "images").mkdir(parents=True)
    (tmp_path / "source" / "masks").mkdir()
    with pytest.raises(ValueError, match="is empty: images/ and masks/ hold no files"):
        prepare(tmp_path / "source", tmp_path / "out", progress=False)


def test_source_without_images_folder(tmp_path):
    (tmp_path / "source").mkdir()
    with pytest.raises(ValueError, match="has no images/ folder"):
        prepare(tmp_path / "source", tmp_path / "out", progress=False)


def test_output_that_is_a_file_or_below_a_file(tmp_path, dp):
    source = tmp_path / "source"
    dp.make_pairs(source, ["a"])
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        prepare(source, blocker, progress=False)
    with pytest.raises(ValueError, match="cannot create the output folder .*blocker/out"):
        prepare(source, blocker / "out", progress=False)


def test_unwritable_output_folder(tmp_path, dp, monkeypatch):
    source, out = tmp_path / "source", tmp_path / "out"
    dp.make_pairs(source, ["a"])
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: pretend the permission check fails
        monkeypatch.setattr("data_prep.sharding.os.access", lambda *args: False)
    try:
        with pytest.raises(ValueError, match=f"the output folder {out} is not writable"):
            prepare(source, out, progress=False)
    finally:
        out.chmod(0o755)
    assert dp.output_files(out) == {}


def test_bad_options(tmp_path):
    with pytest.raises(ValueError, match="--ratios"):
        prepare("synthetic", tmp_path, count=2, ratios="0.5,0.1")
    with pytest.raises(ValueError, match="unknown encoding"):
        prepare("synthetic", tmp_path, count=2, encoding="rgb")
    with pytest.raises(ValueError, match="needs --count"):
        prepare("synthetic", tmp_path)
