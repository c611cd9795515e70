"""HiFi-GAN vocoder on LJ Speech (or any folder of single-speaker 22.05 kHz clips).

    python recipes/ljspeech_hifigan.py --data ../shared/data/ljspeech-mini/wavs --out runs/ljspeech_hifigan
    python recipes/ljspeech_hifigan.py --data LJSpeech-1.1/wavs --preset v1 --out runs/hifigan_v1 train.mixed_precision=bf16
    python recipes/ljspeech_hifigan.py --data ... --out runs/hifigan_v1 --resume            # continue exactly
    python recipes/ljspeech_hifigan.py --data NEW_SPEAKER --preset v1 --out runs/ft --init-from runs/hifigan_v1

Presets: ``cpu`` (a small V3-style generator and discriminators at 1/8 width, mel-only warm-up, about 30
minutes on 2 cores), ``v1``/``v2``/``v3`` (the published generators, full MPD + MSD, batch 16, for GPUs).
The recipe splits the clips into training and validation (deterministic, ``run_dir/split.json``), trains
with LSGAN + feature matching (2) + full-band mel L1 (45), AdamW (2e-4, betas 0.8/0.99) decayed by 0.999
per epoch, and validates on the full held-out clips (mel L1, multi-resolution STFT, wideband PESQ, each
beside a Griffin-Lim baseline of the same mels). The best mel L1 is exported; ``metrics.json`` scores it
and ``samples/`` holds its validation clips.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import multigan
from multigan.audio.hifigan import HIFIGAN_CONFIGS, HiFiGANConfigError, HiFiGANDiscriminator, validate_generator_config
from multigan.audio.io import save_wav
from multigan.audio.vocoder import Vocoder
from multigan.audio.vocoder_metrics import GriffinLimBaseline, VocoderValidator
from multigan.audio.vocoder_train import (VocoderDataError, build_trainer, load_clips, split_clips, steps_per_epoch,
                                          validation_clips)
from multigan.config import ConfigError
from multigan.recipe import RunArgs, run_recipe

log = logging.getLogger("multigan")
_V1 = HIFIGAN_CONFIGS["v1"]


@dataclass
class DataConfig:
    """The wav folder, the split and the training crops."""

    path: str = ""  # folder of clips (--data)
    segment: int = 8192  # samples per training crop (a multiple of mel.hop_size)
    val_clips: int = 3  # held-out clips, scored at full length
    split_seed: int = 0
    repeats: int = 1  # random crops of each clip per epoch (1 = the published epoch over all of LJ Speech)
    normalize: bool = True  # peak-normalise every clip to 0.95, as the published loader does


@dataclass
class MelConfig:
    """The generator's input features; the mel loss uses the same with ``fmax = loss_fmax``."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_size: int = 256
    win_size: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: Optional[float] = 8000.0
    loss_fmax: Optional[float] = None  # None: full band (published)

    def input_settings(self) -> dict:
        """The :class:`~multigan.audio.hifigan.MelExtractor` settings of the generator input."""
        d = asdict(self)
        d.pop("loss_fmax")
        return d


@dataclass
class GeneratorConfig:
    """HiFi-GAN generator hyper-parameters (default: V1). ``prod(upsample_rates)`` must equal mel.hop_size."""

    resblock: int = 1  # 1 (V1/V2) or 2 (V3)
    upsample_rates: list[int] = field(default_factory=lambda: list(_V1["upsample_rates"]))
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["upsample_kernel_sizes"]))
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["resblock_kernel_sizes"]))
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [list(d) for d in _V1["resblock_dilation_sizes"]])


@dataclass
class DiscriminatorConfig:
    """MPD + MSD; the channel scales shrink every width (1.0 = published)."""

    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    num_scales: int = 3
    mpd_channels_scale: float = 1.0
    msd_channels_scale: float = 1.0


@dataclass
class ObjectiveConfig:
    """Generator loss weights beside train.fm_weight / train.adv_weight, and the LR schedule unit."""

    mel_weight: float = 45.0
    stft_weight: float = 0.0  # > 0: add the multi-resolution STFT distance (Parallel WaveGAN) to G's loss
    lr_decay_per_epoch: bool = True  # set train.lr_decay_every to the steps of one epoch


@dataclass
class EvalConfig:
    """Validation metrics."""

    pesq: bool = True
    griffin_lim: bool = True
    griffin_lim_iters: int = 64
    log_clips: int = 1  # validation clips logged to TensorBoard as audio and mel images


