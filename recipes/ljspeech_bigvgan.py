"""BigVGAN-v2 vocoder on LJ Speech (or any folder of single-speaker clips; resampled to the preset's rate).

    python recipes/ljspeech_bigvgan.py --data ../shared/data/ljspeech-mini/wavs --preset bigvgan-cpu --out runs/bigvgan_cpu
    python recipes/ljspeech_bigvgan.py --data LibriTTS/wavs --preset bigvgan-v2-24k --out runs/bigvgan_24k
    python recipes/ljspeech_bigvgan.py --data ... --out runs/bigvgan_24k --resume                    # continue exactly
    python recipes/ljspeech_bigvgan.py --preset bigvgan-v2-24k --config runs/imported/finetune.yaml --data MY_WAVS \\
        --out runs/ft --init-from runs/imported            # fine-tune an import-checkpoint bigvgan run

Presets (NVIDIA/BigVGAN v2.4 ``configs/bigvgan_v2_*.json``): ``bigvgan-v2-22k`` (22.05 kHz, 80 bands, fmax 8 kHz,
256x), ``bigvgan-v2-24k`` (24 kHz, 100 bands, full band, 256x), ``bigvgan-v2-44k`` (44.1 kHz, 128 bands, n_fft
2048, 512x): the 112 M-parameter generator (AMP blocks, SnakeBeta with log-scale parameters, no final tanh or
bias), MPD + the multi-scale sub-band CQT discriminator, LSGAN, feature matching 2, multi-scale mel loss x 15,
AdamW 1e-4 betas (0.8, 0.99) decayed by 0.9999996 per epoch, gradient norm clipped at 500, 65,536-sample crops,
batch 4, 5 M steps; they run in bf16 (``train.mixed_precision=no`` for the published fp32) and keep no EMA as
published (``train.ema_decay=0.999`` adds one). ``bigvgan-cpu``: a small generator (rates 8-8-4, 64 channels,
AMP block 2) with MPD + a narrow CQTD, a mel-only warm-up, 30 minutes on 2 cores. Discriminators are listed by
name (``discriminator.use=[mpd,mbd]``, ``[mpd,mrd] discriminator.mrd.layout=bigvgan`` for BigVGAN v1's MRD).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import multigan
from multigan.audio.vocoders.bigvgan import BigVGANConfig
from multigan.audio.vocoders.discriminators.registry import discriminator_section
from multigan.audio.vocoders.sections import (VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                              check_vocoder_config)
from multigan.audio.vocoders.training import RECIPE_WIRING, train_vocoder
from multigan.config import ConfigError
from multigan.recipe import RunArgs, run_recipe

NAME = "ljspeech_bigvgan"

#: MPD + the CQT discriminator, weighted equally (BigVGAN-v2's use_cqtd_instead_of_mrd).
BigVGANDiscriminators = discriminator_section(["mpd", "cqt"], [1.0, 1.0], "BigVGANDiscriminators", __name__)


@dataclass
class BigVGANRecipeConfig:
    """Everything the recipe reads."""

    data: VocoderData = field(default_factory=lambda: VocoderData(segment=65536))
    mel: VocoderMel = field(default_factory=VocoderMel)
    generator: BigVGANConfig = field(default_factory=BigVGANConfig)
    discriminator: BigVGANDiscriminators = field(default_factory=BigVGANDiscriminators)
    objective: VocoderObjective = field(default_factory=lambda: VocoderObjective(mel_weight=15.0,
                                                                                 mel_loss="multiscale"))
    eval: VocoderEval = field(default_factory=VocoderEval)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load: upsampling against mel.hop_size, whole-hop crops, the CQT
        discriminator's sample rate against the mel front end's."""
        check_vocoder_config(self)
        cqt = self.discriminator.cqt
        if "cqt" in self.discriminator.use and cqt.sample_rate != self.mel.sample_rate:
            raise ConfigError(f"discriminator.cqt.sample_rate={cqt.sample_rate} differs from mel.sample_rate="
                              f"{self.mel.sample_rate}: set discriminator.cqt.sample_rate={self.mel.sample_rate}")


_TRAIN = {"batch_size": 4, "loss": "lsgan", "fm_weight": 2.0, "reuse_fakes": True, "optimizer": "adamw",
          "g_lr": 1e-4, "d_lr": 1e-4, "betas": [0.8, 0.99], "lr_schedule": "exponential", "lr_decay": 0.9999996,
          "grad_clip": 500.0, "ema_decay": 0.0, "early_stop_metric": "mel_l1", "early_stop_mode": "min"}


def _published(sample_rate: int, n_mels: int, fmax, n_fft: int = 1024, hop: int = 256, preset: str = "v2") -> dict:
    return {
        "data": {"segment": 65536, "repeats": 1},
        "mel": {"sample_rate": sample_rate, "n_fft": n_fft, "hop_size": hop, "win_size": n_fft, "n_mels": n_mels,
                "fmin": 0.0, "fmax": fmax, "loss_fmax": None},
        "generator": BigVGANConfig.preset(preset),
        "discriminator": {"use": ["mpd", "cqt"], "weights": [1.0, 1.0], "cqt": {"sample_rate": sample_rate}},
        "objective": {"mel_loss": "multiscale", "mel_weight": 15.0},
        "eval": {"pitch": "tiny", "mos": True},  # the protocol's periodicity, V/UV F1 and predicted MOS
        "train": {**_TRAIN, "max_steps": 5_000_000, "mixed_precision": "bf16", "device": "auto", "num_workers": 4,
                  "log_every": 100, "val_every": 1000, "ckpt_every": 5000, "keep_last": 3},
    }


PRESETS = {
    # about 30 minutes (train.max_minutes) on 2 shared CPU cores, one thread. Step costs measured on this machine
    # (batch 4 x 8,192 samples, one thread): G forward + backward 0.3 s; MPD at 1/8 width 0.08 s; this CQTD
    # (16-128 filters) 0.6 s. Mel-only warm-up for 1,500 steps (the single mel L1, as the other CPU presets),
    # then MPD + CQTD. The settings are chosen from those timings, not tuned by a quality sweep.
    "bigvgan-cpu": {
        "data": {"segment": 8192, "repeats": 16},
        "generator": {"resblock": 2, "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
                      "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 5, 7],
                      "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]], "activation": "snakebeta",
                      "snake_logscale": True, "use_tanh_at_final": False, "use_bias_at_final": False},
        "discriminator": {"use": ["mpd", "cqt"], "weights": [1.0, 1.0], "mpd": {"channels_scale": 0.125},
                          "cqt": {"sample_rate": 22050, "filters": 16, "max_filters": 128}},
        "objective": {"mel_loss": "single", "mel_weight": 45.0},
        "train": {**_TRAIN, "max_steps": 2500, "adv_start_step": 1500, "g_lr": 1e-3, "d_lr": 2e-4,
                  "lr_decay": 0.999, "device": "cpu", "cpu_threads": 1, "log_every": 100, "val_every": 250,
                  "ckpt_every": 500, "keep_last": 2, "max_minutes": 30.0},
    },
    "bigvgan-v2-22k": _published(22050, 80, 8000.0),
    "bigvgan-v2-24k": _published(24000, 100, None),
    "bigvgan-v2-44k": _published(44100, 128, None, n_fft=2048, hop=512, preset="v2-512x"),
}


def train(cfg: BigVGANRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    return train_vocoder(cfg, run, recipe=NAME)


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(BigVGANRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out=f"runs/{NAME}", argv=argv, **RECIPE_WIRING)


if __name__ == "__main__":
    main()
