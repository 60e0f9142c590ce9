"""The GAN trainer. `train(config)` is the entry point; `cig_k3.training.gans` holds the GAN
classes (`Pix2PixGAN`, ...) and their registry, `cig_k3.training.gan` their contract."""

from cig_k3.training.gans import GANS, Pix2PixGAN
from cig_k3.training.run import TrainingDiverged, TrainResult, build_gan, train

__all__ = ["GANS", "Pix2PixGAN", "TrainingDiverged", "TrainResult", "build_gan", "train"]
