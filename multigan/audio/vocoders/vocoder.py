"""A trained neural vocoder as one object: mel -> waveform, and the exact mel front end it was trained with.

    voc = multigan.load("runs/hifigan")                # safetensors + JSON, no pickle
    wav = voc(mel)                                     # log-mel [B, 80, frames] -> waveform [B, frames * 256]
    mel = voc.mel(audio)                               # the feature extractor the vocoder was trained on
    wav = voc.resynthesize(audio, sample_rate)         # any clip: resampled to voc.sample_rate, mel, vocoded
    voc.vocode_file("in.wav", "out.wav")
    for audio in voc.stream(mel_chunks): ...           # exact chunked vocoding (multigan.audio.vocoders.streaming)

:class:`Vocoder` wraps any generator family of :data:`~multigan.audio.vocoders.registry.GENERATORS` (``net``,
chosen by name) and the :class:`~multigan.audio.features.LogMel` front end of its ``mel`` settings
(``mel_extractor``), computed as its :class:`~multigan.audio.mel_front_end.MelFrontEnd` describes (``front_end``:
HiFi-GAN's and BigVGAN's, or Vocos'). The configurations and the family's name are constructor arguments, so an
export rebuilds the pair; mels that look made by another front end are named in a warning. What a family must
provide is described in :mod:`multigan.audio.vocoders.registry`; the ``multigan vocode`` sub-command is in
:mod:`multigan.audio.vocoders.cli`.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor

from ...errors import MultiganError
from ...generator import ExportableGenerator
from ..features import LogMel, waveform_batch
from ..mel_front_end import MelFrontEnd, resolve_front_end
from ..io import check_wav_name, info, load_audio, resample, save_wav
from .mel_input import check_mel_input, check_mel_statistics, read_mel_file
from .registry import VocoderConfigError, generator_family
from .streaming import frame_context, stream_vocode

__all__ = ["DEFAULT_MEL", "Vocoder", "VocoderConfigError", "check_generator_config", "mel_settings"]

#: The published HiFi-GAN (LJ Speech) input features: 80 mels, n_fft 1024, hop 256, win 1024, 0-8 kHz.
DEFAULT_MEL: dict[str, Any] = {
    "sample_rate": 22050,
    "n_fft": 1024,
    "hop_size": 256,
    "win_size": 1024,
    "n_mels": 80,
    "fmin": 0.0,
    "fmax": 8000.0,
}

_INT_KEYS = ("sample_rate", "n_fft", "hop_size", "win_size", "n_mels")
AudioLike = Union[Tensor, np.ndarray]


def mel_settings(mel: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``mel`` completed with :data:`DEFAULT_MEL`, typed and checked; raises :class:`VocoderConfigError`.

    Checks: known keys only, ``win_size <= n_fft``, ``1 <= hop_size <= n_fft`` and
    ``0 <= fmin < fmax <= sample_rate / 2`` (``fmax=None``: the full band).
    """
    unknown = sorted(set(mel or {}) - set(DEFAULT_MEL))
    if unknown:
        raise VocoderConfigError(f"unknown mel setting(s) {unknown}; valid: {list(DEFAULT_MEL)}")
    cfg = {**DEFAULT_MEL, **(mel or {})}
    cfg = {k: int(v) if k in _INT_KEYS else v for k, v in cfg.items()}
    cfg["fmin"] = float(cfg["fmin"])
    cfg["fmax"] = None if cfg["fmax"] is None else float(cfg["fmax"])
    nyquist = cfg["sample_rate"] / 2
    if cfg["win_size"] > cfg["n_fft"]:
        raise VocoderConfigError(f"win_size={cfg['win_size']} must be <= n_fft={cfg['n_fft']}")
    if not 1 <= cfg["hop_size"] <= cfg["n_fft"]:
        raise VocoderConfigError(f"hop_size={cfg['hop_size']} must be in [1, n_fft={cfg['n_fft']}]")
    if cfg["fmax"] is not None and cfg["fmax"] > nyquist:
        raise VocoderConfigError(f"fmax={cfg['fmax']} is above the Nyquist frequency {nyquist}")
    if not 0 <= cfg["fmin"] < (nyquist if cfg["fmax"] is None else cfg["fmax"]):
        raise VocoderConfigError(f"fmin={cfg['fmin']} must be in [0, fmax={cfg['fmax']})")
    return cfg


