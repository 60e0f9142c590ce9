"""Batch-norm statistics recomputed for the weights a run saves: "standing statistics".

A batch-norm layer normalises by the batch's own mean and variance while training and by its
moving averages when drawing. Those averages follow the raw weights over the last few batches
(momentum 0.9: about ten batches of four crops), so they are a noisy estimate, and a run with
`optimizer.generator_ema` saves other weights, their moving average, which the statistics were
never measured with. Every draw of the saved generator then carries one fixed error, the same
in every field: the kind of shift a linear classifier on Inception features reads.

`standing_statistics` runs the final generator in training mode over many train batches, fed
as it is fed when it draws (drawn instance features, a style from another image), and sets
each batch-norm layer's moving mean and variance to the statistics of all those batches taken
together: the mean of the batches' means, and the mean of their variances plus the variance
of their means. Only those non-trainable weights change. BigGAN draws with such statistics
(Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
appendix C.1, "standing statistics"); this is its idea over the train split.

Written here rather than taken from Keras: Keras has no call that recomputes a trained
model's batch-norm statistics.
"""

import logging

import keras
import numpy as np

log = logging.getLogger(__name__)


def batch_norm_layers(model):
    """Every `keras.layers.BatchNormalization` inside `model`, nested models included, once
    each, in the order Keras tracks them."""
    found, seen = [], set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        for inner in getattr(layer, "layers", None) or []:  # a subclassed model tracks its sub-models here too
            walk(inner)

    walk(model)
    return found


def standing_statistics(model, batches):
    """Set the moving mean and variance of every batch-norm layer of `model` to the statistics
    of its inputs over `batches` (an iterable of `model` inputs), run in training mode; returns
    the number of batches used (0 leaves the model as it was: no batches, or no batch norm).

    Each layer sees what it sees in training: the earlier layers normalise by the batch too.
    The moving mean becomes the mean of the batch means, the moving variance the mean of the
    batch variances plus the variance of the batch means (all the batches as one). Trainable
    weights and the layers' momentum are left as they were.

    Example:
        >>> standing_statistics(generator, (generator_inputs(...) for ... in stream))
        200
    """
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    totals = [[0.0, 0.0, 0.0] for _ in layers]  # sums of the batch means, variances, squared means
    count = 0
    try:
        for layer in layers:
            layer.momentum = 0.0  # after a call the moving statistics are that batch's own
        for inputs in batches if layers else ():
            model(inputs, training=True)
            for layer, sums in zip(layers, totals):
                mean = keras.ops.convert_to_numpy(layer.moving_mean).astype(np.float64)
                sums[0] += mean
                sums[1] += keras.ops.convert_to_numpy(layer.moving_variance).astype(np.float64)
                sums[2] += np.square(mean)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    for layer, (means, variances, squares) in zip(layers, totals) if count else ():
        mean = means / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign((variances / count + np.maximum(squares / count - np.square(mean), 0.0))
                                     .astype(np.float32))
    return count


def train_split_inputs(generator, shards, crop, batch_size, count, seed=0):
    """`count` batches of `generator`'s inputs from the train split of `shards`, fed as it is fed
    when it draws (`cig_k3.evaluation.conditioning.generator_inputs`): random crops of `crop`
    px, no augmentation, the features of instance generators drawn from their clusters (seeded
    per batch), the style of style generators from another image of the batch."""
    from cig_k3.data import BatchStream
    from cig_k3.evaluation.conditioning import generator_inputs, takes_instances

    instance = takes_instances(generator)
    stream = BatchStream(shards, split="train", batch_size=batch_size, crop=crop, augment=None, seed=seed,
                         steps_per_epoch=count, training=True, instance_condition=instance)
    for index, (condition, target) in enumerate(stream.epoch(0)):
        instances = None
        if isinstance(condition, dict):
            instances = np.asarray(condition["instances"]) if instance else None
            condition = condition["label"]
        yield generator_inputs(generator, condition, target, instances=instances,
                               seed=int(seed) * 1_000_003 + index * batch_size)


class StandingStatistics(keras.callbacks.Callback):
    """Recomputes the generator's batch-norm statistics (`standing_statistics`) over `batches`
    train batches when training ends: after fit() has written the weight average over the
    weights and after the instance clusters are fitted (the inputs draw from them), before the
    callbacks after it (tracking) log the generator. Training stopped by `guard` (a `NaNGuard`
    that saw a non-finite loss) recomputes nothing: the run rolls back or stops. A run resumed
    past its last epoch trains nothing, so no callback ends it: `train()` calls `run()` itself.
    """

    def __init__(self, shards, crop, batch_size, batches, seed=0, guard=None):
        super().__init__()
        self.shards, self.crop, self.batch_size = shards, crop, batch_size
        self.batches, self.seed, self.guard = int(batches), seed, guard

    def run(self, generator):
        inputs = train_split_inputs(generator, self.shards, self.crop, self.batch_size, self.batches, self.seed)
        used = standing_statistics(generator, inputs)
        log.info("standing statistics: %d batch-norm layers of the generator over %d train batches",
                 len(batch_norm_layers(generator)), used)
        return used

    def on_train_end(self, logs=None):
        if self.guard is not None and self.guard.message is not None:
            return
        self.run(self.model.generator)
