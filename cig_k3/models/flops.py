"""Analytic FLOP counts of convolutional models, from their layers' output shapes.

A multiply-add counts as 2 FLOPs. Only convolutions and dense layers are counted: norms and
activations are a few FLOPs per element and negligible next to them. Written by hand because
it must see through Keras functional models on every backend, which the backends' own
profilers do not do consistently.
"""

import keras


def _conv_flops(layer, input_shape, output_shape):
    kernel = layer.kernel_size
    in_channels = input_shape[-1]
    out_channels = output_shape[-1]
    window = kernel[0] * kernel[1] * in_channels * out_channels
    if isinstance(layer, keras.layers.Conv2DTranspose):
        # Each input pixel scatters a kernel-sized window.
        return 2 * window * input_shape[1] * input_shape[2]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return 2 * kernel[0] * kernel[1] * in_channels * output_shape[1] * output_shape[2]
    groups = getattr(layer, "groups", 1) or 1
    return 2 * window // groups * output_shape[1] * output_shape[2]


def forward_flops(model, input_shapes):
    """FLOPs of one forward pass of a functional `model` for ONE image.

    `input_shapes` gives (H, W, C) per model input (a list for several inputs).
    """
    if not isinstance(input_shapes, list):
        input_shapes = [input_shapes]
    inputs = [keras.KerasTensor((1, *shape)) for shape in input_shapes]
    total = 0

    def visit(layer, args_shapes, out_shape):
        nonlocal total
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D)):
            total += _conv_flops(layer, args_shapes, out_shape)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * args_shapes[-1] * out_shape[-1] * max(1, _prod(out_shape[1:-1]))

    _walk(model, inputs if len(inputs) > 1 else inputs[0], visit)
    return total


def _prod(values):
    result = 1
    for v in values:
        result *= v
    return result


def _walk(model, inputs, visit):
    """Run shape inference node by node through a functional model, calling `visit`."""
    from keras.src import tree

    if not hasattr(model, "_run_through_graph"):
        raise ValueError(f"{model.name}: FLOP counting needs a functional model")

    def operation_fn(operation):
        def call(*args, **kwargs):
            out = operation.compute_output_spec(*args, **kwargs)
            if isinstance(operation, keras.Model) and hasattr(operation, "_run_through_graph"):
                _walk(operation, args[0] if len(args) == 1 else list(args), visit)
            else:
                first = tree.flatten(args)[0]
                visit(operation, tuple(first.shape), tuple(tree.flatten(out)[0].shape))
            return out

        return call

    return model._run_through_graph(inputs, operation_fn=operation_fn)


def gan_step_flops(generator, discriminator, condition_shape, image_shape):
    """Model FLOPs of one GAN training step per image: 3 F_G + 9 F_D.

    G: forward + backward (about twice the forward). D: forward on the fake for the
    generator's loss with its backward, then forward on real and fake with their backward,
    as in the pix2pix reference step.
    """
    f_g = forward_flops(generator, condition_shape)
    f_d = forward_flops(discriminator, [condition_shape, image_shape])
    return {"generator_forward": f_g, "discriminator_forward": f_d, "step": 3 * f_g + 9 * f_d}
