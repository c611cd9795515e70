"""Spectral features as device-agnostic ``nn.Module``s over torchaudio transforms.

Windows and mel filters are registered buffers, so ``.to(device)`` moves them and a model that owns one
exports it. Inputs are waveforms ``[..., T]``; outputs are ``[..., bins, frames]``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torchaudio
from torch import nn

__all__ = ["LogMagSpectrogram", "LogMel", "SpecNormalizer", "griffin_lim"]


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
    """``log(clamp(mel(|STFT(x)|), eps))``, the vocoder-style log-mel spectrogram ``[..., n_mels, frames]``.

    Defaults follow HiFi-GAN: magnitude (``power=1``), Slaney mel scale and area normalisation.
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
    ) -> None:
        super().__init__()
        if fmax is not None and fmax > sample_rate / 2:
            raise ValueError(f"LogMel: fmax={fmax} is above the Nyquist frequency {sample_rate / 2}")
        self.n_mels, self.eps = n_mels, eps
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop,
            f_min=fmin,
            f_max=fmax,
            n_mels=n_mels,
            power=power,
            center=center,
            pad_mode=pad_mode,
            norm=norm,
            mel_scale=mel_scale,
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``[..., T]`` to log-mel ``[..., n_mels, frames]``."""
        return torch.log(torch.clamp(self.mel(wav), min=self.eps))


def griffin_lim(
    logmag: torch.Tensor,
    n_fft: int,
    hop: int,
    n_iter: int = 32,
    *,
    win_length: int | None = None,
    length: int | None = None,
    momentum: float = 0.99,
    rand_init: bool = True,
) -> torch.Tensor:
    """Waveform ``[..., T]`` from a natural-log magnitude ``[..., n_fft // 2 + 1, frames]`` by Griffin-Lim.

    Runs on ``logmag``'s device; a random initial phase (``rand_init``) draws from torch's global RNG.
    ``length`` trims or pads the output to that many samples.
    """
    if logmag.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"griffin_lim: expected {n_fft // 2 + 1} bins for n_fft={n_fft}, got {logmag.shape[-2]}")
    win_length = win_length or n_fft
    window = torch.hann_window(win_length, device=logmag.device, dtype=logmag.dtype)
    return torchaudio.functional.griffinlim(
        torch.exp(logmag),
        window=window,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win_length,
        power=1.0,
        n_iter=n_iter,
        momentum=momentum,
        length=length,
        rand_init=rand_init,
    )


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
