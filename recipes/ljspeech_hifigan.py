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
The recipe splits the clips into training and validation (deterministic, ``run_dir/split.json``), trains
with LSGAN + feature matching (2) + full-band mel L1 (45), AdamW (2e-4, betas 0.8/0.99) decayed by 0.999
per epoch, and validates on the full held-out clips (mel L1, multi-resolution STFT, wideband PESQ, each
beside a Griffin-Lim baseline of the same mels). The best mel L1 is exported; ``metrics.json`` scores it
and ``samples/`` holds its validation clips.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated

from torch import nn

import multigan
from multigan.audio.hifigan import HIFIGAN_CONFIGS, HiFiGANDiscriminator
from multigan.audio.stft_discriminator import CombinedDiscriminator, MultiResolutionDiscriminator
from multigan.audio.vocoder import Vocoder, check_generator_config
from multigan.audio.vocoder_training import (RECIPE_WIRING, VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                             train_vocoder)
from multigan.config import AtLeastOne, ConfigError, NonNegative, Positive
from multigan.errors import MultiganError
from multigan.recipe import RunArgs, run_recipe

_V1 = HIFIGAN_CONFIGS["v1"]


@dataclass
class GeneratorConfig:
    """HiFi-GAN generator hyper-parameters (default: V1). ``prod(upsample_rates)`` must equal mel.hop_size."""

    resblock: int = 1  # 1 (V1/V2) or 2 (V3)
    upsample_rates: list[int] = field(default_factory=lambda: list(_V1["upsample_rates"]))
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["upsample_kernel_sizes"]))
    upsample_initial_channel: Annotated[int, AtLeastOne] = 512
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["resblock_kernel_sizes"]))
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [list(d) for d in _V1["resblock_dilation_sizes"]])


@dataclass
class DiscriminatorConfig:
    """MPD + MSD; the channel scales shrink every width (1.0 = published)."""

    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    num_scales: Annotated[int, NonNegative] = 3
    mpd_channels_scale: Annotated[float, Positive] = 1.0
    msd_channels_scale: Annotated[float, Positive] = 1.0
    mrd: bool = False  # also UnivNet's multi-resolution STFT discriminator (as Vocos trains), after MPD + MSD
    mrd_channels_scale: Annotated[float, Positive] = 1.0
    mrd_weight: Annotated[float, Positive] = 1.0  # factor on G's losses from the MRD (Vocos: 0.1)


@dataclass
class HiFiGANRecipeConfig:
    """Everything the recipe reads."""

    data: VocoderData = field(default_factory=VocoderData)
    mel: VocoderMel = field(default_factory=VocoderMel)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    objective: VocoderObjective = field(default_factory=VocoderObjective)
    eval: VocoderEval = field(default_factory=VocoderEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load (the upsampling/hop rule first: the most common mistake)."""
        try:
            check_generator_config(asdict(self.generator), self.mel.input_settings(), "hifigan")
        except MultiganError as exc:
            raise ConfigError(f"generator: {exc} (keys generator.upsample_rates, generator.upsample_kernel_sizes, "
                              "mel.hop_size)") from None
        if self.data.segment % self.mel.hop_size:
            raise ConfigError(f"data.segment={self.data.segment} must be a multiple of mel.hop_size={self.mel.hop_size}")


def _published(preset: str) -> dict:
    g = HIFIGAN_CONFIGS[preset]
    return {
        "data": {"repeats": 1},
        "generator": {"resblock": int(g["resblock"]), "upsample_rates": g["upsample_rates"],
                      "upsample_kernel_sizes": g["upsample_kernel_sizes"],
                      "upsample_initial_channel": g["upsample_initial_channel"],
                      "resblock_kernel_sizes": g["resblock_kernel_sizes"],
                      "resblock_dilation_sizes": g["resblock_dilation_sizes"]},
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
        "discriminator": {"mpd_channels_scale": 0.125, "msd_channels_scale": 0.125},
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


def build_models(cfg: HiFiGANRecipeConfig) -> tuple[Vocoder, nn.Module]:
    """The HiFi-GAN vocoder of ``cfg.generator`` on ``cfg.mel``, and MPD + MSD (+ MRD with ``discriminator.mrd``)."""
    vocoder = Vocoder(generator=asdict(cfg.generator), mel=cfg.mel.input_settings(), generator_class="hifigan")
    d = cfg.discriminator
    disc = HiFiGANDiscriminator(periods=d.periods, num_scales=d.num_scales, mpd_channels_scale=d.mpd_channels_scale,
                                msd_channels_scale=d.msd_channels_scale)
    if d.mrd:
        mrd = MultiResolutionDiscriminator(channels_scale=d.mrd_channels_scale)
        return vocoder, CombinedDiscriminator([disc, mrd], [1.0, d.mrd_weight])
    return vocoder, disc


def train(cfg: HiFiGANRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    return train_vocoder(cfg, run, lambda: build_models(cfg), recipe="ljspeech_hifigan")


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(HiFiGANRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/ljspeech_hifigan", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
