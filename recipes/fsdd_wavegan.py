"""WaveGAN on spoken digits (FSDD): class-conditional 1-D GAN on raw 8 kHz waveforms (8192 samples).

    python recipes/fsdd_wavegan.py --data ../shared/data/fsdd/recordings --out runs/fsdd_wavegan
    python recipes/fsdd_wavegan.py --data ../shared/data/fsdd/recordings --preset gpu --out runs/fsdd_wavegan_gpu

The ``cpu`` preset is a narrow model that stops within 30 minutes on 2 cores; ``gpu`` uses the paper's
width (d=64), WGAN-GP with 5 critic steps and Adam (1e-4, betas 0.5/0.9). Validation scores samples with the
digit classifier and keeps the best by FID.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import multigan
from multigan.audio.spoken_digits.recipe_support import (RESUMABLE, DigitEval, FSDDData, fsdd_train_set,
                                                         train_digit_gan)
from multigan.audio.wavegan import WaveGANDiscriminator, WaveGANGenerator
from multigan.config import AtLeastOne, NonNegative
from multigan.recipe import RunArgs, run_recipe

#: The recordings folder in this repository's layout (``--data`` for another).
DEFAULT_DATA = "../shared/data/fsdd/recordings"


@dataclass
class WaveGANModel:
    """Network sizes."""

    length: Annotated[int, AtLeastOne] = 8192
    z_dim: Annotated[int, AtLeastOne] = 100
    g_dim: Annotated[int, AtLeastOne] = 16
    d_dim: Annotated[int, AtLeastOne] = 16
    phase_shuffle: Annotated[int, NonNegative] = 2
    upsample: Literal["transpose", "nearest"] = "transpose"
    spectral_norm: bool = True


@dataclass
class FSDDWaveGANConfig:
    """Everything the recipe reads."""

    data: FSDDData = field(default_factory=lambda: FSDDData(path=DEFAULT_DATA))
    model: WaveGANModel = field(default_factory=WaveGANModel)
    eval: DigitEval = field(default_factory=DigitEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)


PRESETS = {
    "cpu": {"train": {"loss": "hinge", "max_steps": 20000, "max_minutes": 25, "batch_size": 32, "g_lr": 2e-4,
                      "d_lr": 2e-4, "betas": [0.0, 0.9], "ema_decay": 0.999, "val_every": 250,
                      "ckpt_every": 250, "early_stop_metric": "fid", "early_stop_mode": "min", "patience": 8,
                      "log_every": 25, "cpu_threads": 2}},
    "gpu": {"model": {"g_dim": 64, "d_dim": 64, "spectral_norm": False},
            "eval": {"per_class": 50},
            "train": {"loss": "wgan", "gp_weight": 10.0, "n_critic": 5, "max_steps": 100_000, "batch_size": 64,
                      "g_lr": 1e-4, "d_lr": 1e-4, "betas": [0.5, 0.9], "ema_decay": 0.999, "val_every": 2000,
                      "ckpt_every": 2000, "early_stop_metric": "fid", "early_stop_mode": "min", "patience": 10,
                      "log_every": 100}},
}


def train(cfg: FSDDWaveGANConfig, run: RunArgs) -> dict:
    """Build, train with digit-classifier validation, report."""
    multigan.rng.seed_everything(cfg.train.seed)
    m = cfg.model
    dataset = fsdd_train_set(cfg.data, canvas=m.length)
    classes = dataset.num_classes if cfg.data.conditional else 0
    g = WaveGANGenerator(cfg.data.sample_rate, m.length, classes, m.z_dim, m.g_dim, upsample=m.upsample)
    d = WaveGANDiscriminator(m.length, classes, m.d_dim, m.phase_shuffle, m.spectral_norm)
    return train_digit_gan(cfg, run, g, d, dataset, recipe="fsdd_wavegan", label_names=dataset.classes if classes else ())


def main(argv=None) -> dict:
    """Entry point."""
    return run_recipe(FSDDWaveGANConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/fsdd_wavegan", data_key="data.path",
                      outputs=("samples", "final_samples"), resumable=RESUMABLE, argv=argv)


if __name__ == "__main__":
    main()
