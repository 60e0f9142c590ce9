"""pix2pixHD's instance-wise feature encoder and the U-Net generator it conditions.

Generated nuclei vary too little from one nucleus to the next when the only noise is a
global latent code and per-pixel noise. pix2pixHD gives every object a feature vector of its
own: an encoder reads the real image, its output is averaged inside each instance, and that
per-instance value, painted back over the instance, joins the label at the generator's
input. Trained this way, the features carry what the mask cannot say about each nucleus
(its brightness, its texture). At inference there is no real image: the features of the
training set's instances are clustered with k-means once after training, and each instance
draws one cluster centre.

The centre an instance draws is a function of (seed, instance id) alone, so that the tiles of
one field (`cig generate` tiles large fields) give one nucleus one feature in every tile.
"""

import logging

import keras
import numpy as np
from keras import ops

from cig_k3.layers.instance_pooling import InstanceAveragePooling, InstanceBroadcast
from cig_k3.layers.normalization import normalization
from cig_k3.layers.upsampling import BilinearUpsampling
from cig_k3.models.unet import UNetGenerator

log = logging.getLogger(__name__)

# Keys of a Keras model's own config, not the U-Net's arguments.
_MODEL_KEYS = ("name", "trainable", "dtype")
ACTIVATIONS = ("tanh", "linear")
# What reads each instance's features from the real image: pix2pixHD's learned encoder, the
# instance's own intensity statistics (`InstanceIntensity`), or those and its texture
# strength (`InstanceTexture`).
ENCODERS = ("learned", "intensity", "texture")
# Statistics per channel that each fixed encoder gives: mean and std, and the texture's RMS.
STATISTICS = {"intensity": 2, "texture": 3}
TEXTURE_SIGMA = 1.5  # px: the Gaussian whose residual is the texture
FEATURE_DRAWS = ("clusters", "fields")


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceFeatureEncoder(keras.Model):
    """Image -> a full-resolution feature map (N, H, W, feature_dim), to be pooled per instance.

    Conv(7x7) - norm - ReLU, `num_downsamples` x [Conv(3x3, stride 2) - norm - ReLU] (filters
    doubling), as many x [bilinear x2 - Conv(3x3) - norm - ReLU] (filters halving), Conv(7x7)
    to `feature_dim`, then tanh or nothing. pix2pixHD's encoder, with resize-convolutions in
    place of its transposed ones. The default norm is "none": instance norm would remove the
    field's own brightness, part of what a nucleus's feature should carry. The output is
    float32 under mixed precision.

    Args:
        in_channels: channels of the image.
        feature_dim: features per pixel (pix2pixHD: 3).
        base_filters: filters of the first convolution (pix2pixHD: 16).
        num_downsamples: stride-2 convolutions; H and W must be multiples of 2**num_downsamples.
        activation: "tanh" (pix2pixHD) or "linear".
        norm: "none", "instance" or "batch".

    Example:
        >>> InstanceFeatureEncoder(1, feature_dim=3, base_filters=4)(keras.ops.zeros((2, 32, 32, 1))).shape
        (2, 32, 32, 3)

    Reference: Wang et al., pix2pixHD, CVPR 2018, sec. 3.4 and its Encoder network.
    """

    def __init__(self, in_channels=1, feature_dim=3, base_filters=16, num_downsamples=2, activation="tanh",
                 norm="none", **kwargs):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown encoder_activation {activation!r} in the instance generator's "
                             f"generator_args; choose one of {ACTIVATIONS}")
        image = keras.Input(shape=(None, None, in_channels), name="image")

        def block(x, filters, strides, name):
            x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", name=f"{name}_conv")(x)
            if norm != "none":
                x = normalization(norm, name=f"{name}_norm")(x)
            return keras.layers.ReLU(name=f"{name}_act")(x)

        x = keras.layers.Conv2D(base_filters, 7, padding="same", name="in_conv")(image)
        x = keras.layers.ReLU(name="in_act")(x)
        for i in range(num_downsamples):
            x = block(x, base_filters * 2 ** (i + 1), 2, f"down{i}")
        for i in reversed(range(num_downsamples)):
            x = BilinearUpsampling(name=f"up{i}_resize")(x)
            x = block(x, base_filters * 2**i, 1, f"up{i}")
        x = keras.layers.Conv2D(feature_dim, 7, padding="same", name="out_conv")(x)
        features = keras.layers.Activation(activation, dtype="float32", name="features")(x)
        super().__init__(inputs=image, outputs=features, **kwargs)
        self.in_channels = in_channels
        self.feature_dim = int(feature_dim)
        self.base_filters = base_filters
        self.num_downsamples = int(num_downsamples)
        self.activation = activation
        self.norm = norm

    @property
    def size_multiple(self):
        return 2**self.num_downsamples

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
                "feature_dim": self.feature_dim, "base_filters": self.base_filters,
                "num_downsamples": self.num_downsamples, "activation": self.activation, "norm": self.norm}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceIntensity(keras.layers.Layer):
    """Image (N, H, W, C) -> (N, H, W, 2C): the image and its square, float32, to be averaged
    inside each instance; `intensity_statistics` turns the two means into each instance's mean
    and standard deviation per channel. No weights.

    The fixed alternative to the learned `InstanceFeatureEncoder`: a nucleus's brightness and
    the strength of its texture are what real fields vary from nucleus to nucleus (cell cycle,
    expression level) and what one mask cannot say. Fixed statistics mean the same thing from
    the first step of training to the k-means clusters fitted at its end, and a person can read
    and set them.

    Example:
        >>> InstanceIntensity()(keras.ops.ones((2, 32, 32, 1))).shape
        (2, 32, 32, 2)
    """

    size_multiple = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # no weights

    def call(self, image):
        image = ops.cast(image, "float32")
        return ops.concatenate([image, ops.square(image)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceTexture(keras.layers.Layer):
    """Image (N, H, W, C) and its objects' foreground (N, H, W, 1) -> (N, H, W, 3C): the
    image, its square and the square of its texture, float32, to be averaged inside each
    instance. The texture is the image less its Gaussian blur of `sigma` px over the
    foreground alone (a normalised convolution: scipy's taps, truncated at 4 sigma, the
    borders reflected), so that a nucleus's edge against the background is no part of it; it
    is 0 off the foreground. Without a foreground the whole image counts as one.
    `texture_statistics` turns the three means into each instance's mean, standard deviation
    and texture strength (the texture's RMS) per channel. No weights.

    `InstanceIntensity`'s two statistics leave a nucleus's texture to its standard
    deviation, which over the whole nucleus is mostly its edge: on BBBC039 the drawn nuclei's
    texture strength (σ 1.5 high-pass, 4 px in) varied half as much as real ones' (IQR 0.48
    of real), and mapped rank for rank onto the real strengths post hoc they scored C2ST 0.841
    against 0.859 (`benchmarks/nucleus_swaps.py`, twenty-second session). The third feature
    lets each drawn nucleus take a texture strength that goes with its brightness, from the
    same cluster centre. The default's config with it, 5400 steps, scored C2ST 0.797, 0.912
    and 0.899 on three seeds (mean 0.870), within the default's four (0.859-0.940), while every
    seed drew the nuclei's CV and contrast nearer the real medians (RESULTS.md, twenty-second
    and twenty-third sessions); no preset uses it.

    Example:
        >>> InstanceTexture()(keras.ops.ones((2, 32, 32, 1))).shape
        (2, 32, 32, 3)
    """

    size_multiple = 1

    def __init__(self, sigma=TEXTURE_SIGMA, **kwargs):
        super().__init__(**kwargs)
        self.sigma = float(sigma)
        self.radius = int(4.0 * self.sigma + 0.5)
        taps = np.exp(-0.5 * (np.arange(-self.radius, self.radius + 1) / self.sigma) ** 2)
        self.taps = (taps / taps.sum()).astype("float32")
        self.built = True  # no weights

    def blur(self, image):
        channels = image.shape[-1]
        r = self.radius
        x = ops.pad(image, [[0, 0], [r, r], [r, r], [0, 0]], mode="reflect")
        rows = np.tile(self.taps.reshape(-1, 1, 1, 1), (1, 1, channels, 1))
        cols = np.tile(self.taps.reshape(1, -1, 1, 1), (1, 1, channels, 1))
        x = ops.depthwise_conv(x, ops.convert_to_tensor(rows), padding="valid")
        return ops.depthwise_conv(x, ops.convert_to_tensor(cols), padding="valid")

    def call(self, image, foreground=None):
        image = ops.cast(image, "float32")
        if foreground is None:
            foreground = ops.ones_like(image[..., :1])
        foreground = ops.cast(foreground, "float32")
        local = self.blur(image * foreground) / ops.maximum(self.blur(foreground), 1e-6)
        texture = (image - local) * foreground
        return ops.concatenate([image, ops.square(image), ops.square(texture)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], 3 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}


def intensity_statistics(means):
    """(..., 2C) means of an image and of its square -> (..., 2C) mean and standard deviation
    per channel; rows of zeros (the background, absent ids) stay zeros."""
    xp = np if isinstance(means, np.ndarray) else ops  # numpy in the cluster fit, tensors in training
    channels = means.shape[-1] // 2
    mean, mean_square = means[..., :channels], means[..., channels:]
    return xp.concatenate([mean, xp.sqrt(xp.maximum(mean_square - xp.square(mean), 0.0))], axis=-1)


def texture_statistics(means):
    """(..., 3C) means of an image, its square and its texture's square -> (..., 3C) mean,
    standard deviation and texture RMS per channel; rows of zeros stay zeros."""
    xp = np if isinstance(means, np.ndarray) else ops
    channels = means.shape[-1] // 3
    return xp.concatenate([intensity_statistics(means[..., :2 * channels]),
                           xp.sqrt(xp.maximum(means[..., 2 * channels:], 0.0))], axis=-1)


def cluster_choice(instance_ids, seed, weights):
    """The cluster each instance id draws, int64 in [0, K), shaped like `instance_ids`.

    `weights` (K,) are the clusters' shares of the training instances (or an int K for K
    equal shares): cluster k is drawn with probability weights[k] / sum(weights), so that a
    rare cluster (a few saturated nuclei) is rare among the drawn objects too; a uniform
    draw among k-means centres overweights the extremes. A pure function of the pair
    (splitmix64's finaliser on the seed, mixed with the id, gives one uniform number per
    id), so one object gets one centre whatever tile, batch or process asks, and on every
    backend.
    """
    def mix(x):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

    weights = np.ones(int(weights)) if np.ndim(weights) == 0 else np.asarray(weights, np.float64)
    if weights.ndim != 1 or len(weights) == 0 or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"cluster weights must be K >= 1 non-negative shares with a positive sum; got {weights}")
    ids = np.asarray(instance_ids).astype(np.uint64)
    key = mix(np.asarray([int(seed) % 2**64], dtype=np.uint64))
    uniform = (mix(key ^ mix(ids)) >> np.uint64(11)).astype(np.float64) / 2.0**53  # [0, 1)
    edges = np.cumsum(weights) / weights.sum()
    return np.minimum(np.searchsorted(edges, uniform, side="right"), len(weights) - 1).astype(np.int64)


@keras.saving.register_keras_serializable(package="cig_k3")
class InstanceUNetGenerator(keras.Model):
    """A `UNetGenerator` conditioned on per-instance features: pix2pixHD's feature encoder.

    Input, training: {"label": (N, H, W, in_channels), "instances": (N, H, W) or (N, H, W, 1)
    int ids (0 background), "raw": (N, H, W, out_channels)}: raw -> `InstanceFeatureEncoder`
    -> `InstanceAveragePooling` -> one feature_dim vector per instance -> `InstanceBroadcast`
    over the instance (0 on the background) -> concatenated to the label -> U-Net.
    Inference: {"label", "instances", "features": (N, M, feature_dim)}, a table whose row i
    is the feature of id i (`sample_features` draws it from the cluster centres). Output:
    (N, H, W, out_channels) in [-1, 1].

    The cluster centres (num_clusters x feature_dim) and a "fitted" flag are non-trainable
    weights, saved in the `.keras` file; `fit_clusters` sets them (k-means) after training.

    Args:
        in_channels: channels of the label (e.g. 3 for semantic3).
        out_channels: channels of the image (and of the encoder's input).
        feature_dim: features per instance (pix2pixHD: 3).
        num_clusters: k-means centres kept for inference (pix2pixHD: 10).
        max_instances: ids per image the encoder's pooling keeps apart (training crops are
            renumbered 1..n).
        encoder: "learned" (pix2pixHD's `InstanceFeatureEncoder`), "intensity" (each
            instance's mean and standard deviation per channel, `InstanceIntensity`; feature_dim
            must then be 2 x out_channels) or "texture" (those and the RMS of its σ 1.5 px
            high-pass, `InstanceTexture`; feature_dim 3 x out_channels).
        encoder_filters, encoder_downsamples, encoder_activation, encoder_norm: of the
            `InstanceFeatureEncoder`.
        seed: seed of the U-Net's noise layers.
        feature_draw: how features are drawn without a real image: "clusters" (each object one
            k-means centre, pix2pixHD) or "fields" (each field picks one train field of a bank
            kept in the model, and each of its objects the features of one of that field's
            objects: objects of one field share its exposure and staining, as real ones do).
        bank_fields, bank_instances: the bank's size for "fields" (fields, objects per field;
            larger fields keep a random subset of their objects).
        **unet_args: every other `UNetGenerator` argument (base_filters, depth, upsample,
            noise, latent_dim, ...).

    Example:
        >>> generator = InstanceUNetGenerator(3, 1, base_filters=8, depth=3, encoder_filters=4)
        >>> generator({"label": label, "instances": ids, "raw": image}).shape       # training
        (2, 32, 32, 1)
        >>> generator.fit_clusters(features)                                          # (n, 3)
        >>> generator({"label": label, "instances": ids,
        ...            "features": generator.sample_features(ids, seed=0)})           # inference

    Reference: Wang et al., pix2pixHD, CVPR 2018, sec. 3.4 (instance-wise feature encoder,
    k-means clusters of the features at inference).
    """

    takes_instances = True

    def __init__(self, in_channels=3, out_channels=1, feature_dim=3, num_clusters=10, max_instances=256,
                 encoder_filters=16, encoder_downsamples=2, encoder_activation="tanh", encoder_norm="none",
                 encoder="learned", seed=None, feature_draw="clusters", bank_fields=128, bank_instances=128,
                 **kwargs):
        if int(feature_dim) < 1 or int(num_clusters) < 1:
            raise ValueError(f"feature_dim={feature_dim} and num_clusters={num_clusters} in the instance "
                             "generator's generator_args must be >= 1")
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r} in the instance generator's generator_args; "
                             f"choose one of {ENCODERS}")
        if feature_draw not in FEATURE_DRAWS:
            raise ValueError(f"unknown feature_draw {feature_draw!r} in the instance generator's generator_args; "
                             f"choose one of {FEATURE_DRAWS}")
        if encoder in STATISTICS and int(feature_dim) != STATISTICS[encoder] * out_channels:
            given = {"intensity": "a mean and a standard deviation",
                     "texture": "a mean, a standard deviation and a texture strength"}[encoder]
            raise ValueError(f"feature_dim={feature_dim} in the instance generator's generator_args: the "
                             f"{encoder} encoder gives {given} per channel, "
                             f"feature_dim {STATISTICS[encoder] * out_channels}")
        model_args = {key: kwargs.pop(key) for key in _MODEL_KEYS if key in kwargs}
        unet_args = dict(kwargs)
        super().__init__(**model_args)
        if encoder == "intensity":
            self.encoder = InstanceIntensity(name="instance_intensity")
        elif encoder == "texture":
            self.encoder = InstanceTexture(name="instance_texture")
        else:
            self.encoder = InstanceFeatureEncoder(out_channels, feature_dim, encoder_filters, encoder_downsamples,
                                                  encoder_activation, encoder_norm, name="instance_encoder")
        self.pooling = InstanceAveragePooling(max_instances, name="instance_pooling")
        self.broadcast = InstanceBroadcast(name="instance_broadcast")
        self.unet = UNetGenerator(in_channels + int(feature_dim), out_channels, seed=seed, name="unet", **unet_args)
        # float32 whatever the policy: k-means centres, read back exactly after a save.
        self.cluster_centres = self.add_weight(shape=(int(num_clusters), int(feature_dim)), initializer="zeros",
                                               trainable=False, dtype="float32", name="cluster_centres")
        self.clusters_fitted = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="float32",
                                               name="clusters_fitted")
        # Each centre's share of the training instances: the draw's probabilities.
        self.cluster_weights = self.add_weight(shape=(int(num_clusters),), initializer="ones", trainable=False,
                                               dtype="float32", name="cluster_weights")
        self.feature_draw = feature_draw
        self.bank_fields, self.bank_instances = int(bank_fields), int(bank_instances)
        if feature_draw == "fields":  # only then: files saved without a bank load as before
            self.feature_bank = self.add_weight(
                shape=(self.bank_fields, self.bank_instances, int(feature_dim)), initializer="zeros",
                trainable=False, dtype="float32", name="feature_bank")
            self.bank_counts = self.add_weight(shape=(self.bank_fields,), initializer="zeros", trainable=False,
                                               dtype="float32", name="bank_counts")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.feature_dim = int(feature_dim)
        self.num_clusters = int(num_clusters)
        self.max_instances = int(max_instances)
        self.encoder_filters = encoder_filters
        self.encoder_downsamples = int(encoder_downsamples)
        self.encoder_activation = encoder_activation
        self.encoder_norm = encoder_norm
        self.encoder_kind = encoder
        self.seed = seed
        self.unet_args = unet_args
        self.built = True  # every variable exists now, so a saved file loads without a build

    @property
    def size_multiple(self):
        """Height and width must be multiples of this (the U-Net's and the encoder's need)."""
        return int(np.lcm(self.unet.size_multiple, self.encoder.size_multiple))

    @property
    def latent_dim(self):
        return self.unet.latent_dim

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict) or "label" not in inputs or "instances" not in inputs:
            raise ValueError("InstanceUNetGenerator takes {'label', 'instances', 'raw' or 'features'}; "
                             "feed it through cig_k3.evaluation.conditioning.generator_inputs")
        if "raw" in inputs:
            features = self.encode_instances(inputs["raw"], inputs["instances"], training=training)
        elif "features" in inputs:
            features = inputs["features"]
        else:
            raise ValueError("InstanceUNetGenerator needs 'raw' (a real image to encode) or 'features' "
                             "(per-instance features, e.g. sample_features(instances, seed))")
        return self.synthesize(inputs["label"], inputs["instances"], features, training=training)

    def feature_map(self, raw, instances=None, training=False):
        """The encoder's full-resolution map (N, H, W, F), to be averaged inside each instance;
        `instance_features` turns those means into features. The texture encoder also takes
        the instance map (N, H, W[, 1]), to keep the objects' edges out of their texture."""
        if self.encoder_kind == "texture":
            foreground = None
            if instances is not None:
                ids = ops.convert_to_tensor(instances)
                ids = ids[..., None] if len(ids.shape) == 3 else ids
                foreground = ops.cast(ids > 0, "float32")
            return self.encoder(raw, foreground)
        return self.encoder(raw, training=training)

    def instance_features(self, means):
        """Features from the means of `feature_map` inside instances (..., F), numpy or tensor:
        the means themselves for the learned encoder, the mean and standard deviation per
        channel for the intensity one, and the texture's RMS too for the texture one."""
        if self.encoder_kind == "intensity":
            return intensity_statistics(means)
        if self.encoder_kind == "texture":
            return texture_statistics(means)
        return means

    def encode_instances(self, raw, instances, training=False):
        """Per-instance features (N, max_instances, feature_dim) of real images `raw`: row i is
        from the encoder's map averaged over id i's pixels; the background and absent ids give 0."""
        means = self.pooling([self.feature_map(raw, instances, training=training), ops.convert_to_tensor(instances)])
        return self.instance_features(means)

    def synthesize(self, label, instances, features, training=False):
        """Images for labels (N, H, W, in_channels) whose instances (N, H, W[, 1]) take the
        per-instance features (N, M, feature_dim), row i for id i (any M)."""
        painted = self.broadcast([ops.convert_to_tensor(features), ops.convert_to_tensor(instances)])
        conditioned = ops.concatenate([ops.cast(label, painted.dtype), painted], axis=-1)
        return self.unet(conditioned, training=training)

    @property
    def fitted(self):
        """Whether `fit_clusters` has set the cluster centres."""
        return bool(ops.convert_to_numpy(self.clusters_fitted) > 0.5)

    def fit_clusters(self, features, seed=0, n_init=10):
        """Set the cluster centres to the k-means centres of `features` (n, feature_dim), the
        training set's per-instance features, and their weights to each cluster's share of
        the instances; fewer instances than clusters repeat centres (sharing their weight)."""
        from sklearn.cluster import KMeans

        features = np.asarray(features, np.float64).reshape(-1, self.feature_dim)
        features = features[np.all(np.isfinite(features), axis=1)]
        if len(features) == 0:
            raise ValueError("fit_clusters got no instance features: the training fields hold no labelled objects")
        count = min(self.num_clusters, len(np.unique(features, axis=0)))
        kmeans = KMeans(n_clusters=count, n_init=n_init, random_state=seed).fit(features)
        # Sorted by the first feature, so that centre k is comparable between runs.
        order = np.argsort(kmeans.cluster_centers_[:, 0])
        slots = np.arange(self.num_clusters) % count
        centres = kmeans.cluster_centers_[order][slots]
        shares = np.bincount(kmeans.labels_, minlength=count)[order] / len(features)
        self.cluster_centres.assign(centres.astype(np.float32))
        self.cluster_weights.assign((shares[slots] / np.bincount(slots)[slots]).astype(np.float32))
        self.clusters_fitted.assign(1.0)
        log.info("instance features: %d clusters from %d instances", count, len(features))
        return centres

    def fit_bank(self, fields, seed=0):
        """Fill the feature bank ("fields" draw) from `fields`, a list of (n_i, feature_dim)
        per-instance features, one array per train field: up to `bank_fields` fields with
        objects, chosen at random, each with up to `bank_instances` of its objects. Returns
        the number of fields kept; does nothing (0) for the "clusters" draw."""
        if self.feature_draw != "fields":
            return 0
        rng = np.random.default_rng(seed)
        fields = [np.asarray(f, np.float64).reshape(-1, self.feature_dim) for f in fields]
        fields = [f[np.all(np.isfinite(f), axis=1)] for f in fields]
        fields = [f for f in fields if len(f)]
        if not fields:
            raise ValueError("fit_bank got no instance features: the training fields hold no labelled objects")
        chosen = np.sort(rng.choice(len(fields), size=min(len(fields), self.bank_fields), replace=False))
        bank = np.zeros((self.bank_fields, self.bank_instances, self.feature_dim), np.float32)
        counts = np.zeros(self.bank_fields, np.float32)
        for slot, index in enumerate(chosen):
            rows = fields[index]
            if len(rows) > self.bank_instances:
                rows = rows[np.sort(rng.choice(len(rows), size=self.bank_instances, replace=False))]
            bank[slot, :len(rows)] = rows
            counts[slot] = len(rows)
        self.feature_bank.assign(bank)
        self.bank_counts.assign(counts)
        log.info("instance features: a bank of %d fields, %d objects", len(chosen), int(counts.sum()))
        return len(chosen)

    def sample_features(self, instances, seed=0):
        """Per-instance features (N, max id + 1, feature_dim) float32, drawn without a real
        image (`seed` one integer, or one per image); row 0 is 0.

        "clusters": id i of image n takes centre `cluster_choice(i, seed, cluster_weights)`,
        each centre as often as its cluster among the training instances. "fields": image n
        takes bank field `cluster_choice(0, seed, fields kept)` (row 0 is the background's, so
        its draw is free), and id i that field's object `cluster_choice(i, seed, its objects)`.
        Pure functions of (seed, id): one object gets one feature in every tile.

        Raises a one-line ValueError when the centres (or the bank) were never fitted."""
        if not self.fitted:
            raise ValueError(f"generator {self.name!r} has no fitted instance-feature clusters; it was saved "
                             "before fit_clusters ran (cig train fits them when training ends)")
        instances = np.asarray(instances)
        if instances.ndim == 4:
            instances = instances[..., 0]
        rows = int(instances.max(initial=0)) + 1
        seeds = np.broadcast_to(np.asarray(seed, dtype=np.int64), (len(instances),))
        if self.feature_draw == "fields":
            bank, counts = ops.convert_to_numpy(self.feature_bank), ops.convert_to_numpy(self.bank_counts)
            if counts.sum() <= 0:
                raise ValueError(f"generator {self.name!r} draws features from fields but its bank is empty; it "
                                 "was saved before fit_bank ran (cig train fills it when training ends)")
            tables = []
            for image_seed in seeds:
                field = int(cluster_choice(np.zeros(1), image_seed, (counts > 0).astype(np.float64))[0])
                tables.append(bank[field][cluster_choice(np.arange(rows), image_seed, np.ones(int(counts[field])))])
            tables = np.stack(tables).astype(np.float32)
        else:
            centres = ops.convert_to_numpy(self.cluster_centres)
            weights = ops.convert_to_numpy(self.cluster_weights)
            tables = np.stack([centres[cluster_choice(np.arange(rows), image_seed, weights)]
                               for image_seed in seeds]).astype(np.float32)
        tables[:, 0] = 0.0
        return tables

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "in_channels": self.in_channels,
            "out_channels": self.out_channels, "feature_dim": self.feature_dim, "num_clusters": self.num_clusters,
            "max_instances": self.max_instances, "encoder_filters": self.encoder_filters,
            "encoder_downsamples": self.encoder_downsamples, "encoder_activation": self.encoder_activation,
            "encoder_norm": self.encoder_norm, "encoder": self.encoder_kind, "seed": self.seed,
            "feature_draw": self.feature_draw, "bank_fields": self.bank_fields, "bank_instances": self.bank_instances,
            **self.unet_args,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def takes_instances(model):
    """Whether `model` takes an instance map ({"label", "instances", ...}), as
    `InstanceUNetGenerator`."""
    return bool(getattr(model, "takes_instances", False))
