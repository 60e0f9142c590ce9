"""A history of generated images for the discriminator (CycleGAN's image buffer), kept in
non-trainable variables so that every backend threads and checkpoints it."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cig_k3")
class ImagePool(keras.layers.Layer):
    """Returns a batch in which each fake is, once the pool is full, swapped with probability
    1/2 for one generated earlier (and the fake takes its place in the pool).

    While the pool fills, the fakes go in and come back unchanged. Vectorised over the batch:
    two fakes of one batch that draw the same slot both return its old image, and the slot
    keeps their mean.

    Args:
        size: images kept (CycleGAN: 50); 0 turns the pool off.
        image_shape: (height, width, channels) of the images.
        seed: seed of the pool's own SeedGenerator (swap draws and slot choices).

    Example:
        >>> pool = ImagePool(50, (32, 32, 1), seed=0)
        >>> older_or_new = pool(fake_images)

    Reference: Shrivastava et al., "Learning from Simulated and Unsupervised Images through
    Adversarial Training", CVPR 2017; Zhu et al. (CycleGAN), ICCV 2017, sec. 4.
    """

    def __init__(self, size=50, image_shape=(64, 64, 1), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.images = self.add_weight(shape=(max(self.size, 1), *self.image_shape), initializer="zeros",
                                      dtype="float32", trainable=False, name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count")
        self.built = True

    def call(self, fakes):
        if self.size == 0:
            return fakes
        fakes = ops.stop_gradient(ops.cast(fakes, "float32"))
        batch = ops.shape(fakes)[0]
        full = self.count >= self.size
        swap = ops.logical_and(full, keras.random.uniform((batch,), seed=self.seed_generator) > 0.5)
        slot = keras.random.randint((batch,), 0, self.size, seed=self.seed_generator)
        returned = ops.where(ops.reshape(swap, (-1, 1, 1, 1)), ops.take(self.images, slot, axis=0), fakes)

        # While filling, fake i goes to slot count + i; when full, a swapped fake to its slot.
        filling_slot = self.count + ops.arange(batch, dtype="int32")
        write_slot = ops.where(full, slot, ops.minimum(filling_slot, self.size - 1))
        writes = ops.where(full, swap, filling_slot < self.size)
        weights = ops.one_hot(write_slot, self.size) * ops.cast(ops.expand_dims(writes, 1), "float32")  # (B, size)
        hits = ops.sum(weights, axis=0)
        written = ops.einsum("bs,bhwc->shwc", weights, fakes) / ops.reshape(ops.maximum(hits, 1.0), (-1, 1, 1, 1))
        keep = ops.reshape(ops.cast(hits == 0, "float32"), (-1, 1, 1, 1))
        self.images.assign(keep * self.images + (1.0 - keep) * written)
        self.count.assign(ops.minimum(self.count + ops.cast(batch, "int32"), self.size))
        return returned

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape, "seed": self.seed}
