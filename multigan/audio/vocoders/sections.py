"""The config sections every vocoder recipe shares, and the checks across them.

A vocoder recipe's config is a dataclass with the sections ``data`` (:class:`VocoderData`), ``mel``
(:class:`VocoderMel`), ``generator`` (a family's section, e.g. :class:`~multigan.audio.vocoders.hifigan.HiFiGANConfig`),
``discriminator`` (made by :func:`~multigan.audio.vocoders.discriminators.registry.discriminator_section`),
``objective`` (:class:`VocoderObjective`), ``eval`` (:class:`VocoderEval`) and ``train``
(:class:`multigan.TrainConfig`); its ``validate()`` calls :func:`check_vocoder_config`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, Optional

from ...config import AtLeastOne, ConfigError, NonNegative
from ...errors import MultiganError
from .evaluation.protocol import METRICS, enabled_metrics
from .vocoder import VocoderConfigError, check_generator_config, mel_settings

__all__ = ["VocoderData", "VocoderEval", "VocoderMel", "VocoderObjective", "check_vocoder_config"]


@dataclass
class VocoderData:
    """The wav folder, the split and the training crops."""

    path: str = ""  # folder of clips (--data)
    segment: Annotated[int, AtLeastOne] = 8192  # samples per training crop (a multiple of mel.hop_size)
    val_clips: Annotated[int, AtLeastOne] = 3  # held-out clips, scored at full length
    split_seed: int = 0
    val_path: str = ""  # folder of held-out validation clips; set: every clip of path trains, val_clips is unused
    repeats: Annotated[int, AtLeastOne] = 1  # random crops of each clip per epoch (1 = the published epoch)
    normalize: bool = True  # peak-normalise every clip to 0.95, as the published loader does
    # path may also be a text file listing clips or an LJ-Speech metadata.csv; clips are indexed once (headers and
    # peaks, cached) and training crops read lazily (multigan.audio.corpus_index, vocoders.data.lazy)
    skip_bad: bool = False  # skip unusable files (named in a warning) instead of stopping with one error listing them
    in_memory: bool = False  # decode every training clip at start (the earlier loader; same crops)
    index_cache: str = ""  # folder of the corpus index cache ("" = $MULTIGAN_CACHE or ~/.cache/multigan)
    index_workers: int = 0  # processes reading clip headers on a first run (0 = one per CPU core, at most 8)
    # folder of an acoustic model's mels, one per training clip (same relative path and stem, .npy/.safetensors/.pt):
    # train on those instead of computed mels (ground-truth-aligned fine-tuning, vocoders.data.aligned); needs
    # normalize=false. Validation still uses mels computed from the held-out audio.
    mel_path: str = ""


@dataclass
class VocoderMel:
    """The generator's input features; the mel loss uses the same with ``fmax = loss_fmax``."""

    sample_rate: Annotated[int, AtLeastOne] = 22050
    n_fft: Annotated[int, AtLeastOne] = 1024
    hop_size: Annotated[int, AtLeastOne] = 256
    win_size: Annotated[int, AtLeastOne] = 1024
    n_mels: Annotated[int, AtLeastOne] = 80
    fmin: Annotated[float, NonNegative] = 0.0
    fmax: Optional[float] = 8000.0
    loss_fmax: Optional[float] = None  # None: full band (published)

    def input_settings(self) -> dict:
        """The vocoder's ``mel`` settings (:meth:`~multigan.audio.features.LogMel.from_settings`) of the input."""
        d = asdict(self)
        d.pop("loss_fmax")
        return d

    def validate(self) -> None:
        """The front end's rules (:func:`~multigan.audio.vocoders.vocoder.mel_settings`), checked when the config
        loads."""
        try:
            mel_settings(self.input_settings())
        except VocoderConfigError as exc:
            raise ConfigError(str(exc)) from None


