"""The judge: a small U-Net that segments cell images into background / interior / boundary.

It is trained on real images only. Run on generated images, it tells whether the cells
the generator drew sit where the condition mask put them (`segmentation.mask_consistency`),
and its encoder gives domain features for FID/KID (`features.encoder_extractor`).

Built from stock Keras layers as a functional model, so `.keras` files load without
custom objects on any backend.

Example:
    judge = train_judge(BatchStream(...), BatchStream(...), steps=500, epochs=4,
                        out_path="runs/judge.keras")
    classes = segment(judge, images)            # (N, H, W) int
    extractor = encoder_extractor(judge_encoder(judge))

Reference:
    Ronneberger, Fischer, Brox (2015). U-Net: convolutional networks for biomedical image
    segmentation. MICCAI.
"""

import itertools
import logging
import os

import numpy as np

logger = logging.getLogger(__name__)

ENCODER_OUTPUT = "bottleneck_conv2"


def _conv_block(x, filters, name, seed):
    import keras

    for index in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=seed + index),
            name=f"{name}_conv{index}",
        )(x)
    return x


def build_segmenter(in_channels=1, num_classes=3, base_filters=16, depth=3, seed=0):
    """A U-Net segmenter with a softmax over `num_classes` per pixel.

    Args:
        in_channels: image channels.
        num_classes: output classes (3: background, interior, boundary).
        base_filters: filters at full resolution, doubled at each level down.
        depth: number of 2x down-samplings; H and W should be multiples of 2**depth
            (`segment` pads other sizes).
        seed: seeds the kernel initialisers.

    Returns:
        a functional `keras.Model` named "judge_unet", (N, H, W, in_channels) in [-1, 1] ->
        (N, H, W, num_classes) probabilities. The bottleneck layer "bottleneck_conv2" is
        the encoder's output.
    """
    import keras

    if depth < 1 or base_filters < 1 or num_classes < 2:
        raise ValueError(
            f"need depth >= 1, base_filters >= 1 and num_classes >= 2; got depth={depth}, "
            f"base_filters={base_filters}, num_classes={num_classes}"
        )
    inputs = keras.Input((None, None, in_channels), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, f"encoder{level}", seed + 10 * level)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"encoder{level}_pool")(x)
    x = _conv_block(x, base_filters * 2**depth, "bottleneck", seed + 10 * depth)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = keras.layers.Conv2DTranspose(
            filters, 2, strides=2,
            kernel_initializer=keras.initializers.HeNormal(seed=seed + 100 + level),
            name=f"decoder{level}_up",
        )(x)
        x = keras.layers.Concatenate(name=f"decoder{level}_skip")([x, skips[level]])
        x = _conv_block(x, filters, f"decoder{level}", seed + 100 + 10 * (level + 1))
    outputs = keras.layers.Conv2D(
        num_classes, 1, activation="softmax", dtype="float32", name="classes",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1000),
    )(x)
    return keras.Model(inputs, outputs, name="judge_unet")


def _image_and_label(batches):
    """BatchStream yields (condition, target); the judge learns target -> condition."""
    for condition, target in batches:
        yield np.asarray(target, dtype=np.float32), np.asarray(condition, dtype=np.float32)


def _prepend(first, rest):
    """A generator (Keras' fit takes generators, not any iterator) of first, then rest."""
    yield first
    yield from rest


def _hold_validation(val_iter, validation_steps):
    images, labels = [], []
    for image, label in itertools.islice(_image_and_label(val_iter), validation_steps):
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError("the validation stream yielded no batches")
    return np.concatenate(images), np.concatenate(labels), images[0].shape[0]