def _generator_settings(generator: Optional[Mapping[str, Any]], mel: Mapping[str, Any],
                        generator_class: str = "hifigan") -> dict[str, Any]:
    """``generator`` with ``n_mels`` and ``hop_size`` taken from the (completed) ``mel`` settings; a setting
    the family's constructor does not take (HiFi-GAN's ``resblock`` given to Vocos) is a clear error."""
    settings = dict(generator or {})
    accepted = inspect.signature(generator_family(generator_class).__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(settings) - set(accepted))
        if unknown:
            valid = sorted(k for k in accepted if k not in ("self", "n_mels", "hop_size"))
            raise VocoderConfigError(f"generator setting(s) {unknown} do not belong to the {generator_class!r} "
                                     f"family; its settings: {valid}")
    for key in ("n_mels", "hop_size"):
        if key in settings and int(settings[key]) != mel[key]:
            raise VocoderConfigError(
                f"generator {key}={settings[key]} differs from the mel front end's {key}={mel[key]}: "
                "the generator turns one mel frame into hop_size samples, so both must agree")
        settings[key] = mel[key]
    return settings


def check_generator_config(generator: Optional[Mapping[str, Any]], mel: Mapping[str, Any],
                           generator_class: str = "hifigan") -> None:
    """Check generator settings against completed ``mel`` settings without building the network.

    Runs the family's own ``validate_config`` (e.g. HiFi-GAN's ``prod(upsample_rates) == hop_size``): what a
    recipe calls when its config is loaded. Raises :class:`VocoderConfigError` or the family's error.
    """
    generator_family(generator_class).validate_config(**_generator_settings(generator, mel, generator_class))


