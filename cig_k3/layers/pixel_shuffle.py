"""Depth to space and space to depth: moving 2x2 (b x b) pixel blocks to channels and back.

Both are written with reshape and transpose, because `keras.ops.depth_to_space` is missing
in older Keras and there is no `keras.ops.space_to_depth`. They use TensorFlow's channel
order, so that each is the other's inverse and the sub-pixel and phase convolutions can
address a block's pixels by channel.
"""

from keras import ops


def depth_to_space(inputs, block_size):
    """(N, H, W, C * b * b) -> (N, H * b, W * b, C), channels-last, TensorFlow's order.

    Output pixel (h * b + i, w * b + j, c) is input (h, w, (i * b + j) * C + c).

    Example:
        >>> depth_to_space(keras.ops.zeros((1, 4, 4, 8)), 2).shape
        (1, 8, 8, 2)

    Reference: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
    Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016 (the periodic shuffle).
    """
    channels = inputs.shape[-1] // (block_size * block_size)
    shape = ops.shape(inputs)
    height, width = shape[1], shape[2]
    x = ops.reshape(inputs, (-1, height, width, block_size, block_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (N, H, i, W, j, C)
    return ops.reshape(x, (-1, height * block_size, width * block_size, channels))


def space_to_depth(inputs, block_size):
    """(N, H * b, W * b, C) -> (N, H, W, C * b * b), the inverse of `depth_to_space`.

    Output (h, w, (i * b + j) * C + c) is input pixel (h * b + i, w * b + j, c). Height and
    width must be multiples of `block_size`.

    Example:
        >>> space_to_depth(keras.ops.zeros((1, 8, 8, 2)), 2).shape
        (1, 4, 4, 8)

    Reference: the inverse of Shi et al.'s periodic shuffle (CVPR 2016).
    """
    channels = inputs.shape[-1]
    shape = ops.shape(inputs)
    height, width = shape[1] // block_size, shape[2] // block_size
    x = ops.reshape(inputs, (-1, height, block_size, width, block_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (N, H, W, i, j, C)
    return ops.reshape(x, (-1, height, width, block_size * block_size * channels))
