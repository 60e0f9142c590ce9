"""An instance generator as one graph from (label, instance ids) to an image, for the exports
(`.keras`, SavedModel, ONNX), `cig main` and anything else that feeds one array.

`InstanceUNetGenerator` takes a label, an instance map and a table of per-instance features
that Python draws from its k-means clusters (`sample_features`). An exported graph cannot
call Python, so `InstanceFieldGenerator` carries the draw with it: the table of the first
`rows` ids, drawn once when it is built, is a weight, and the graph reads each pixel's row.

Its one input is the label's channels followed by one channel of instance ids (float32, exact
below 2**24; 0 is the background), the layout `cig generate` tiles with. Id i < rows gets
the feature `cig generate --seed S` gives it in its first sample, so the export and the CLI
draw one nucleus alike; an id at or above `rows` takes the row of 1 + (i - 1) % (rows - 1).
"""

import keras
import numpy as np
from keras import ops

from cig_k3.models.unet import UNetGenerator

ROWS = 65536  # ids per field the exported table keeps apart (512 KiB for two features)


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceFeaturePainter(keras.layers.Layer):
    """(N, H, W, C + 1): a label and its instance ids -> (N, H, W, C + F): the label and each
    pixel's row of a fixed (rows, F) feature table, 0 on the background (id 0).

    The table is a non-trainable float32 weight, saved with the model. Ids are rounded to
    the nearest integer; ids at or above `rows` wrap onto rows 1..rows-1.

    Args:
        label_channels: C, the channels before the ids.
        feature_dim: F, features per instance.
        rows: rows of the table (ids kept apart), >= 2.

    Example:
        >>> InstanceFeaturePainter(3, 2, rows=16)(keras.ops.zeros((1, 8, 8, 4))).shape
        (1, 8, 8, 5)
    """

    def __init__(self, label_channels, feature_dim, rows=ROWS, **kwargs):
        super().__init__(**kwargs)
        if int(rows) < 2:
            raise ValueError(f"rows={rows} of the instance feature table must be >= 2")
        self.label_channels = int(label_channels)
        self.feature_dim = int(feature_dim)
        self.rows = int(rows)
        self.table = self.add_weight(shape=(self.rows, self.feature_dim), initializer="zeros", trainable=False,
                                     dtype="float32", name="table")
        self.built = True

    def call(self, condition):
        label = condition[..., : self.label_channels]
        ids = ops.cast(ops.round(ops.cast(condition[..., self.label_channels], "float32")), "int32")
        wrapped = ops.where(ids < self.rows, ids, 1 + ops.mod(ids - 1, self.rows - 1))
        painted = ops.take(self.table, ops.maximum(wrapped, 0), axis=0)
        painted = painted * ops.cast(ids > 0, "float32")[..., None]
        return ops.concatenate([ops.cast(label, "float32"), painted], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.label_channels + self.feature_dim)

    def get_config(self):
        return {**super().get_config(), "label_channels": self.label_channels, "feature_dim": self.feature_dim,
                "rows": self.rows}


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceFieldGenerator(keras.Model):
    """(N, H, W, in_channels + 1), a label then its instance ids -> (N, H, W, out_channels) in
    [-1, 1]: an `InstanceUNetGenerator`'s U-Net with its per-instance features drawn inside the
    graph (`InstanceFeaturePainter`). Build it from a trained one with `from_instance_generator`.

    Args:
        in_channels: channels of the label (the input has one more: the ids).
        out_channels: channels of the image.
        feature_dim: features per instance.
        rows: ids the feature table keeps apart.
        seed, **unet_args: the U-Net's arguments, as in the instance generator.

    Example:
        >>> field = InstanceFieldGenerator.from_instance_generator(generator, seed=0)
        >>> field(np.concatenate([label, ids[..., None]], axis=-1))   # (N, H, W, out_channels)
    """

    instance_channel = True  # the last input channel holds instance ids

    def __init__(self, in_channels=3, out_channels=1, feature_dim=2, rows=ROWS, seed=None, **kwargs):
        model_args = {key: kwargs.pop(key) for key in ("name", "trainable", "dtype") if key in kwargs}
        condition = keras.Input(shape=(None, None, in_channels + 1), name="condition")
        painter = InstanceFeaturePainter(in_channels, feature_dim, rows, name="instance_features")
        unet = UNetGenerator(in_channels + int(feature_dim), out_channels, seed=seed, name="unet", **kwargs)
        super().__init__(inputs=condition, outputs=unet(painter(condition)), **model_args)
        self.painter = painter
        self.unet = unet
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.feature_dim = int(feature_dim)
        self.rows = int(rows)
        self.seed = seed
        self.unet_args = dict(kwargs)

    @property
    def size_multiple(self):
        return self.unet.size_multiple

    @classmethod
    def from_instance_generator(cls, generator, seed=0, rows=ROWS):
        """The graph of a trained `InstanceUNetGenerator` (fitted clusters): its U-Net's weights,
        and the feature each id < rows draws with `cig generate --seed seed` (first sample)."""
        from cig_k3.inference.instances import sample_seed

        field = cls(generator.in_channels, generator.out_channels, generator.feature_dim, rows,
                    seed=generator.seed, name=f"{generator.name}_field", **generator.unet_args)
        field.unet.set_weights(generator.unet.get_weights())
        table = generator.sample_features(np.full((1, 1, 1), rows - 1), seed=sample_seed(seed, 0))[0]
        field.painter.table.assign(table.astype(np.float32))
        return field

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
                "out_channels": self.out_channels, "feature_dim": self.feature_dim, "rows": self.rows,
                "seed": self.seed, **self.unet_args}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
