"""Feature-space losses: Gram-matrix style, feature matching, and the VGG16 feature network
loaded from a weights file (ImageNet weights cannot be downloaded at run time).

References: Gatys et al., CVPR 2016 and Johnson et al., "Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", ECCV 2016, eq. 3-4 (Gram matrix, style loss);
Wang et al., pix2pixHD, CVPR 2018, eq. 4 (feature matching).
"""

import logging
from pathlib import Path

import keras
from keras import ops

log = logging.getLogger(__name__)

# ImageNet BGR means of the Caffe VGG16 that keras.applications.VGG16 expects.
_VGG_BGR_MEAN = (103.939, 116.779, 123.68)


def feature_list(outputs):
    """A model with one output returns a tensor, with several a list: always a list."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def gram_matrix(features):
    """G[c, d] = sum_{h,w} phi[h, w, c] * phi[h, w, d] / (C * H * W), per sample (Johnson eq. 3).

    (N, H, W, C) -> (N, C, C), computed in float32.
    """
    features = ops.cast(features, "float32")
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    size = ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size


def style_distance(features_a, features_b):
    """Squared Frobenius norm of the Gram difference, averaged over the batch and summed over
    the given feature maps (Johnson eq. 4; lists of maps from several layers are summed)."""
    if not isinstance(features_a, (list, tuple)):
        features_a, features_b = [features_a], [features_b]
    total = 0.0
    for a, b in zip(features_a, features_b):
        difference = gram_matrix(a) - gram_matrix(b)
        total = total + ops.mean(ops.sum(ops.square(difference), axis=(1, 2)))
    return total


def feature_matching(real_features, fake_features, scale=1, image_size=None):
    """Mean over scales and layers of mean |D_k^i(real) - D_k^i(fake)|.

    `real_features` / `fake_features`: lists over scales of lists of feature maps (the last
    entry of each scale, the logits, is excluded). Real features carry no gradient.

    With `scale` > 1 (pixels of the image, whose side is `image_size`), each map is first
    averaged over blocks of `scale` image pixels: a map of stride s (image_size / its side)
    over blocks of max(1, scale // s) of its own cells. Matched cell by cell, a
    discriminator's first layers are local texture filters, so the paired term is an L1 on
    filtered images and, like the pixel L1 (`low_pass_l1`), is least for the conditional mean:
    the texture a mask cannot predict painted flat. Averaged over blocks, it matches how
    much of each filter's response a neighbourhood holds, not where its grains lie. Deeper
    maps, already coarser than `scale`, are matched as before.
    """
    if scale > 1 and not image_size:
        raise ValueError("feature_matching with scale > 1 needs image_size, the side of the images")
    terms = []
    for real_scale, fake_scale in zip(real_features, fake_features):
        for real, fake in zip(real_scale[:-1], fake_scale[:-1]):
            real = ops.stop_gradient(ops.cast(real, "float32"))
            fake = ops.cast(fake, "float32")
            block = max(1, int(scale) // max(1, int(image_size) // int(real.shape[1]))) if scale > 1 else 1
            if block > 1 and real.shape[1] >= block and real.shape[2] >= block:
                real = ops.average_pool(real, block, strides=block, padding="valid")
                fake = ops.average_pool(fake, block, strides=block, padding="valid")
            terms.append(ops.mean(ops.abs(real - fake)))
    return ops.mean(ops.stack(terms))


def vgg16_features(weights, channels=3, layers=("block3_conv3",)):
    """A frozen VGG16 truncated at `layers` (post-ReLU; block3_conv3 is relu3_3), with
    ImageNet weights read from the file `weights` (a `.weights.h5` of
    `keras.applications.VGG16(include_top=False)`), never downloaded.

    Returns a model mapping images in [-1, 1] with 1 or 3 channels (other counts: their
    mean, repeated) to the feature maps (a tensor for one layer: see `feature_list`).
    """
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: VGG16 weights file not found; save one with "
            "keras.applications.VGG16(include_top=False, weights='imagenet').save_weights(PATH) "
            "on a machine with internet access, or leave vgg_weights unset to use the fallback"
        )
    vgg = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(None, None, 3))
    vgg.trainable = False
    images = keras.Input(shape=(None, None, channels), name="images")
    rgb = _VGGInput(name="to_vgg_input")(images)
    truncated = keras.Model(vgg.input, [vgg.get_layer(name).output for name in layers], name="vgg16_features")
    truncated.trainable = False
    outputs = truncated(rgb)
    model = keras.Model(images, feature_list(outputs), name="vgg16_style")
    model.trainable = False
    log.info("feature network: VGG16 %s from %s", ",".join(layers), path)
    return model


@keras.saving.register_keras_serializable(package="cig_k3")
class _VGGInput(keras.layers.Layer):
    """[-1, 1] images -> Caffe-style VGG input: 3 channels, BGR, 0-255 minus ImageNet means."""

    def call(self, images):
        channels = images.shape[-1]
        if channels != 3:
            grey = ops.mean(images, axis=-1, keepdims=True)
            images = ops.concatenate([grey, grey, grey], axis=-1)
        pixels = (ops.cast(images, "float32") + 1.0) * 127.5
        bgr = pixels[..., ::-1] if channels == 3 else pixels
        return bgr - ops.convert_to_tensor(_VGG_BGR_MEAN, "float32")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)
