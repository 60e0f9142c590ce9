"""train(): run folder, resume after a kill and in process, and the NaN guard."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from cig_k3.config import TrainConfig
from cig_k3.training import TrainingDiverged, train
from cig_k3.training.checkpoint import read_header
from tests.helpers import tiny_config as shared_tiny_config


def tiny_config(shards, out, **overrides):
    """tests.helpers.tiny_config with this module's defaults: two epochs of three augmented
    steps, jit as a real run sets it (test_distribution imports it from here)."""
    data = {"augment": True, **overrides.pop("data", {})}
    return shared_tiny_config(shards, out, **{"epochs": 2, "steps_per_epoch": 3, "jit": "auto", **overrides,
                                              "data": data})


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
REPO = Path(__file__).resolve().parents[3]

# train() from a config file with a callback that, two steps into epoch 2 (after the epoch-1
# checkpoint, before the end), writes a marker and waits to be killed: the kill lands
# mid-training on any machine, however fast.
STALL_IN_EPOCH_TWO = r"""
import json, sys, time
from pathlib import Path

import keras

from cig_k3.config import TrainConfig
from cig_k3.training import train


class StallInEpochTwo(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            Path(sys.argv[2]).write_text("stalled")
            time.sleep(600)


train(TrainConfig.from_dict(json.loads(Path(sys.argv[1]).read_text())), callbacks=[StallInEpochTwo()])
"""


# The kill and the CLI resume are the same code on every backend; each backend's state
# restoring bit for bit is test_one_epoch_then_resume_equals_two_straight_epochs's (JAX's
# compiles made this one the suite's second slowest there).
@pytest.mark.backend_independent
def test_resume_after_kill_matches_uninterrupted(synthetic_shards, tmp_path):
    """Run A trains 2 epochs of 4 steps straight. Run B is killed two steps into epoch 2,
    resumed with `cig train --resume`, and must redo epoch 2 and end with identical weights."""
    straight = tiny_config(synthetic_shards, tmp_path / "straight", steps_per_epoch=4)
    train(straight)

    killed = tmp_path / "killed"
    config_path, marker = tmp_path / "config.json", tmp_path / "stalled"
    config_path.write_text(tiny_config(synthetic_shards, killed, steps_per_epoch=4).to_json())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", STALL_IN_EPOCH_TWO, str(config_path), str(marker)], cwd=REPO,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while not marker.exists():
            if process.poll() is not None:
                pytest.fail(f"training ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
            assert time.time() < deadline, "training did not reach epoch 2 in 300 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    before = read_header(killed)
    assert (before["epoch"], before["step"]) == (1, 4)  # the epoch-1 checkpoint; epoch 2's two steps are lost
    assert not (killed / "generator.keras").exists()

    subprocess.run([*TRAIN, "--data", str(synthetic_shards), "--resume", str(killed)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    after = read_header(killed)
    assert (after["epoch"], after["step"]) == (2, 8)  # the resumed run trained epoch 2's four steps
    history = json.loads((killed / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [0, 1, 2] and "g_total" in history[-1]
    assert (killed / "generator.keras").exists()
    a, b = generator_weights(tmp_path / "straight"), generator_weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_one_epoch_then_resume_equals_two_straight_epochs(synthetic_shards, tmp_path):
    """In process: train one epoch, save; resume for one more; bit for bit two straight epochs.
    Every variable the checkpoint holds is compared: the GAN's and its optimisers', here with
    the generator's weight average on (optimizer.generator_ema), which generator.keras holds
    in place of the last weights."""
    average = {"optimizer": {"generator_ema": 0.5}}
    train(tiny_config(synthetic_shards, tmp_path / "straight", epochs=2, **average))

    resumed = tmp_path / "resumed"
    first = train(tiny_config(synthetic_shards, resumed, epochs=1, **average))
    assert first.steps_done == 3 and read_header(resumed)["epoch"] == 1
    halfway = generator_weights(resumed)
    second = train(tiny_config(synthetic_shards, resumed, epochs=2, **average), resume=resumed)
    assert second.steps_done == 6 and read_header(resumed)["epoch"] == 2
    assert any(not np.array_equal(halfway[key], value) for key, value in generator_weights(resumed).items())

    a, b = generator_weights(tmp_path / "straight"), generator_weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    saved = TrainConfig.from_dict(json.loads((resumed / "config.json").read_text()))
    assert saved.epochs == 2 and saved.optimizer.generator_ema == 0.5
    assert_generator_file_holds_the_average(saved, resumed)


@pytest.mark.backend_independent
def test_a_constant_rate_run_resumes_into_a_decay(synthetic_shards, tmp_path):
    """A run trained at a constant rate, whose optimisers hold their rates as variables, is
    resumed with a decay (`--decay-epochs`, the discriminator's rate kept) whose optimisers
    hold none: every other optimiser variable carries over, from a checkpoint that names
    them and from an older one that does not."""
    from cig_k3.training.checkpoint import load_checkpoint
    from cig_k3.training.run import build_gan, make_optimizers

    run = tmp_path / "run"
    train(tiny_config(synthetic_shards, run, epochs=1))
    with np.load(run / "checkpoint.npz", allow_pickle=False) as data:
        stored = {key: data[key] for key in data.files}
    names = json.loads(str(stored["header"]))["optimizer_names"]
    assert names.count("learning_rate") == 2  # one per optimiser, at a constant rate
    kept = [stored[f"optimizer_{i:05d}"] for i, name in enumerate(names) if name != "learning_rate"]

    decaying = tiny_config(synthetic_shards, run, epochs=2,
                           optimizer={"decay_epochs": 1, "decay_discriminator": False})
    for header_names in (True, False):
        if not header_names:  # as written before the header named the optimiser's variables
            header = json.loads(str(stored["header"]))
            del header["optimizer_names"]
            np.savez(run / "checkpoint.npz", **{**stored, "header": np.array(json.dumps(header))})
        gan = build_gan(decaying, 3, 1)
        gan.compile(*make_optimizers(decaying))
        load_checkpoint(gan, run)
        rates = [v for v in gan.optimizer.variables if v.name == "learning_rate"]
        assert len(rates) == 1  # the discriminator's, kept constant; the generator's is a schedule
        loaded = [keras.ops.convert_to_numpy(v.value) for v in gan.optimizer.variables if v.name != "learning_rate"]
        assert len(loaded) == len(kept) == len(names) - 2
        for value, expected in zip(loaded, kept):
            np.testing.assert_array_equal(value, expected)

    result = train(decaying, resume=run)
    assert result.steps_done == 6 and read_header(run)["epoch"] == 2
    assert read_header(run)["optimizer_names"].count("learning_rate") == 1


def test_resumed_past_its_last_epoch_saves_the_average_again(synthetic_shards, tmp_path):
    """A run killed after its last checkpoint, before generator.keras was written, is resumed
    with nothing left to train: the generator it saves is still the weight average."""
    run = tmp_path / "run"
    config = tiny_config(synthetic_shards, run, epochs=1, optimizer={"generator_ema": 0.5})
    train(config)
    (run / "generator.keras").unlink()
    result = train(config, resume=run)
    assert result.steps_done == 3 and (run / "generator.keras").exists()
    assert_generator_file_holds_the_average(config, run)


def assert_generator_file_holds_the_average(config, run):
    """generator.keras = the generator optimiser's moving average in the checkpoint, which
    differs from the checkpoint's (last) weights."""
    from cig_k3.training.checkpoint import load_checkpoint
    from cig_k3.training.run import build_gan, make_optimizers

    gan = build_gan(config, 3, 1)
    gan.compile(*make_optimizers(config))
    load_checkpoint(gan, run)
    averages = gan.generator_optimizer._model_variables_moving_average
    assert len(averages) == len(gan.generator.trainable_variables)
    saved = keras.saving.load_model(run / "generator.keras", compile=False)
    last = [keras.ops.convert_to_numpy(v.value) for v in gan.generator.trainable_variables]
    mean = [keras.ops.convert_to_numpy(v.value) for v in averages]
    for weight, value in zip(saved.trainable_variables, mean):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(weight.value), value, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b) for a, b in zip(last, mean)), "the average equals the last weights"


def test_nan_guard_stops_and_keeps_last_good_checkpoint(synthetic_shards, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(synthetic_shards, run, epochs=1))
    kept = (run / "checkpoint.npz").read_bytes()
    absurd = tiny_config(synthetic_shards, run, epochs=3,
                         optimizer={"generator_learning_rate": 1e30, "discriminator_learning_rate": 1e30})
    with pytest.raises(TrainingDiverged, match=r"training diverged: loss \w+ became (nan|inf).*checkpoint.npz is kept"):
        train(absurd, resume=run)
    assert (run / "checkpoint.npz").read_bytes() == kept


def test_generator_ema_momentum_is_checked(synthetic_shards, tmp_path):
    with pytest.raises(ValueError, match="generator_ema"):
        tiny_config(synthetic_shards, tmp_path / "run", optimizer={"generator_ema": 1.0}).validate()
