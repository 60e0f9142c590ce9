"""`evaluate_run` on virtual-staining shards: no masks, paired metrics per channel, and
domain FID/KID when a judge is named."""

import json

import pytest

from cig_k3.commands.evaluate import evaluate_run
from cig_k3.evaluation.judge import build_segmenter
from cig_k3.models import build_generator
from tests.cig_k3.data.conftest import write_shards


@pytest.mark.parametrize("with_judge", [False, True])
def test_evaluate_virtual_staining(tmp_path, with_judge):
    shards = write_shards(str(tmp_path / "shards"), task="virtual_staining", splits={"train": 2, "test": 4},
                          height=32, width=32, channels=2, source_channels=3)
    run = tmp_path / "run"
    run.mkdir()
    generator = build_generator("unet", in_channels=3, out_channels=2, base_filters=4, depth=2, max_filters=8)
    generator.save(run / "generator.keras")
    judge = None
    if with_judge:
        judge = tmp_path / "judge.keras"
        build_segmenter(base_filters=4, depth=2).save(judge)
    results = evaluate_run(run, shards, split="test", crop=32, samples=2, judge_path=judge)
    assert results["n_images"] == 4
    assert {"psnr_mean/c0", "psnr_mean/c1", "ssim_mean/c1", "pearson_mean/c0"} <= set(results["paired"])
    assert "mask_consistency" not in results
    assert ("fid_judge" in results["headline"]) == with_judge
    if with_judge:
        assert "channel 0" in results["distances_judge"]["features"]
    saved = json.loads((run / "evaluation" / "results.json").read_text())
    assert saved["headline"]["n_images"] == 4