@dataclass
class HiFiGANRecipeConfig:
    """Everything the recipe reads."""

    data: DataConfig = field(default_factory=DataConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

    def validate(self) -> None:
        """Cross-section checks at config load (the upsampling/hop rule first: the most common mistake)."""
        g = self.generator
        try:
            validate_generator_config(g.upsample_rates, g.upsample_kernel_sizes, self.mel.hop_size, g.resblock,
                                      g.resblock_kernel_sizes, g.resblock_dilation_sizes,
                                      g.upsample_initial_channel, self.mel.n_mels)
        except HiFiGANConfigError as exc:
            raise ConfigError(f"generator: {exc} (keys generator.upsample_rates, generator.upsample_kernel_sizes, "
                              "mel.hop_size)") from None
        if self.data.segment % self.mel.hop_size:
            raise ConfigError(f"data.segment={self.data.segment} must be a multiple of mel.hop_size={self.mel.hop_size}")
        if self.mel.fmax is not None and self.mel.fmax > self.mel.sample_rate / 2:
            raise ConfigError(f"mel.fmax={self.mel.fmax} is above the Nyquist frequency {self.mel.sample_rate / 2}")


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


def _write_split(run: RunArgs, train_names: list[str], val_names: list[str], seed: int) -> None:
    """Record the split; a resumed run must see the same one."""
    path = run.out / "split.json"
    split = {"seed": seed, "validation": val_names, "train": train_names}
    if run.resume and path.is_file():
        saved = json.loads(path.read_text())
        if saved != split:
            raise VocoderDataError(f"--resume: the clips in --data no longer give the split recorded in {path} "
                                   "(files were added, removed or renamed); resume with the original folder")
    path.write_text(json.dumps(split, indent=2) + "\n")


def train(cfg: HiFiGANRecipeConfig, run: RunArgs) -> dict:
    """Split, train, export the best mel L1, then score the export (metrics.json, samples/)."""
    start = time.monotonic()
    if not cfg.data.path:
        raise ConfigError("no training data: pass --data WAV_FOLDER (or data.path=...)")
    multigan.rng.seed_everything(cfg.train.seed)
    mel_cfg = cfg.mel.input_settings()
    clips = load_clips(cfg.data.path, cfg.mel.sample_rate, cfg.data.normalize, min_samples=2 * cfg.mel.hop_size)
    train_clips, val_clips = split_clips(clips, cfg.data.val_clips, cfg.data.split_seed)
    if _is_main():
        _write_split(run, [n for n, _ in train_clips], [n for n, _ in val_clips], cfg.data.split_seed)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    epoch_steps = steps_per_epoch(len(train_clips), cfg.data.repeats, cfg.train.batch_size, world)
    if cfg.objective.lr_decay_per_epoch:
        cfg.train.lr_decay_every = epoch_steps  # derived, not saved: a resume derives the same value
    if epoch_steps < 50 and cfg.train.lr_schedule == "exponential":
        log.warning("one epoch is only %d step(s) (%d clips x data.repeats=%d / batch %d): the per-epoch LR decay "
                    "will be fast; raise data.repeats for a small dataset", epoch_steps, len(train_clips),
                    cfg.data.repeats, cfg.train.batch_size)
    vocoder = Vocoder(generator=asdict(cfg.generator), mel=mel_cfg)
    d = cfg.discriminator
    disc = HiFiGANDiscriminator(periods=d.periods, num_scales=d.num_scales, mpd_channels_scale=d.mpd_channels_scale,
                                msd_channels_scale=d.msd_channels_scale)
    gl = GriffinLimBaseline(mel_cfg, n_iter=cfg.eval.griffin_lim_iters) if cfg.eval.griffin_lim else None
    validator = VocoderValidator(validation_clips(val_clips, mel_cfg), mel_cfg, cfg.mel.loss_fmax,
                                 with_pesq=cfg.eval.pesq, griffin_lim=gl, log_clips=cfg.eval.log_clips)
    if _is_main():
        validator.baseline(run.out)  # once per validation set, cached in run_dir/griffin_lim
    log.info("%d training clips (%d steps per epoch, LR x%.4g every %d steps), %d validation clips; G %.2f M, "
             "D %.2f M parameters", len(train_clips), epoch_steps, cfg.train.lr_decay, cfg.train.lr_decay_every,
             len(val_clips), _millions(vocoder), _millions(disc))
    trainer = build_trainer(vocoder, disc, cfg.train, train_clips, run.out, segment=cfg.data.segment,
                            mel_weight=cfg.objective.mel_weight, stft_weight=cfg.objective.stft_weight,
                            loss_fmax=cfg.mel.loss_fmax,
                            repeats=cfg.data.repeats, validate=validator,
                            meta={"recipe": "ljspeech_hifigan", "preset": run.preset})
    if run.init_from:
        trainer.init_weights_from(run.init_from)
    fit_start = time.perf_counter()
    result = trainer.fit(resume=run.resume)
    seconds = time.perf_counter() - fit_start
    if not trainer.rt.is_main:
        return {}
    exported = multigan.load(run.out)
    metrics, wavs = validator.evaluate(exported.generate, "cpu", run.out)
    for clip, wav in zip(validator.clips, wavs):
        save_wav(run.out / "samples" / clip.name.replace("/", "_"), wav, cfg.mel.sample_rate)
    summary = {"export_step": exported.export_meta["step"], "steps": result.step,
               "train_seconds": round(seconds, 1), "total_seconds": round(time.monotonic() - start, 1),
               "preset": run.preset,
               **{k: round(v, 4) for k, v in metrics.items()}}
    (run.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("export (step %d): mel L1 %.4f (Griffin-Lim %.4f), PESQ %s (Griffin-Lim %s)", summary["export_step"],
             metrics["mel_l1"], metrics.get("gl_mel_l1", float("nan")), _fmt(metrics.get("pesq")),
             _fmt(metrics.get("gl_pesq")))
    print(json.dumps(summary))
    return summary


def _millions(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def add_arguments(parser) -> None:
    """``--data WAV_FOLDER`` and ``--minutes M``."""
    parser.add_argument("--data", help="folder of training clips (data.path)")
    parser.add_argument("--minutes", type=float, help="wall-clock budget of this invocation (train.max_minutes; the cpu preset has 30)")


def apply_arguments(args) -> list[str]:
    """``--data`` / ``--minutes`` become the overrides ``data.path=...`` / ``train.max_minutes=...``."""
    out = [f"data.path={args.data}"] if args.data else []
    return out + ([f"train.max_minutes={args.minutes}"] if args.minutes is not None else [])


def main(argv=None) -> dict:
    """Entry point (also used by tests)."""
    return run_recipe(HiFiGANRecipeConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/ljspeech_hifigan", add_arguments=add_arguments,
                      apply_arguments=apply_arguments,
                      outputs=("split.json", "griffin_lim", "samples"), argv=argv)


if __name__ == "__main__":
    main()