@dataclass
class VocoderObjective:
    """Generator loss weights beside train.fm_weight / train.adv_weight, and the LR schedule unit."""

    mel_weight: Annotated[float, NonNegative] = 45.0
    stft_weight: Annotated[float, NonNegative] = 0.0  # > 0: add the multi-resolution STFT distance (Parallel WaveGAN)
    # "single": L1 of the loss mel (HiFi-GAN, Vocos; weight 45); "multiscale": DAC / BigVGAN v2 mel windows
    # 32-2048 with 5-320 bands, log10, summed over scales (published weight 15; losses.MultiScaleMelL1)
    mel_loss: Literal["single", "multiscale"] = "single"
    lr_decay_per_epoch: bool = True  # decay once per epoch: the run derives lr_decay_every from the epoch (not saved)


@dataclass
class VocoderEval:
    """Validation metrics."""

    pesq: bool = True
    # periodicity RMSE, V/UV F1 and pitch RMSE with CREPE ("tiny": ~15x faster on a CPU; "full": the published
    # protocol's model); "none": off. Either can then pick the best checkpoint (train.early_stop_metric=periodicity)
    pitch: Literal["none", "tiny", "full"] = "none"
    mos: bool = False  # the predicted MOS (DistillMOS, weights in its wheel) of every validation clip
    griffin_lim: bool = True
    griffin_lim_iters: int = 100  # fast Griffin-Lim iterations of the baseline (librosa mel_to_audio: 32)
    log_clips: int = 1  # validation clips logged to TensorBoard as audio and mel images
    report: bool = True  # at the end: report.json + the listening page report.html (the export beside Griffin-Lim)


def check_vocoder_config(cfg: Any) -> None:
    """Cross-section checks of a vocoder recipe's config, when it loads (the upsampling/hop rule first: the most
    common mistake): the ``generator`` section against the family's rules and ``mel``, crops of whole hops.

    Raises :class:`~multigan.config.ConfigError` naming the keys.
    """
    gen = cfg.generator
    try:
        check_generator_config(asdict(gen), cfg.mel.input_settings(), type(gen).family)
    except MultiganError as exc:
        raise ConfigError(f"generator: {exc} (keys {type(gen).keys})") from None
    if cfg.data.segment % cfg.mel.hop_size:
        raise ConfigError(f"data.segment={cfg.data.segment} must be a multiple of mel.hop_size={cfg.mel.hop_size}")
    _check_selection_metric(cfg.train.early_stop_metric, cfg.train.early_stop_mode, cfg.eval)


#: Validation keys of earlier versions, and what they are called now.
RENAMED_METRICS = {"pesq": "pesq_wb", "mrstft": "mr_stft"}


def validation_metrics(ev: VocoderEval) -> list[str]:
    """The protocol metrics a vocoder validation with settings ``ev`` reports (its scorer's keys)."""
    return enabled_metrics(pesq=ev.pesq, pitch=ev.pitch != "none", mos=ev.mos, input_band=True)


def _check_selection_metric(metric: str, mode: str, ev: VocoderEval) -> None:
    """``train.early_stop_metric`` must be reported by the validation and selected in its better direction."""
    if metric in RENAMED_METRICS:
        raise ConfigError(f"train.early_stop_metric={metric}: the validation metric is now called "
                          f"{RENAMED_METRICS[metric]}")
    if metric not in METRICS:
        return  # cpu_seconds, gl_gap_*, ...: the trainer names a metric that never appears
    if metric not in validation_metrics(ev):
        switch = {"pesq_wb": "eval.pesq=true", "mos": "eval.mos=true"}.get(metric, "eval.pitch=tiny (or full)")
        raise ConfigError(f"train.early_stop_metric={metric} is not computed by this validation: set {switch}")
    better = "max" if METRICS[metric].higher_is_better else "min"
    if mode != better:
        raise ConfigError(f"train.early_stop_mode={mode}: {metric} is better when "
                          f"{'higher' if better == 'max' else 'lower'}; use train.early_stop_mode={better}")
