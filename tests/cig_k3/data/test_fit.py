"""The batches feed keras.Model.fit on the active backend (CI runs this file on all three)."""

import keras
import numpy as np

from cig_k3.data import AugmentConfig, BatchStream


def test_fit_and_evaluate_on_streams(shard_dir):
    train = BatchStream(shard_dir, batch_size=2, crop=16, augment=AugmentConfig(), steps_per_epoch=2)
    val = BatchStream(shard_dir, split="val", batch_size=2, crop=16)
    condition = keras.Input((16, 16, train.condition_channels))
    target = keras.layers.Conv2D(train.target_channels, 3, padding="same", activation="tanh")(condition)
    model = keras.Model(condition, target)
    model.compile(optimizer="adam", loss="mae")
    history = model.fit(train.forever(), steps_per_epoch=2, epochs=2, verbose=0, shuffle=False,
                        validation_data=val.forever(), validation_steps=val.num_batches)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["val_loss"]).all()


def test_fit_on_mixing_batches_with_dict_condition(shard_dir):
    train = BatchStream(shard_dir, batch_size=2, crop=16, mixing="random", steps_per_epoch=2, workers=1)
    label = keras.Input((16, 16, train.condition_channels), name="label")
    raw = keras.Input((16, 16, train.target_channels), name="raw")
    merged = keras.layers.Concatenate()([label, raw])
    output = keras.layers.Conv2D(train.target_channels, 3, padding="same", activation="tanh")(merged)
    model = keras.Model({"label": label, "raw": raw}, output)
    model.compile(optimizer="adam", loss="mae")
    history = model.fit(train.forever(), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()


def test_fit_on_several_crops_per_field_from_the_field_cache(shard_dir):
    train = BatchStream(shard_dir, batch_size=2, crop=16, augment=AugmentConfig(), steps_per_epoch=6,
                        crops_per_field=3, field_cache_mb=1)
    condition = keras.Input((16, 16, train.condition_channels))
    target = keras.layers.Conv2D(train.target_channels, 3, padding="same", activation="tanh")(condition)
    model = keras.Model(condition, target)
    model.compile(optimizer="adam", loss="mae")
    history = model.fit(train.forever(), steps_per_epoch=6, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert len(train.field_cache) == 3  # every shard was read once, then cut from memory
