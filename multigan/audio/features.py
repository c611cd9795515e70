"""Spectral features as device-agnostic ``nn.Module``s over torchaudio transforms, and Griffin-Lim.

Windows and mel filters are registered buffers, so ``.to(device)`` moves them and a model that owns one
exports it. Inputs are waveforms ``[..., T]``; outputs are ``[..., bins, frames]``.

:class:`LogMel` is the one log-mel front end: torchaudio's framing (SpecGAN, the digit classifier) or, with
``style="hifigan"``, the HiFi-GAN reference's (every vocoder; :meth:`LogMel.from_settings` builds it from a
vocoder's ``mel`` settings). :func:`griffin_lim` is the one phase reconstruction.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Mapping, Union

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from ..errors import MultiganError
from .mel_front_end import MelFrontEnd, resolve_front_end

__all__ = ["LogMagSpectrogram", "LogMel", "SpecNormalizer", "griffin_lim", "mel_filterbank", "waveform_batch"]


def waveform_batch(x: torch.Tensor) -> torch.Tensor:
    """Accept a waveform ``[T]``, ``[B, T]`` or ``[B, 1, T]``; return a ``[B, T]`` view of it."""
    if not (x.dim() in (1, 2) or (x.dim() == 3 and x.shape[1] == 1)):
        raise ValueError(f"expected waveform of shape [B, 1, T] or [B, T], got {tuple(x.shape)}")
    return x.reshape(-1, x.shape[-1])


class LogMagSpectrogram(nn.Module):
    """``log(clamp(|STFT(x)|, eps))``: natural-log magnitude, ``[..., n_fft // 2 + 1, frames]``."""

    def __init__(
        self,
        n_fft: int,
        hop: int,
        win_length: int | None = None,
        *,
        center: bool = True,
        pad_mode: str = "reflect",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop, self.eps = n_fft, hop, eps
        self.stft = torchaudio.transforms.Spectrogram(
            n_fft=n_fft, win_length=win_length, hop_length=hop, power=1.0, center=center, pad_mode=pad_mode
        )

    @property
    def n_bins(self) -> int:
        """Frequency bins of the output."""
        return self.n_fft // 2 + 1

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``[..., T]`` to log magnitude ``[..., n_fft // 2 + 1, frames]``."""
        return torch.log(torch.clamp(self.stft(wav), min=self.eps))


class LogMel(nn.Module):
    """``log(clamp(mel(|STFT(x)|), eps))``, the log-mel spectrogram ``[..., n_mels, frames]``.

    Defaults follow HiFi-GAN: magnitude (``power=1``), Slaney mel scale and area normalisation. ``style``
    picks whose computation is reproduced bit for bit:

    * ``"torchaudio"``: ``torchaudio.transforms.MelSpectrogram`` (frame ``t`` centred on sample ``t * hop``
      with ``center=True``; ``fmax=None`` is ``sample_rate // 2``).
    * ``"hifigan"``: the HiFi-GAN reference's ``mel_spectrogram``: reflect-pad ``(n_fft - hop) // 2`` samples
      on both sides and frame without centring (frame ``t`` centred on ``t * hop + hop / 2``: ``T // hop``
      frames for ``T`` a multiple of ``hop``), magnitude ``sqrt(re^2 + im^2 + 1e-9)``, filterbank applied
      from the left. ``center``, ``pad_mode`` and ``power`` are the reference's.

    ``magnitude_eps`` (``None``: the style's, ``1e-9`` for ``"hifigan"``, plain ``|STFT|`` for ``"torchaudio"``)
    sets the magnitude ``sqrt(re^2 + im^2 + magnitude_eps)``; ``0`` is ``|STFT|``. A vocoder's front end
    (:class:`~multigan.audio.mel_front_end.MelFrontEnd`) picks these through :meth:`from_settings`.

    Computed in float32 with autocast disabled. ``persistent=False`` keeps the window and filterbank out of
    ``state_dict`` (a model that rebuilds them from its config, such as a vocoder).
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop: int,
        n_mels: int,
        fmin: float = 0.0,
        fmax: float | None = None,
        win_length: int | None = None,
        *,
        power: float = 1.0,
        center: bool = True,
        pad_mode: str = "reflect",
        norm: str | None = "slaney",
        mel_scale: str = "slaney",
        eps: float = 1e-5,
        style: Literal["torchaudio", "hifigan"] = "torchaudio",
        persistent: bool = True,
        magnitude_eps: float | None = None,
    ) -> None:
        super().__init__()
        if fmax is not None and fmax > sample_rate / 2:
            raise ValueError(f"LogMel: fmax={fmax} is above the Nyquist frequency {sample_rate / 2}")
        if style not in ("torchaudio", "hifigan"):
            raise ValueError(f"LogMel: style={style!r}; valid choices: 'torchaudio', 'hifigan'")
        if style == "hifigan" and (power != 1.0 or not center or pad_mode != "reflect"):
            raise ValueError("LogMel: style='hifigan' fixes the framing and the magnitude; leave power, center "
                             "and pad_mode at their defaults")
        self.n_fft, self.hop, self.n_mels, self.eps, self.style = n_fft, hop, n_mels, eps, style
        self.sample_rate = sample_rate
        hifigan = style == "hifigan"
        if magnitude_eps is not None and power != 1.0:
            raise ValueError("LogMel: magnitude_eps sets a magnitude (power=1); leave power at 1")
        self.magnitude_eps = 1e-9 if hifigan and magnitude_eps is None else magnitude_eps
        own_magnitude = hifigan or magnitude_eps is not None  # else torchaudio's, bit for bit
        self._own_magnitude = own_magnitude
        if hifigan:  # reflect padding needs more samples than it pads, and one whole window after padding
            pad = (n_fft - hop) // 2
            self.min_samples = max(pad + 1, n_fft - 2 * pad)
        else:
            self.min_samples = n_fft // 2 + 1 if center else n_fft
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop,
            f_min=fmin,
            f_max=fmax,
            n_mels=n_mels,
            power=None if own_magnitude else power,  # the reference takes its own magnitude of the complex STFT
            center=not hifigan and center,
            pad_mode=pad_mode,
            norm=norm,
            mel_scale=mel_scale,
        )
        if not persistent:
            for module in (self.mel.spectrogram, self.mel.mel_scale):
                for name, buffer in list(module.named_buffers(recurse=False)):
                    module.register_buffer(name, buffer, persistent=False)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any],
                      front_end: Union[None, str, Mapping[str, Any], MelFrontEnd] = None) -> "LogMel":
        """The front end of a vocoder: its ``mel`` settings computed as ``front_end`` describes.

        ``settings``: ``sample_rate, n_fft, hop_size, win_size, n_mels, fmin, fmax`` (``fmax=None``: the full
        band, ``sample_rate / 2``). ``front_end``: a :class:`~multigan.audio.mel_front_end.MelFrontEnd`, its dict or
        preset name; ``None`` is HiFi-GAN's (BigVGAN's), computed exactly as before front ends were described. The
        window and filterbank follow from them and are not saved.
        """
        s, fe = settings, resolve_front_end(front_end)
        fmax = s["sample_rate"] / 2 if s["fmax"] is None else s["fmax"]
        framing = (dict(style="hifigan", magnitude_eps=fe.magnitude_eps) if fe.padding == "same"
                   else dict(center=True, pad_mode=fe.pad_mode, magnitude_eps=fe.magnitude_eps or None))
        return cls(s["sample_rate"], s["n_fft"], s["hop_size"], s["n_mels"], s["fmin"], fmax, s["win_size"],
                   norm=fe.norm, mel_scale=fe.filterbank, eps=fe.log_floor, persistent=False, **framing)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``[..., T]`` to log-mel ``[..., n_mels, frames]``; ``T`` must be at least :attr:`min_samples`
        (one analysis window), else a :class:`~multigan.errors.MultiganError` says so."""
        if wav.shape[-1] < self.min_samples:
            raise MultiganError(f"audio of {wav.shape[-1]} samples is shorter than one analysis window: this mel "
                                f"front end needs at least {self.min_samples} samples "
                                f"({1000 * self.min_samples / self.sample_rate:.0f} ms at {self.sample_rate} Hz)")
        with torch.autocast(device_type=wav.device.type, enabled=False):
            wav = wav.float()
            mel = self._reference_mel(wav) if self._own_magnitude else self.mel(wav)
            return torch.log(torch.clamp(mel, min=self.eps))

    def _reference_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """The reference's mel magnitude of ``wav`` ``[..., T]`` (see the class docstring): HiFi-GAN's framing for
        ``style="hifigan"``, its ``magnitude_eps`` (``0``: ``|STFT|``), the filterbank applied from the left."""
        batch = wav.reshape(-1, wav.shape[-1])
        if self.style == "hifigan":
            pad = (self.n_fft - self.hop) // 2
            batch = F.pad(batch.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = self.mel.spectrogram(batch)
        magnitude = (torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + self.magnitude_eps) if self.magnitude_eps
                     else spec.abs())
        mel = torch.matmul(self.mel.mel_scale.fb.T.contiguous(), magnitude)
        return mel.reshape(*wav.shape[:-1], *mel.shape[-2:])


def mel_filterbank(settings: Mapping[str, Any],
                   front_end: Union[None, str, Mapping[str, Any], MelFrontEnd] = None) -> torch.Tensor:
    """The triangular filters ``[n_fft // 2 + 1, n_mels]`` that :meth:`LogMel.from_settings` applies for the same
    arguments (torchaudio's, float32)."""
    fe = resolve_front_end(front_end)
    fmax = settings["sample_rate"] / 2 if settings["fmax"] is None else settings["fmax"]
    return torchaudio.functional.melscale_fbanks(settings["n_fft"] // 2 + 1, float(settings["fmin"]), float(fmax),
                                                 settings["n_mels"], settings["sample_rate"], norm=fe.norm,
                                                 mel_scale=fe.filterbank)


def griffin_lim(
    spec: torch.Tensor,
    n_fft: int,
    hop: int,
    n_iter: int = 32,
    *,
    win_length: int | None = None,
    length: int | None = None,
    momentum: float = 0.99,
    rand_init: bool = True,
    init: torch.Tensor | None = None,
    log: bool = True,
    phase_floor: Literal["add", "clamp"] = "add",
) -> torch.Tensor:
    """Waveform ``[..., T]`` from a magnitude spectrogram ``[..., n_fft // 2 + 1, frames]`` by fast Griffin-Lim.

    ``spec`` is a natural-log magnitude (``log=True``) or a linear one. The initial phase factors are
    ``init`` when given (e.g. unit phases from a seeded generator), else uniform complex draws from torch's
    global RNG (``rand_init``, as ``torchaudio.functional.griffinlim``) or ones. Each iteration divides the
    phase by ``|phase| + 1e-16`` (``phase_floor="add"``, torchaudio's) or by ``max(|phase|, 1e-16)``
    (``"clamp"``). Runs on ``spec``'s device; ``length`` trims or pads the output to that many samples.
    """
    if spec.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"griffin_lim: expected {n_fft // 2 + 1} bins for n_fft={n_fft}, got {spec.shape[-2]}")
    if not 0 <= momentum < 1:
        raise ValueError(f"griffin_lim: momentum must be in [0, 1), got {momentum}")
    if phase_floor not in ("add", "clamp"):
        raise ValueError(f"griffin_lim: phase_floor={phase_floor!r}; valid choices: 'add', 'clamp'")
    win_length = win_length or n_fft
    stft = {"n_fft": n_fft, "hop_length": hop, "win_length": win_length,
            "window": torch.hann_window(win_length, device=spec.device, dtype=spec.dtype)}
    shape = spec.shape
    magnitude = (torch.exp(spec) if log else spec).reshape(-1, *shape[-2:])
    if init is not None:
        angles = init.reshape(magnitude.shape)
    else:
        dtype = torch.promote_types(magnitude.dtype, torch.complex64)
        draw = torch.rand if rand_init else torch.ones
        angles = draw(magnitude.shape, dtype=dtype, device=magnitude.device)
    factor = momentum / (1 + momentum)
    previous = None
    for _ in range(n_iter):
        inverse = torch.istft(magnitude * angles, length=length, **stft)
        rebuilt = torch.stft(inverse, center=True, pad_mode="reflect", normalized=False, onesided=True,
                             return_complex=True, **stft)
        angles = rebuilt if previous is None or not factor else rebuilt - previous * factor
        norm = angles.abs()
        angles = angles / (norm + 1e-16 if phase_floor == "add" else norm.clamp_min(1e-16))
        previous = rebuilt
    wav = torch.istft(magnitude * angles, length=length, **stft)
    return wav.reshape(*shape[:-2], wav.shape[-1])


class SpecNormalizer(nn.Module):
    """Per-frequency-bin standardisation of log spectrograms, as in SpecGAN.

    ``normalize(x) = clamp((x - mean) / std, -clip, clip) / clip`` maps to [-1, 1] (``clip=None``: plain
    z-score); ``denormalize`` inverts it. ``mean`` and ``std`` (``[n_bins]``) are registered buffers, so they
    are saved in a model's ``state_dict`` and follow ``.to(device)``. Before :meth:`fit` they are 0 and 1.
    """

    def __init__(self, n_bins: int, clip: float | None = 3.0, min_std: float = 1e-5) -> None:
        super().__init__()
        self.clip, self.min_std = clip, min_std
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))

    @torch.no_grad()
    def fit(self, specs: Iterable[torch.Tensor]) -> "SpecNormalizer":
        """Set mean/std per bin over every frame of ``specs`` (tensors ``[..., n_bins, frames]``)."""
        n_bins = self.mean.shape[0]
        count = 0
        total = torch.zeros(n_bins, dtype=torch.float64)
        total_sq = torch.zeros(n_bins, dtype=torch.float64)
        for spec in specs:
            if spec.shape[-2] != n_bins:
                raise ValueError(f"SpecNormalizer.fit: expected {n_bins} bins, got shape {tuple(spec.shape)}")
            flat = spec.detach().to("cpu", torch.float64).transpose(-2, -1).reshape(-1, n_bins)
            count += flat.shape[0]
            total += flat.sum(0)
            total_sq += (flat * flat).sum(0)
        if count == 0:
            raise ValueError("SpecNormalizer.fit: no spectrogram frames given")
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0.0)
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(var.sqrt().clamp_min(self.min_std).to(self.std))
        return self

    @torch.no_grad()
    def fit_dataset(
        self, dataset: Iterable[Mapping[str, torch.Tensor]], transform: nn.Module, key: str = "real"
    ) -> "SpecNormalizer":
        """Fit on ``transform(item[key])`` for every item of ``dataset`` (e.g. an ``AudioFolder``)."""
        return self.fit(transform(item[key]) for item in dataset)

    def normalize(self, spec: torch.Tensor) -> torch.Tensor:
        """Log spectrogram ``[..., n_bins, frames]`` to the normalised scale."""
        z = (spec - self.mean.unsqueeze(-1)) / self.std.unsqueeze(-1)
        if self.clip is not None:
            z = torch.clamp(z, -self.clip, self.clip) / self.clip
        return z

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (exact for values that were not clipped)."""
        if self.clip is not None:
            z = z * self.clip
        return z * self.std.unsqueeze(-1) + self.mean.unsqueeze(-1)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`normalize`."""
        return self.normalize(spec)
