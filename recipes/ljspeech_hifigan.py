"""HiFi-GAN vocoder on LJ Speech (or any folder of single-speaker 22.05 kHz clips).

    python recipes/ljspeech_hifigan.py --data ../shared/data/ljspeech-mini/wavs --out runs/ljspeech_hifigan
    python recipes/ljspeech_hifigan.py --data LJSpeech-1.1/wavs --preset v1 --out runs/hifigan_v1 train.mixed_precision=bf16
    python recipes/ljspeech_hifigan.py --data ... --out runs/hifigan_v1 --resume            # continue exactly
    python recipes/ljspeech_hifigan.py --data NEW_SPEAKER --preset v1 --out runs/ft --init-from runs/hifigan_v1
    # from a published checkpoint (multigan import-checkpoint hifigan ... --out runs/published): its D and optimizers too
    python recipes/ljspeech_hifigan.py --data NEW_SPEAKER --preset v1 --config runs/published/finetune.yaml
        --out runs/ft --init-from runs/published [data.mel_path=TTS_MELS data.normalize=false]

Presets: ``cpu`` (a small V3-style generator and discriminators at 1/8 width, mel-only warm-up, about 30
minutes on 2 cores), ``v1``/``v2``/``v3`` (the published generators, full MPD + MSD, batch 16, for GPUs).
Discriminators are listed by name and weight (``discriminator.use=[mpd,msd]``, ``discriminator.weights=[1,1]``;
add UnivNet's MRD with ``discriminator.use=[mpd,msd,mrd] discriminator.weights=[1,1,0.1]``), each with its own
section (``discriminator.mpd.channels_scale=0.125`` ...).
The recipe splits the clips into training and validation (deterministic, ``run_dir/split.json``), trains
with LSGAN + feature matching (2) + full-band mel L1 (45), AdamW (2e-4, betas 0.8/0.99) decayed by 0.999
per epoch, and validates on the full held-out clips (mel L1, multi-resolution STFT, wideband PESQ, each
beside a Griffin-Lim baseline of the same mels). The best mel L1 is exported; ``metrics.json`` scores it
and ``samples/`` holds its validation clips.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import multigan
from multigan.audio.vocoders.discriminators.registry import discriminator_section
from multigan.audio.vocoders.hifigan import HiFiGANConfig
from multigan.audio.vocoders.sections import (VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                              check_vocoder_config)
from multigan.audio.vocoders.training import RECIPE_WIRING, train_vocoder
from multigan.recipe import RunArgs, run_recipe

NAME = "ljspeech_hifigan"

#: MPD + MSD, equally weighted (published).
HiFiGANDiscriminators = discriminator_section(["mpd", "msd"], [1.0, 1.0], "HiFiGANDiscriminators", __name__)


@dataclass
class HiFiGANRecipeConfig:
    """Everything the recipe reads."""

    data: VocoderData = field(default_factory=VocoderData)
    mel: VocoderMel = field(default_factory=VocoderMel)
    generator: HiFiGANConfig = field(default_factory=HiFiGANConfig)
    discriminator: HiFiGANDiscriminators = field(default_factory=HiFiGANDiscriminators)
    objective: VocoderObjective = field(default_factory=VocoderObjective)
    eval: VocoderEval = field(default_factory=VocoderEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load (the upsampling/hop rule first: the most common mistake)."""
        check_vocoder_config(self)


def _published(preset: str) -> dict:
    return {
        "data": {"repeats": 1},
        "eval": {"pitch": "tiny", "mos": True},  # the protocol's periodicity, V/UV F1 and predicted MOS
        "generator": HiFiGANConfig.preset(preset),
        "train": {"max_steps": 2_500_000, "batch_size": 16, "loss": "lsgan", "fm_weight": 2.0, "reuse_fakes": True,
                  "optimizer": "adamw", "g_lr": 2e-4, "d_lr": 2e-4, "betas": [0.8, 0.99],
                  "lr_schedule": "exponential", "lr_decay": 0.999, "ema_decay": 0.0, "device": "auto",
                  "num_workers": 4, "log_every": 100, "val_every": 1000, "ckpt_every": 5000, "keep_last": 3,
                  "early_stop_metric": "mel_l1", "early_stop_mode": "min"},
    }


PRESETS = {
    # At most 30 minutes of training (train.max_minutes) on 2 shared CPU cores: a 0.12 M-parameter V3-style
    # generator, discriminators at 1/8 width, a mel-only warm-up at a higher G learning rate (the cheapest way down the
    # mel L1: 0.04 s/step vs 0.38 s/step adversarial on an idle core), then 2,000 adversarial steps. One
    # thread: on an idle machine 2 threads are 1.2-1.5x faster, on a loaded one 4-5x slower.
    "cpu": {
        "data": {"repeats": 16},
        "generator": {"resblock": 2, "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
                      "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 5, 7],
                      "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]},
        "discriminator": {"mpd": {"channels_scale": 0.125}, "msd": {"channels_scale": 0.125}},
        "train": {"max_steps": 16000, "batch_size": 4, "loss": "lsgan", "fm_weight": 2.0, "reuse_fakes": True,
                  "adv_start_step": 14000, "optimizer": "adamw", "g_lr": 2e-3, "d_lr": 2e-4, "betas": [0.8, 0.99],
                  "lr_schedule": "exponential", "lr_decay": 0.999, "ema_decay": 0.0, "device": "cpu",
                  "cpu_threads": 1, "log_every": 100, "val_every": 500, "ckpt_every": 1000, "keep_last": 2,
                  "early_stop_metric": "mel_l1", "early_stop_mode": "min", "max_minutes": 30.0},
    },
    "v1": _published("v1"),
    "v2": _published("v2"),
    "v3": _published("v3"),
}


def train(cfg: HiFiGANRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    return train_vocoder(cfg, run, recipe=NAME)


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(HiFiGANRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out=f"runs/{NAME}", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
