"""benchmarks/checkpoint_spread.py: the weights it keeps per epoch are the ones training saves,
and its averages are their means."""

import keras
import numpy as np
import pytest

from tests.benchmarks import load_script
from tests.helpers import tiny_config


def numpy(variable):
    return keras.ops.convert_to_numpy(variable)


def test_each_epoch_keeps_the_weight_average_training_saves_and_averages_are_means(synthetic_shards, tmp_path):
    from cig_k3.training import train

    script = load_script("checkpoint_spread")
    run = tmp_path / "run"
    train(tiny_config(synthetic_shards, run, epochs=2, optimizer={"generator_ema": 0.5}),
          callbacks=[script.snapshot_callback(run / "snapshots", 1)])
    found = script.snapshots(run)
    assert sorted(found) == [1, 2]
    assert not list((run / "snapshots").glob(".*"))  # no temporaries left
    last = dict(np.load(found[2]))
    saved = keras.saving.load_model(run / "generator.keras", compile=False)
    moved = False
    for weight in saved.trainable_weights:
        # The last epoch's average is generator.keras; its raw weights are kept beside it.
        np.testing.assert_allclose(last[weight.path], numpy(weight), rtol=1e-6, atol=1e-7, err_msg=weight.path)
        moved |= not np.allclose(last[script.RAW + weight.path], last[weight.path])
    assert moved, "the raw weights equal their moving average"

    mean = script.averaged([found[1], found[2]])
    assert not any(key.startswith(script.RAW) for key in mean)
    first = np.load(found[1])
    script.with_weights(saved, mean)
    for weight in saved.trainable_weights:
        np.testing.assert_allclose(numpy(weight), (first[weight.path] + last[weight.path]) / 2, rtol=1e-6, atol=1e-7)
    lacking = {key: value for key, value in mean.items() if key != saved.trainable_weights[0].path}
    with pytest.raises(SystemExit, match=saved.trainable_weights[0].path):
        script.with_weights(saved, lacking)


@pytest.mark.backend_independent
def test_bad_ranges_and_runs_without_snapshots_are_refused(tmp_path):
    script = load_script("checkpoint_spread")
    assert script.parse_range("12-18") == (12, 18)
    for bad in ("18-12", "12", "a-b"):
        with pytest.raises(SystemExit, match=f"--average '{bad}'"):
            script.parse_range(bad)
    with pytest.raises(SystemExit, match=f"{tmp_path}: no snapshots"):
        script.main(["score", "--run", str(tmp_path), "--shards", str(tmp_path)])
    with pytest.raises(SystemExit, match="--config .*missing.json: no such file"):
        script.main(["train", "--config", str(tmp_path / "missing.json"), "--seed", "1", "--out", str(tmp_path / "r")])
