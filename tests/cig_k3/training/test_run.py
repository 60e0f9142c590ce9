"""train(): run folder, resume after a kill, and the NaN guard."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from cig_k3.config import config_from_preset
from cig_k3.training import TrainingDiverged, train
from cig_k3.training.checkpoint import read_header


def tiny_config(shards, out, **overrides):
    values = {
        "data": {"shards": str(shards), "crop": 32, "batch_size": 2, "augment": True},
        "model": {
            "generator_args": {"base_filters": 8, "depth": 3, "max_filters": 16, "dropout_layers": 1},
            "discriminator_args": {"base_filters": 8, "num_downsamples": 2, "padding": "same"},
        },
        "epochs": 2,
        "steps_per_epoch": 3,
        "out": str(out),
        "num_samples": 2,
        "verbose": 0,
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    return config_from_preset("cig", values)


def generator_weights(run_dir):
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files if key != "header"}


def test_train_leaves_a_complete_run_folder(synthetic_shards, tmp_path):
    result = train(tiny_config(synthetic_shards, tmp_path / "run"))
    run = tmp_path / "run"
    for name in ("config.json", "manifest.json", "checkpoint.npz", "history.json", "generator.keras", "gan.keras"):
        assert (run / name).exists(), name
    assert result.steps_done == 6
    assert read_header(run)["epoch"] == 2
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert set(history[0]) == {"epoch", "val_l1", "val_psnr", "val_ssim"}
    assert {"g_total", "d_loss", "val_l1", "images_per_second"} <= set(history[-1])
    grids = sorted((run / "samples").glob("*.png"))
    assert len(grids) == 2
    generator = keras.saving.load_model(run / "generator.keras", custom_objects=__import__("cig_k3.models").models.CUSTOM_OBJECTS)
    assert generator.out_channels == 1


TRAIN = [sys.executable, "-m", "cig_k3", "train", "--preset", "cig", "--tracking", "none"]


def test_resume_after_kill_matches_uninterrupted(synthetic_shards, tmp_path):
    """Run A trains 2 epochs straight. Run B is killed after its epoch-1 checkpoint, resumed
    with --resume, and must end with identical weights."""
    straight = tiny_config(synthetic_shards, tmp_path / "straight", steps_per_epoch=4)
    train(straight)

    killed = tmp_path / "killed"
    tiny = tiny_config(synthetic_shards, killed, steps_per_epoch=4)
    killed.mkdir()
    # Start from the same config file so that only the kill differs.
    args = ["--data", str(synthetic_shards), "--out", str(killed), "--epochs", "2", "--steps-per-epoch", "4",
            "--batch-size", "2", "--crop", "32"]
    config_path = tmp_path / "config.json"
    config_path.write_text(tiny.to_json())
    env = dict(os.environ)
    process = subprocess.Popen([*TRAIN, *args, "--config", str(config_path)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (killed / "checkpoint.npz").exists():
            break
        if process.poll() is not None:
            pytest.fail(f"training ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_header(killed)["epoch"] >= 1
    assert not (killed / "generator.keras").exists() or read_header(killed)["epoch"] == 2

    subprocess.run([*TRAIN, "--data", str(synthetic_shards), "--resume", str(killed)], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    assert read_header(killed)["epoch"] == 2
    a, b = generator_weights(tmp_path / "straight"), generator_weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(synthetic_shards, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(synthetic_shards, run, epochs=1))
    kept = (run / "checkpoint.npz").read_bytes()
    absurd = tiny_config(synthetic_shards, run, epochs=3,
                         optimizer={"generator_learning_rate": 1e30, "discriminator_learning_rate": 1e30})
    with pytest.raises(TrainingDiverged, match=r"training diverged: loss \w+ became (nan|inf).*checkpoint.npz is kept"):
        train(absurd, resume=run)
    assert (run / "checkpoint.npz").read_bytes() == kept
