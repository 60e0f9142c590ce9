"""Instance maps and per-instance features for generators that take them (`cig generate`,
`cig evaluate`), pix2pixHD's inference.

An `InstanceUNetGenerator` draws each object with a feature vector of its own. Without a
real image, each instance of a field draws one of the generator's k-means cluster centres
(or, with `feature_draw: fields`, the features of an object of one train field the whole
field draws), chosen from (seed, sample, instance id) alone (`cluster_choice`): the field's
whole table of features is made once and every tile reads its objects' rows from it, so an object cut by
a tile border gets one feature on both sides, and the field tiled or whole gives each object
the same feature.

The instance map travels through `predict_tiled` as one more channel of the condition (ids
are exact in float32 below 2**24); the function given to it splits it off again.
"""

import numpy as np


def instances_from_condition(condition):
    """(H, W) int32 instance ids from an encoded condition (H, W, C): the objects of a
    semantic3 label (interior seeds grown into their boundary), else the connected components
    of the foreground. For masks whose instances are not at hand (a semantic mask)."""
    from scipy import ndimage

    from cig_k3.evaluation.segmentation import instances_from_semantic3

    condition = np.asarray(condition)
    if condition.shape[-1] == 3:
        return instances_from_semantic3(condition).astype(np.int32)
    foreground = np.argmax(condition, axis=-1) > 0 if condition.shape[-1] > 1 else condition[..., 0] > 0
    return ndimage.label(foreground)[0].astype(np.int32)


def with_instance_channel(condition, instances=None):
    """(field, instances): the condition (H, W, C) with its instance ids (H, W) int (None: found
    in the condition) as one more float32 channel, the layout tiles carry and an exported
    instance graph (`InstanceFieldGenerator`) takes."""
    condition = np.asarray(condition, np.float32)
    instances = instances_from_condition(condition) if instances is None else np.asarray(instances)
    if instances.shape != condition.shape[:2]:
        raise ValueError(f"instances {instances.shape} and condition {condition.shape[:2]} must have one height "
                         "and width")
    return np.concatenate([condition, instances[..., None].astype(np.float32)], axis=-1), instances


def sample_seed(seed, sample=0):
    """The seed of sample `sample` of a mask drawn with `seed` (one integer per pair)."""
    return int(seed) * 65537 + int(sample)


def instance_function(model, features, in_channels):
    """fn for `predict_tiled`: tiles (n, h, w, in_channels + 1), the label then the instance
    ids, drawn with the field's per-instance `features` (1, M, feature_dim)."""
    import keras

    features = np.asarray(features, np.float32)

    def run(batch):
        label = batch[..., :in_channels]
        ids = np.rint(batch[..., in_channels]).astype(np.int32)
        table = np.repeat(features, len(batch), axis=0)
        return keras.ops.convert_to_numpy(model.synthesize(label, ids, table, training=False))

    return run


def generate_with_instances(model, condition, instances, tile, overlap, samples=1, seed=0, batch_size=4,
                            sample=False, features=None):
    """[-1, 1] images for one condition (H, W, C) whose objects are `instances` (H, W) int (or
    None: found in the condition): a list of `samples` H x W x out_channels arrays.

    Sample k draws the features with `sample_seed(seed, k)` (or takes `features`, a (1, M,
    feature_dim) table whose row i is id i's, in every sample) and, with samples >= 2 (or
    `sample`), the generator's noise on (`cig_k3.layers.sampling`)."""
    from cig_k3.inference.tiling import predict_tiled
    from cig_k3.layers import one_draw_per_field, sampling

    field, instances = with_instance_channel(condition, instances)
    multiple = int(getattr(model, "size_multiple", 1) or 1)
    tile = max(multiple, tile - tile % multiple)
    in_channels = field.shape[-1] - 1
    images = []
    with sampling(model, enabled=sample or samples > 1):
        for k in range(max(1, int(samples))):
            table = model.sample_features(instances[None], seed=sample_seed(seed, k)) if features is None else features
            run = instance_function(model, table, in_channels)
            # The U-Net's latent code and pixel noise: one per field, however it is tiled.
            with one_draw_per_field(model, (seed, k)) as noise:
                images.append(predict_tiled(run, field, tile, min(overlap, tile // 2), multiple,
                                            batch_size=batch_size, on_tiles=noise.place))
    return images


def generate_instance_fields(model, conditions, tile=256, overlap=32, samples=1, sample=False, instances=None):
    """`cig_k3.evaluation.evaluate.generate_fields` for a generator that takes an instance map:
    field n (H x W x C, its objects `instances[n]` or found in it) drawn with seed n; a list
    of H x W x C images (K x H x W x C when `samples` > 1)."""
    fields = []
    for index, condition in enumerate(conditions):
        ids = None if instances is None else instances[index]
        draws = generate_with_instances(model, condition, ids, tile, overlap, samples, seed=index, sample=sample)
        fields.append(draws[0] if samples <= 1 else np.stack(draws))
    return fields
