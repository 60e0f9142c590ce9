"""Feature extractors for FID and KID.

- `inception_extractor(weights_path)`: Inception v3 (ImageNet), the standard FID features,
  2048-d after global average pooling. The weights come from a file the user gives (for
  example Keras' `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or a
  `.weights.h5` saved by Keras 3): nothing is ever downloaded.
- `encoder_extractor(encoder)`: domain features from any Keras model that maps images to a
  feature map (e.g. `judge.judge_encoder(judge)`), global-average pooled.

Both take NHWC images in the model's range [-1, 1] and return float64 (N, D) arrays.

Example:
    extractor = inception_extractor("weights/inception_v3_notop.h5")
    fid_kid(extractor(real), extractor(fake), extractor.name)

Reference:
    Szegedy et al. (2016). Rethinking the Inception architecture for computer vision. CVPR.
"""

import dataclasses
import os

import numpy as np

INCEPTION_SIZE = 299


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """A Keras model that maps preprocessed NHWC images to (N, D) features.

    Args:
        name: recorded with every FID/KID result ("inception_v3", "judge_encoder").
        model: the Keras model; its output is (N, D) or a feature map (N, h, w, D), which
            is global-average pooled.
        image_size: (height, width) the images are resized to (bilinear), or None.
        channels: input channels the model wants; 1-channel images are replicated to it.
    """

    name: str
    model: object
    image_size: tuple = None
    channels: int = None

    def prepare(self, images):
        """Resize and replicate channels; values stay in [-1, 1]."""
        from keras import ops

        images = ops.convert_to_tensor(np.asarray(images, dtype=np.float32))
        num_channels = images.shape[-1]
        if self.channels is not None and num_channels != self.channels:
            if num_channels != 1:
                raise ValueError(
                    f"{self.name} takes {self.channels}-channel or grey images; got "
                    f"{num_channels} channels. Pass one channel at a time, e.g. "
                    f"images[..., i:i + 1], and report one distance per channel."
                )
            images = ops.repeat(images, self.channels, axis=-1)
        if self.image_size is not None and tuple(images.shape[1:3]) != tuple(self.image_size):
            images = ops.image.resize(images, self.image_size, interpolation="bilinear",
                                      data_format="channels_last")
        return images

    def __call__(self, images, batch_size=32):
        """Features of NHWC images in [-1, 1] as a float64 (N, D) array."""
        from keras import ops

        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ValueError(f"{self.name} expects NHWC images; got shape {images.shape}")
        if images.shape[0] == 0:
            raise ValueError(f"{self.name} got no images")
        batch_size = min(batch_size, images.shape[0])
        outputs = []
        for start in range(0, images.shape[0], batch_size):
            batch = images[start:start + batch_size]
            count = batch.shape[0]
            if count < batch_size:
                # Pad the last batch so that the compiled predict function is reused.
                padding = np.zeros((batch_size - count,) + batch.shape[1:], batch.dtype)
                batch = np.concatenate([batch, padding])
            features = ops.convert_to_numpy(
                self.model.predict_on_batch(self.prepare(batch))
            )[:count]
            if features.ndim == 4:
                features = features.mean(axis=(1, 2))
            outputs.append(features.astype(np.float64))
        return np.concatenate(outputs, axis=0)


def build_inception(weights_path=None):
    """Inception v3 without its top, average pooled, at 299 x 299 x 3.

    Args:
        weights_path: an existing weights file, or None for random weights (tests only).
    """
    import keras

    if weights_path is not None:
        weights_path = os.fspath(weights_path)
        if not os.path.isfile(weights_path):
            raise FileNotFoundError(
                f"Inception v3 weights not found at {weights_path}: give the path of a local "
                f"weights file (ImageNet, include_top=False); they are never downloaded"
            )
    return keras.applications.InceptionV3(
        include_top=False,
        weights=weights_path,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
        pooling="avg",
    )


def inception_extractor(weights_path):
    """The standard FID feature extractor, loaded from a local weights file.

    Images in [-1, 1] are what `keras.applications.inception_v3.preprocess_input` produces
    (x / 127.5 - 1), so they are passed on unscaled; they are resized to 299 x 299
    (bilinear) and grey images replicated to 3 channels.
    """
    if weights_path is None:
        raise ValueError("inception_extractor needs the path of a local weights file")
    return FeatureExtractor(
        name="inception_v3",
        model=build_inception(weights_path),
        image_size=(INCEPTION_SIZE, INCEPTION_SIZE),
        channels=3,
    )


def encoder_extractor(encoder, name="judge_encoder"):
    """Domain features: `encoder`'s output feature map, global-average pooled.

    The encoder takes the images as they are (same size, channels and [-1, 1] range the
    judge was trained on).
    """
    return FeatureExtractor(name=name, model=encoder)
