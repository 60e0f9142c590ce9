"""Learning-rate schedules."""

import keras
from keras import ops


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """pix2pix's schedule: constant for `constant_steps`, then linear to 0 over `decay_steps`.

    Reference: Isola et al. 2017 / Zhu et al. 2017 code, `--lr_policy linear`.
    """

    def __init__(self, learning_rate, constant_steps, decay_steps):
        self.learning_rate = float(learning_rate)
        self.constant_steps = int(constant_steps)
        self.decay_steps = max(int(decay_steps), 1)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.constant_steps) / float(self.decay_steps), 0.0, 1.0)
        return self.learning_rate * (1.0 - progress)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
        }
