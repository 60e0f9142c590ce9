"""`cig generate --as-shards DIR --dask local:2`: the same TIFFs, tars and manifest as one process."""

import cv2
import pytest

from cig_k3.cli import main
from cig_k3.inference.factory import masks_per_shard

from tests.cig_k3.export.conftest import disc_instances

pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed")


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


# Once, not per backend: the Dask side is backend-free, and generation itself is tested on
# every backend in test_generate.py (two worker processes importing Keras take most of a minute).
@pytest.mark.backend_independent
def test_generate_on_dask_equals_one_process(tmp_path, run_dir):
    masks = tmp_path / "masks"
    masks.mkdir()
    for index in range(5):
        centers = ((8 + index, 10), (24, 30 - index), (30, 8 + 2 * index))
        cv2.imwrite(str(masks / f"m{index}.png"), disc_instances(size=(32, 40), centers=centers, radius=4 + index % 3))
    common = ["generate", "--model", str(run_dir), "--masks", str(masks), "--tile", "16", "--overlap", "4",
              "--seed", "7", "--samples", "2", "--shard-size", "4"]
    assert main([*common, "--out", str(tmp_path / "g1"), "--as-shards", str(tmp_path / "s1")]) == 0
    assert main([*common, "--out", str(tmp_path / "g2"), "--as-shards", str(tmp_path / "s2"), "--dask", "local:2"]) == 0
    local, on_dask = _files(tmp_path / "s1"), _files(tmp_path / "s2")
    assert sorted(local) == ["manifest.json", "train-000000.tar", "train-000001.tar", "train-000002.tar"]
    # The paths inside differ by g1/s1 against g2/s2 only: compare with those swapped.
    swap = lambda data: data.replace(b"/g2/", b"/g1/").replace(b"/s2", b"/s1")  # noqa: E731
    assert {name: swap(data) for name, data in on_dask.items()} == local
    images_local, images_dask = _files(tmp_path / "g1"), _files(tmp_path / "g2")
    assert len(images_local) == 5 * 4  # two samples, mean and std per mask
    assert {name: swap(data) for name, data in images_dask.items()} == images_local
    # Dropout samples differ between masks and samples: the seeds are not all the same.
    assert len({images_local[f"m{i}_sample{k:02d}.tif"] for i in range(5) for k in range(2)}) == 10


def test_shard_size_must_hold_whole_masks(tmp_path, run_dir, capsys):
    assert masks_per_shard(64, 1) == 64 and masks_per_shard(8, 4) == 2
    with pytest.raises(ValueError, match="--shard-size 3 must be a multiple of --samples 2"):
        masks_per_shard(3, 2)
    masks = tmp_path / "masks"
    masks.mkdir()
    cv2.imwrite(str(masks / "m.png"), disc_instances(size=(32, 40), centers=((10, 10),)))
    status = main(["generate", "--model", str(run_dir), "--masks", str(masks), "--out", str(tmp_path / "g"),
                   "--dask", "local:2"])
    assert status == 2 and "--dask needs --as-shards" in capsys.readouterr().err
