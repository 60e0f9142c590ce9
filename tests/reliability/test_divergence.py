"""nan_policy="rollback": a diverged epoch is rolled back to the last good checkpoint with
learning rates x0.1; after three rollbacks training stops with TrainingDiverged."""

import logging

import numpy as np
import pytest

from cig_k3.data import BatchStream
from cig_k3.training import TrainingDiverged, train
from cig_k3.training.checkpoint import CHECKPOINT, read_header
from tests.reliability.conftest import tiny_config


def _rollbacks(caplog):
    return [r.getMessage() for r in caplog.records if "rolling back" in r.getMessage()]


def test_one_bad_epoch_is_rolled_back_and_training_recovers(run_copy, small_shards, monkeypatch, caplog):
    """The first attempt at epoch 2 meets a batch with a NaN target (its losses become NaN);
    the rollback restarts epoch 2 from the epoch-1 checkpoint at a tenth of the learning rate."""
    real_forever = BatchStream.forever
    attempts = []

    def forever(self, start_epoch=0):
        attempts.append(start_epoch)
        for index, (condition, target) in enumerate(real_forever(self, start_epoch)):
            if len(attempts) == 1 and index == 1:
                target = target.copy()
                target[0, 0, 0, 0] = np.nan
            yield condition, target

    monkeypatch.setattr(BatchStream, "forever", forever)
    with caplog.at_level(logging.WARNING):
        result = train(tiny_config(small_shards, run_copy, epochs=2, nan_policy="rollback"), resume=run_copy)
    assert attempts == [1, 1]
    messages = _rollbacks(caplog)
    assert len(messages) == 1 and "learning rates x0.1" in messages[0] and "became nan" in messages[0]
    assert result.epochs_done == 2 and read_header(run_copy)["epoch"] == 2
    with np.load(run_copy / CHECKPOINT, allow_pickle=False) as data:
        assert all(np.isfinite(data[key]).all() for key in data.files if key != "header")


def test_absurd_learning_rate_rolls_back_three_times_then_stops(run_copy, small_shards, caplog):
    kept = (run_copy / CHECKPOINT).read_bytes()
    model = (run_copy / "generator.keras").read_bytes()
    absurd = tiny_config(small_shards, run_copy, epochs=2, nan_policy="rollback",
                         optimizer={"generator_learning_rate": 1e30, "discriminator_learning_rate": 1e30})
    with caplog.at_level(logging.WARNING), pytest.raises(TrainingDiverged) as caught:
        train(absurd, resume=run_copy)
    assert [m.rsplit("x", 1)[1] for m in _rollbacks(caplog)] == ["0.1", "0.01", "0.001"]
    assert "training diverged: loss" in str(caught.value)
    assert f"the last good checkpoint {run_copy / CHECKPOINT} is kept" in str(caught.value)
    assert (run_copy / CHECKPOINT).read_bytes() == kept
    assert (run_copy / "generator.keras").read_bytes() == model  # no model of a diverged run is saved