class Vocoder(ExportableGenerator):
    """A vocoder generator bundled with its input feature extractor.

    Args:
        generator: keyword arguments of the ``generator_class`` network (default: its defaults, the published
            HiFi-GAN V1); ``n_mels`` and ``hop_size`` are taken from ``mel`` when absent and must agree with
            it when given.
        mel: front-end settings (``sample_rate, n_fft, hop_size, win_size, n_mels, fmin, fmax``), completed
            with :data:`DEFAULT_MEL` (see :func:`mel_settings`).
        generator_class: the family's name in :data:`~multigan.audio.vocoders.registry.GENERATORS` (exports
            without one are HiFi-GAN).
        front_end: how ``mel`` is computed (:class:`~multigan.audio.mel_front_end.MelFrontEnd`, its dict or a
            preset name); ``None`` (exports made before front ends were stored) is HiFi-GAN's. Stored as a dict.

    Raises:
        VocoderConfigError: inconsistent mel settings; the network raises its own error for inconsistent
            generator settings, e.g. ``prod(upsample_rates) != hop_size`` (the message says how to fix it).

    ``forward(noise, cond=mel)`` is the trainer's interface (``noise`` is ``None``: the model is purely
    conditional; ``voc(mel)`` works too) and returns ``[B, frames * hop_size]`` in ``[-1, 1]``.
    """

    def __init__(self, generator: Optional[Mapping[str, Any]] = None, mel: Optional[Mapping[str, Any]] = None,
                 generator_class: str = "hifigan",
                 front_end: Union[None, str, Mapping[str, Any], MelFrontEnd] = None):
        mel_cfg = mel_settings(mel)
        fe = resolve_front_end(front_end)
        net = generator_family(generator_class)(**_generator_settings(generator, mel_cfg, generator_class))
        super().__init__(generator=net.export_config(), mel=mel_cfg, generator_class=generator_class,
                         front_end=fe.to_dict())
        self.net = net
        self.front_end = fe
        self.mel_extractor = LogMel.from_settings(mel_cfg, fe)

    # --- properties -------------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate (Hz) of the audio the vocoder produces and expects."""
        return int(self.config["mel"]["sample_rate"])

    @property
    def hop_size(self) -> int:
        """Samples per mel frame."""
        return int(self.config["mel"]["hop_size"])

    @property
    def n_mels(self) -> int:
        """Mel bins of the input."""
        return int(self.config["mel"]["n_mels"])

    # --- trainer contract --------------------------------------------------------------------------------

    def sample_noise(self, batch: int, device: Union[str, torch.device] = "cpu",
                     generator: Optional[torch.Generator] = None) -> None:
        """A vocoder is purely conditional: no noise."""
        return None

    def forward(self, noise: Optional[Tensor], cond: Optional[Tensor] = None) -> Tensor:
        """Vocode log-mel ``cond`` ``[B, n_mels, frames]`` (or ``voc(mel)``) into ``[B, frames * hop_size]``.

        In eval mode, an exported vocoder warns once (:class:`~multigan.audio.vocoders.mel_input.MelInputWarning`) when the
        mels lie far outside those it was trained on (``export_meta["mel_stats"]``), naming the likely cause.
        """
        if not self.training and (cond if cond is not None else noise) is not None:
            self._check_input(cond if cond is not None else noise)
        return self.net(noise, cond).squeeze(1)

    # --- inference API -------------------------------------------------------------------------------------

    def _as_tensor(self, audio: AudioLike) -> Tensor:
        x = torch.as_tensor(np.asarray(audio) if not isinstance(audio, Tensor) else audio)
        return x.to(device=self.device, dtype=torch.float32)

    @torch.no_grad()
    def mel(self, audio: AudioLike) -> Tensor:
        """The training-time log-mel of ``audio`` (``[T]``, ``[B, T]`` or ``[B, 1, T]`` at :attr:`sample_rate`).

        Returns ``[B, n_mels, T // hop_size]`` for ``T`` a multiple of the hop (``T // hop_size + 1`` with a centred
        front end, ``front_end.padding="center"``, e.g. Vocos').
        """
        return self.mel_extractor(waveform_batch(self._as_tensor(audio)))

    @torch.no_grad()
    def generate(self, mel: Tensor) -> Tensor:
        """``voc(mel)`` without gradients, on the vocoder's device and dtype: ``[B, frames * hop_size]``."""
        p = next(self.parameters())
        return self(None, mel.to(device=p.device, dtype=p.dtype))

    def stream_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` of context the family's receptive field needs; ``right`` is the
        look-ahead (added latency) of :meth:`stream`."""
        return frame_context(self.net)

    def stream(self, mel_chunks: Iterable[Tensor], context: Optional[tuple[int, int]] = None) -> Iterator[Tensor]:
        """Vocode mel chunks as they arrive: yields ``[B, n * hop_size]`` pieces whose concatenation equals
        ``voc(whole mel)`` (to float rounding), for any chunk sizes.

        A frame's audio is yielded once ``right`` more frames have arrived (:meth:`stream_context`; the rest
        when the chunks end). ``context`` overrides the computed one (too little gives seams).
        See :mod:`multigan.audio.vocoders.streaming`.
        """
        p = next(self.parameters())
        ctx = self.stream_context() if context is None else context
        return stream_vocode(lambda mel: self.net(None, mel).squeeze(1), mel_chunks, n_mels=self.n_mels,
                             hop=self.hop_size, context=ctx, device=p.device, dtype=p.dtype)

    def _vocode(self, mel: Tensor, chunk_frames: Optional[int] = None) -> Tensor:
        """:meth:`generate`, or :meth:`stream` over chunks of ``chunk_frames`` frames, concatenated."""
        if not chunk_frames:
            return self.generate(mel)
        if chunk_frames < 1:
            raise MultiganError(f"chunk_frames must be >= 1, got {chunk_frames}")
        mel = mel if mel.dim() == 3 else mel.unsqueeze(0)
        pieces = list(self.stream(mel.split(int(chunk_frames), dim=2)))
        return torch.cat(pieces, dim=1) if pieces else self.generate(mel)

    @torch.no_grad()
    def resynthesize(self, audio: AudioLike, sample_rate: int, chunk_frames: Optional[int] = None) -> Tensor:
        """Analyse and re-synthesise a clip: resample to :attr:`sample_rate`, take :meth:`mel`, vocode.

        Args:
            audio: waveform ``[T]`` or ``[B, T]`` (tensor or array) in ``[-1, 1]``.
            sample_rate: its rate in Hz.
            chunk_frames: vocode through :meth:`stream` in chunks of this many mel frames (the same audio).

        Returns:
            The vocoded waveform at :attr:`sample_rate` (CPU float32), ``[T']`` or ``[B, T']`` where ``T'`` is the
            length of the resampled input (``T`` itself when the rates agree): the input is padded to whole
            hops for the analysis and the output trimmed back.
        """
        x = audio.detach().cpu().float().numpy() if isinstance(audio, Tensor) else np.asarray(audio, np.float32)
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise ValueError(f"resynthesize: expected a non-empty [T] or [B, T] waveform, got shape {x.shape}")
        single = x.ndim == 1
        rows = [resample(np.ascontiguousarray(r), int(sample_rate), self.sample_rate)
                for r in x.reshape(-1, x.shape[-1])]
        y = torch.from_numpy(np.stack(rows))
        length = y.shape[-1]
        frames = -(-length // self.hop_size)
        y = torch.nn.functional.pad(y, (0, frames * self.hop_size - length))
        out = self._vocode(self.mel(y), chunk_frames)[:, :length].float().cpu()
        return out[0] if single else out

    def vocode_file(self, in_wav: Union[str, Path], out_wav: Union[str, Path],
                    chunk_frames: Optional[int] = None) -> Path:
        """Re-synthesise audio file ``in_wav`` (any rate; multi-channel is mixed down) into WAV ``out_wav``
        (streamed in chunks of ``chunk_frames`` mel frames when given)."""
        check_wav_name(out_wav)
        audio = load_audio(in_wav, None)  # checked read at the file's own rate
        rate = info(in_wav).sample_rate
        try:
            wav = self.resynthesize(audio, rate, chunk_frames=chunk_frames)
        except MultiganError as exc:
            raise MultiganError(f"{in_wav}: {exc}") from None
        return save_wav(out_wav, wav, self.sample_rate)

    def vocode_mel_file(self, mel_path: Union[str, Path], out_wav: Union[str, Path],
                        chunk_frames: Optional[int] = None) -> Path:
        """Vocode a mel file made elsewhere (``.npy``, ``.safetensors`` or torch; ``[n_mels, frames]`` or
        ``[frames, n_mels]``, see :func:`~multigan.audio.vocoders.mel_input.read_mel_file`) into WAV ``out_wav``
        (streamed in chunks of ``chunk_frames`` mel frames when given)."""
        check_wav_name(out_wav)
        mel = read_mel_file(mel_path, self.n_mels)
        if chunk_frames:
            self._check_input(mel)  # once, on the whole mel
        return save_wav(out_wav, self._vocode(mel, chunk_frames)[0].float().cpu(), self.sample_rate)

    def _check_input(self, mel: Tensor) -> Optional[str]:
        """Warn once when ``mel`` looks made by another front end or unlike the training mels (see
        :func:`~multigan.audio.vocoders.mel_input.check_mel_input`)."""
        return check_mel_input(mel, getattr(self, "export_meta", {}).get("mel_stats"), front_end=self.front_end,
                               settings=self.config["mel"])

    def remove_weight_norm(self) -> "Vocoder":
        """Fold the network's weight normalisation into plain weights (faster inference); idempotent."""
        self.net.remove_weight_norm()
        return self

    def load_assets(self, folder: Path) -> None:
        """Called by :func:`multigan.load` after the weights: a loaded vocoder is for inference, fold weight norm."""
        self.remove_weight_norm()

    def check_meta(self, meta: dict) -> None:
        """The training-mel statistics an export stores for the input check must be usable."""
        check_mel_statistics(meta.get("mel_stats"), self.n_mels)

    def match_export(self, names: set[str]) -> None:
        """Folded export weights (no weight-norm parametrizations) fold this model first."""
        if (any(".parametrizations." in k for k in self.state_dict())
                and not any(".parametrizations." in k for k in names)):
            self.remove_weight_norm()

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load weights, weight-normed or folded (a folded state dict folds this model first)."""
        self.match_export(set(state_dict))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
