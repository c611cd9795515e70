"""Vocos vocoder on LJ Speech (or any folder of single-speaker 22.05 kHz clips).

    python recipes/ljspeech_vocos.py --data ../shared/data/ljspeech-mini/wavs --preset vocos-cpu --out runs/vocos_cpu
    python recipes/ljspeech_vocos.py --data LJSpeech-1.1/wavs --preset vocos --out runs/vocos train.mixed_precision=bf16
    python recipes/ljspeech_vocos.py --data ... --out runs/vocos --resume                 # continue exactly

Presets: ``vocos-cpu`` (a small ConvNeXt backbone, MPD + MRD at 1/8 width, about 30 minutes on 2 cores) and
``vocos`` (the published configuration for a GPU: dim 512 / 1536 / 8 layers, MPD + MRD with the MRD's
generator losses x 0.1, hinge loss, feature matching 1, mel L1 45, AdamW 5e-4 betas (0.8, 0.9) with a cosine
schedule, batch 16 of 16,384 samples). The mel front end is the HiFi-GAN LJ Speech one (80 bands, hop 256);
the published Vocos used 100 bands at 24 kHz. Split, validation, export and scoring are those of
``recipes/ljspeech_hifigan.py`` (:func:`multigan.audio.vocoder_training.train_vocoder`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Literal, Optional

import multigan
from multigan.audio.hifigan import MultiPeriodDiscriminator
from multigan.audio.stft_discriminator import (DEFAULT_MRD_RESOLUTIONS, CombinedDiscriminator,
                                               MultiResolutionDiscriminator)
from multigan.audio.vocoder import Vocoder, check_generator_config
from multigan.audio.vocoder_training import (RECIPE_WIRING, VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                             train_vocoder)
from multigan.config import AtLeastOne, ConfigError, Positive
from multigan.errors import MultiganError
from multigan.recipe import RunArgs, run_recipe


@dataclass
class GeneratorConfig:
    """Vocos backbone and head (default: the published mel configuration); n_fft None = 4 * mel.hop_size."""

    dim: Annotated[int, AtLeastOne] = 512
    intermediate_dim: Annotated[int, AtLeastOne] = 1536
    num_layers: Annotated[int, AtLeastOne] = 8
    n_fft: Optional[int] = None


@dataclass
class DiscriminatorConfig:
    """MPD + MRD (published); the channel scales shrink every width (1.0 = published)."""

    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    mpd_channels_scale: Annotated[float, Positive] = 1.0
    resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in DEFAULT_MRD_RESOLUTIONS])
    mrd_channels: Annotated[int, AtLeastOne] = 64
    mrd_channels_scale: Annotated[float, Positive] = 1.0
    mrd_weight: Annotated[float, Positive] = 0.1  # factor on G's losses from the MRD (Vocos' mrd_loss_coeff)
    mrd_window: Literal["rect", "hann"] = "rect"  # "rect": the reference's torch.stft without a window


@dataclass
class VocosRecipeConfig:
    """Everything the recipe reads."""

    data: VocoderData = field(default_factory=lambda: VocoderData(segment=16384))
    mel: VocoderMel = field(default_factory=VocoderMel)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    objective: VocoderObjective = field(default_factory=lambda: VocoderObjective(lr_decay_per_epoch=False))
    eval: VocoderEval = field(default_factory=VocoderEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load: the head's n_fft against mel.hop_size, crops of whole hops."""
        try:
            check_generator_config(asdict(self.generator), self.mel.input_settings(), "vocos")
        except MultiganError as exc:
            raise ConfigError(f"generator: {exc} (keys generator.n_fft, mel.hop_size)") from None
        if self.data.segment % self.mel.hop_size:
            raise ConfigError(f"data.segment={self.data.segment} must be a multiple of "
                              f"mel.hop_size={self.mel.hop_size}")


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
        "discriminator": {"mpd_channels_scale": 0.125, "mrd_channels_scale": 0.125},
        "objective": {"mel_loss": "single", "mel_weight": 45.0},
        "train": {**_TRAIN, "batch_size": 4, "max_steps": 20000, "adv_start_step": 16000, "g_lr": 2e-3,
                  "d_lr": 2e-3, "device": "cpu", "cpu_threads": 1, "log_every": 100, "val_every": 500,
                  "ckpt_every": 1000, "keep_last": 2, "max_minutes": 30.0},
    },
    "vocos": {
        "data": {"segment": 16384, "repeats": 1},
        "objective": {"mel_loss": "single", "mel_weight": 45.0},
        "train": {**_TRAIN, "max_steps": 2_000_000, "device": "auto", "num_workers": 4, "log_every": 100,
                  "val_every": 1000, "ckpt_every": 5000, "keep_last": 3},
    },
}


def build_models(cfg: VocosRecipeConfig) -> tuple[Vocoder, CombinedDiscriminator]:
    """The Vocos vocoder of ``cfg.generator`` on ``cfg.mel``, and MPD + MRD."""
    vocoder = Vocoder(generator=asdict(cfg.generator), mel=cfg.mel.input_settings(), generator_class="vocos")
    d = cfg.discriminator
    mpd = MultiPeriodDiscriminator(d.periods, channels_scale=d.mpd_channels_scale)
    mrd = MultiResolutionDiscriminator(d.resolutions, d.mrd_channels, d.mrd_channels_scale, d.mrd_window)
    return vocoder, CombinedDiscriminator([mpd, mrd], [1.0, d.mrd_weight])


def train(cfg: VocosRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    return train_vocoder(cfg, run, lambda: build_models(cfg), recipe="ljspeech_vocos")


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(VocosRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/ljspeech_vocos", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
