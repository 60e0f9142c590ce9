"""The GAN trainer. `train(config)` is the entry point; `ConditionalGAN` the model."""

from cig_k3.training.gan import ConditionalGAN
from cig_k3.training.run import GANS, TrainingDiverged, TrainResult, build_gan, train

__all__ = ["ConditionalGAN", "GANS", "TrainingDiverged", "TrainResult", "build_gan", "train"]