def train_judge(train_iter, val_iter=None, steps=100, epochs=1, out_path=None,
                validation_steps=10, learning_rate=1e-3, base_filters=16, depth=3, seed=0,
                jit_compile="auto", verbose="auto"):
    """Train a judge on real (condition, target) batches, as `cig_k3.data.BatchStream` yields.

    The input is the target image in [-1, 1]; the label is the one-hot condition. Softmax
    cross-entropy, Adam.

    Args:
        train_iter: iterable of (condition, target) NHWC float32 batches; must last for
            steps * epochs batches.
        val_iter: optional iterable of the same; its first `validation_steps` batches are
            held in memory and scored after each epoch.
        steps: batches per epoch.
        out_path: where to save the trained model (`.keras`), or None.
        jit_compile: passed to `model.compile` ("auto": XLA on TensorFlow and JAX).

    Returns:
        the trained `keras.Model`; `model.history.history` holds the losses per epoch.
    """
    import keras

    if out_path is not None and not os.fspath(out_path).endswith(".keras"):
        raise ValueError(f"out_path must end in .keras; got {out_path}")
    batches = _image_and_label(train_iter)
    try:
        first_image, first_label = next(batches)
    except StopIteration:
        raise ValueError("the training stream yielded no batches") from None
    model = build_segmenter(
        in_channels=first_image.shape[-1],
        num_classes=first_label.shape[-1],
        base_filters=base_filters,
        depth=depth,
        seed=seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    validation_data, validation_batch_size = None, None
    if val_iter is not None:
        val_images, val_labels, validation_batch_size = _hold_validation(
            val_iter, validation_steps
        )
        validation_data = (val_images, val_labels)
    history = model.fit(
        _prepend((first_image, first_label), batches),
        steps_per_epoch=steps,
        epochs=epochs,
        validation_data=validation_data,
        validation_batch_size=validation_batch_size,
        shuffle=False,  # a stream is shuffled at its source
        verbose=verbose,
    )
    logger.info("judge trained: %s", {key: values[-1] for key, values in history.history.items()})
    if out_path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        model.save(out_path)
        logger.info("judge saved to %s", out_path)
    return model


def load_judge(path):
    """Load a judge saved by `train_judge`."""
    import keras

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no judge model at {path}")
    return keras.saving.load_model(path)


def get_judge(shards, judge_path, crop, steps, seed=0):
    """The judge segmenter of `shards`: loaded if `judge_path` exists, else trained on the
    train split and kept there, so that every model meets the same judge.

    Args:
        shards: the shard folder whose train split the judge learns from.
        judge_path: where the judge is kept; None: SHARDS/judge/judge.keras.
        crop: side of the training crops.
        steps: training steps of a new judge.
        seed: seed of the crops and the initial weights.

    Returns (judge model, the path it is kept at). Data without a val split: the judge
    trains without validation, and a warning says so (the README's rule for such data).

    Example:
        >>> judge, path = get_judge("data/bbbc039", None, crop=128, steps=200)
    """
    from pathlib import Path

    from cig_k3.data import BatchStream, has_split

    path = Path(judge_path) if judge_path else Path(shards) / "judge" / "judge.keras"
    if path.exists():
        return load_judge(path), path
    logger.info("training the judge segmenter on %s (train split, %d steps); kept at %s", shards, steps, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    train = BatchStream(shards, split="train", batch_size=8, crop=crop, seed=seed, steps_per_epoch=steps)
    val = None
    if has_split(train.manifest, "val"):
        val = BatchStream(shards, split="val", batch_size=8, crop=crop, seed=seed, augment=None).epoch(0)
    else:  # the rule for data without val fields (README): validate on nothing, and say so
        logger.warning("%s has no val split: the judge segmenter trains without validation", shards)
    judge = train_judge(train.forever(), val, steps=steps, epochs=1, out_path=path, seed=seed, verbose=0)
    return judge, path


def _num_downsamplings(judge):
    import keras

    return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in judge.layers)


def predict_probabilities(judge, images, batch_size=16):
    """Class probabilities (N, H, W, num_classes) of NHWC images in [-1, 1].

    Images whose sides are not multiples of 2**depth are reflect-padded, then cropped back.
    """
    from keras import ops

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"segment expects NHWC images; got shape {images.shape}")
    multiple = 2 ** _num_downsamplings(judge)
    height, width = images.shape[1:3]
    pad_height, pad_width = -height % multiple, -width % multiple
    if pad_height or pad_width:
        images = np.pad(images, ((0, 0), (0, pad_height), (0, pad_width), (0, 0)),
                        mode="reflect" if pad_height < height and pad_width < width else "edge")
    outputs = []
    for start in range(0, images.shape[0], batch_size):
        probabilities = judge.predict_on_batch(images[start:start + batch_size])
        outputs.append(ops.convert_to_numpy(probabilities)[:, :height, :width])
    return np.concatenate(outputs, axis=0)


def segment(judge, images, batch_size=16):
    """Class maps (N, H, W) int32 of NHWC images in [-1, 1] (argmax of the softmax)."""
    return np.argmax(predict_probabilities(judge, images, batch_size), axis=-1).astype(np.int32)


def judge_encoder(judge):
    """The judge's encoder: images -> bottleneck feature map (shares the judge's weights)."""
    import keras

    return keras.Model(judge.input, judge.get_layer(ENCODER_OUTPUT).output, name="judge_encoder")
