"""SpecGAN on spoken digits (FSDD): class-conditional 2-D GAN on normalised log spectrograms.

    python recipes/fsdd_specgan.py --data ../shared/data/fsdd/recordings --out runs/fsdd_specgan
    python recipes/fsdd_specgan.py --data ../shared/data/fsdd/recordings --preset gpu --out runs/fsdd_specgan_gpu

The ``cpu`` preset (64 log-mel bins x 64 frames, Griffin-Lim inversion) stops within 30 minutes on 2 cores;
``gpu`` is the paper's 128 x 128 linear-frequency setup. Validation scores samples with the digit
classifier (FID, inception score, share recognised as the asked digit) and keeps the best by FID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch

import multigan
from multigan.audio.spoken_digits.recipe_support import (RESUMABLE, DigitEval, FSDDData, fsdd_train_set,
                                                         train_digit_gan)
from multigan.audio.specgan import SpecGANDiscriminator, SpecGANGenerator
from multigan.audio.specgan_data import SpectrogramSet, fit_spectrogram_set
from multigan.config import AtLeastOne
from multigan.recipe import RunArgs, run_recipe

#: The recordings folder in this repository's layout (``--data`` for another).
DEFAULT_DATA = "../shared/data/fsdd/recordings"


@dataclass
class SpecGANModel:
    """Image and network sizes."""

    feature: Literal["mel", "linear"] = "mel"
    size: Annotated[int, AtLeastOne] = 64  # bins = frames
    n_fft: Annotated[int, AtLeastOne] = 512
    hop: Annotated[int, AtLeastOne] = 128
    z_dim: Annotated[int, AtLeastOne] = 100
    g_dim: Annotated[int, AtLeastOne] = 32
    d_dim: Annotated[int, AtLeastOne] = 32
    spectral_norm: bool = True
    griffin_lim_iters: Annotated[int, AtLeastOne] = 32


@dataclass
class FSDDSpecGANConfig:
    """Everything the recipe reads."""

    data: FSDDData = field(default_factory=lambda: FSDDData(path=DEFAULT_DATA))
    model: SpecGANModel = field(default_factory=SpecGANModel)
    eval: DigitEval = field(default_factory=DigitEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)


_COMMON_TRAIN = {"loss": "hinge", "ema_decay": 0.999, "early_stop_metric": "fid", "early_stop_mode": "min"}
PRESETS = {
    "cpu": {"model": {"g_dim": 32, "d_dim": 32},
            "train": {**_COMMON_TRAIN, "max_steps": 20000, "max_minutes": 25, "batch_size": 32, "g_lr": 2e-4,
                      "d_lr": 2e-4, "betas": [0.0, 0.9], "val_every": 250, "ckpt_every": 250, "patience": 8,
                      "log_every": 25, "cpu_threads": 2}},
    "demo": {"eval": {"enabled": False},
             "train": {**_COMMON_TRAIN, "early_stop_metric": "", "max_steps": 1500, "max_minutes": 6,
                       "batch_size": 32, "betas": [0.0, 0.9], "val_every": 500, "ckpt_every": 500,
                       "log_every": 50, "cpu_threads": 2}},
    "gpu": {"model": {"feature": "linear", "size": 128, "n_fft": 256, "hop": 64, "g_dim": 64, "d_dim": 64,
                      "griffin_lim_iters": 16},
            "eval": {"per_class": 50},
            "train": {**_COMMON_TRAIN, "max_steps": 100_000, "batch_size": 64, "g_lr": 1e-4, "d_lr": 1e-4,
                      "betas": [0.0, 0.9], "n_critic": 2, "val_every": 2000, "ckpt_every": 2000, "patience": 10,
                      "log_every": 100}},
}


def build(cfg: FSDDSpecGANConfig) -> tuple[SpecGANGenerator, SpecGANDiscriminator, SpectrogramSet, list]:
    """Models, the spectrogram dataset of the FSDD training split and the class names (digits); the
    generator's normaliser is fitted on the training spectrograms."""
    m = cfg.model
    folder = fsdd_train_set(cfg.data, canvas=(m.size - 1) * m.hop)
    classes = folder.num_classes if cfg.data.conditional else 0
    g = SpecGANGenerator(cfg.data.sample_rate, classes, m.z_dim, m.g_dim, m.size, m.feature, m.n_fft, m.hop,
                         griffin_lim_iters=m.griffin_lim_iters)
    d = SpecGANDiscriminator(classes, m.d_dim, m.size, m.spectral_norm)
    labels = torch.tensor([item.label for item in folder.items]) if classes else None
    return g, d, fit_spectrogram_set(g, folder, labels), folder.classes if classes else []


def train(cfg: FSDDSpecGANConfig, run: RunArgs) -> dict:
    """Build, train with digit-classifier validation, report."""
    multigan.rng.seed_everything(cfg.train.seed)
    g, d, dataset, label_names = build(cfg)
    return train_digit_gan(cfg, run, g, d, dataset, recipe="fsdd_specgan", label_names=label_names)


def main(argv=None) -> dict:
    """Entry point."""
    return run_recipe(FSDDSpecGANConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/fsdd_specgan", data_key="data.path",
                      outputs=("samples", "final_samples"), resumable=RESUMABLE, argv=argv)


if __name__ == "__main__":
    main()
