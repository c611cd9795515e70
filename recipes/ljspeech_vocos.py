"""Vocos vocoder on LJ Speech (or any folder of single-speaker 22.05 kHz clips).

    python recipes/ljspeech_vocos.py --data ../shared/data/ljspeech-mini/wavs --preset vocos-cpu --out runs/vocos_cpu
    python recipes/ljspeech_vocos.py --data LJSpeech-1.1/wavs --preset vocos --out runs/vocos train.mixed_precision=bf16
    python recipes/ljspeech_vocos.py --data ... --out runs/vocos --resume                 # continue exactly

Presets: ``vocos-cpu`` (a small ConvNeXt backbone, MPD + MRD at 1/8 width, about 30 minutes on 2 cores) and
``vocos`` (the published configuration for a GPU: dim 512 / 1536 / 8 layers, MPD + MRD with the MRD's
generator losses x 0.1, hinge loss, feature matching 1, mel L1 45, AdamW 5e-4 betas (0.8, 0.9) with a cosine
schedule, batch 16 of 16,384 samples). The mel front end is the HiFi-GAN LJ Speech one (80 bands, hop 256);
the published Vocos used 100 bands at 24 kHz. Split, validation, export and scoring are those of
``recipes/ljspeech_hifigan.py`` (:func:`multigan.audio.vocoders.training.train_vocoder`). Discriminators are
listed by name and weight (``discriminator.use=[mpd,mrd]``, ``discriminator.weights=[1,0.1]``), each with its
own section (``discriminator.mrd.channels_scale=0.125``, ``discriminator.mrd.resolutions=...``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import multigan
from multigan.audio.vocoders.discriminators.registry import discriminator_section
from multigan.audio.vocoders.sections import (VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                              check_vocoder_config)
from multigan.audio.vocoders.training import RECIPE_WIRING, train_vocoder
from multigan.audio.vocoders.vocos import VocosConfig
from multigan.recipe import RunArgs, run_recipe

NAME = "ljspeech_vocos"

#: MPD + MRD, the MRD's generator losses x 0.1 (Vocos' mrd_loss_coeff).
VocosDiscriminators = discriminator_section(["mpd", "mrd"], [1.0, 0.1], "VocosDiscriminators", __name__)


@dataclass
class VocosRecipeConfig:
    """Everything the recipe reads."""

    data: VocoderData = field(default_factory=lambda: VocoderData(segment=16384))
    mel: VocoderMel = field(default_factory=VocoderMel)
    generator: VocosConfig = field(default_factory=VocosConfig)
    discriminator: VocosDiscriminators = field(default_factory=VocosDiscriminators)
    objective: VocoderObjective = field(default_factory=lambda: VocoderObjective(lr_decay_per_epoch=False))
    eval: VocoderEval = field(default_factory=VocoderEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load: the head's n_fft against mel.hop_size, crops of whole hops."""
        check_vocoder_config(self)


_TRAIN = {"batch_size": 16, "loss": "hinge", "fm_weight": 1.0, "reuse_fakes": True, "optimizer": "adamw",
          "g_lr": 5e-4, "d_lr": 5e-4, "betas": [0.8, 0.9], "lr_schedule": "cosine", "ema_decay": 0.0,
          "early_stop_metric": "mel_l1", "early_stop_mode": "min"}

PRESETS = {
    # 30 minutes (train.max_minutes) on 2 shared CPU cores, one thread: a 4-layer dim-128 backbone (0.6 M parameters,
    # frame rate: a mel-only step costs about 0.03 CPU-s), 16,000 mel-only warm-up steps (in short runs the mel L1
    # alone improved PESQ faster per CPU-second than adversarial steps at about 0.4 CPU-s each, and than the
    # multi-scale mel loss), then MPD + MRD at 1/8 width; the cosine schedule ends at 20,000 steps. d_lr is
    # 10x the published ratio because D starts where the schedule is already down to a tenth.
    "vocos-cpu": {
        "data": {"segment": 8192, "repeats": 16},
        "generator": {"dim": 128, "intermediate_dim": 384, "num_layers": 4},
        "discriminator": {"mpd": {"channels_scale": 0.125}, "mrd": {"channels_scale": 0.125}},
        "objective": {"mel_loss": "single", "mel_weight": 45.0},
        "train": {**_TRAIN, "batch_size": 4, "max_steps": 20000, "adv_start_step": 16000, "g_lr": 2e-3,
                  "d_lr": 2e-3, "device": "cpu", "cpu_threads": 1, "log_every": 100, "val_every": 500,
                  "ckpt_every": 1000, "keep_last": 2, "max_minutes": 30.0},
    },
    "vocos": {
        "data": {"segment": 16384, "repeats": 1},
        "eval": {"pitch": "tiny", "mos": True},  # the protocol's periodicity, V/UV F1 and predicted MOS
        "objective": {"mel_loss": "single", "mel_weight": 45.0},
        "train": {**_TRAIN, "max_steps": 2_000_000, "device": "auto", "num_workers": 4, "log_every": 100,
                  "val_every": 1000, "ckpt_every": 5000, "keep_last": 3},
    },
}


def train(cfg: VocosRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    return train_vocoder(cfg, run, recipe=NAME)


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(VocosRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out=f"runs/{NAME}", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
