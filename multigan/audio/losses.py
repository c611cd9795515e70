"""Spectral generator losses for audio: the mel L1 and the multi-resolution STFT distance.

Both are differentiable functions of a generated waveform and a reference. :class:`MelL1` and
:func:`stft_loss` adapt them to the trainer's extra-loss contract ``fn(fake, batch) -> scalar`` (see
:class:`multigan.ExtraLoss`); the vocoder metrics score validation clips with the same functions.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .features import LogMel, waveform_batch

__all__ = ["DEFAULT_RESOLUTIONS", "MULTISCALE_MEL", "MelL1", "MultiScaleMelL1", "mel_l1",
           "multi_resolution_stft_distance", "stft_loss"]

#: ``(n_fft, hop_length, win_length)`` of Parallel WaveGAN's multi-resolution STFT loss.
DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))


def mel_l1(fake: Tensor, real: Tensor, extractor: LogMel) -> Tensor:
    """``mean |log-mel(fake) - log-mel(real)|`` of two waveforms of the same shape (HiFi-GAN's mel loss).

    The reference's mel is computed without a graph; ``extractor`` must be on the waveforms' device.
    """
    with torch.no_grad():
        real_mel = extractor(real)
    return F.l1_loss(extractor(fake), real_mel)


class MelL1(nn.Module):
    """:func:`mel_l1` as an extra generator loss: ``forward(fake, batch)`` against ``batch["real"]``.

    ``extractor`` is the loss's mel (HiFi-GAN: the input settings over the full band); it follows ``fake``
    to its device.
    """

    def __init__(self, extractor: LogMel) -> None:
        super().__init__()
        self.mel = extractor

    def forward(self, fake: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """``fake`` ``[B, T]`` against ``batch["real"]`` ``[B, T]``."""
        return mel_l1(fake, batch["real"], self.mel.to(fake.device))


#: ``(window, n_mels)`` of the multi-scale mel loss of DAC and BigVGAN v2 (hop = window / 4).
MULTISCALE_MEL: tuple[tuple[int, int], ...] = ((32, 5), (64, 10), (128, 20), (256, 40), (512, 80), (1024, 160),
                                               (2048, 320))


class MultiScaleMelL1(nn.Module):
    """Multi-scale mel loss (DAC, BigVGAN v2): ``sum_s mean |log10 mel_s(fake) - log10 mel_s(real)|``.

    One mel per ``(window, n_mels)`` scale of ``scales`` (default :data:`MULTISCALE_MEL`: windows 32-2048 with
    5-320 mels), hop ``window // 4``, Hann window, centred frames, magnitude (power 1), Slaney filterbank,
    ``log10(clamp(mel, 1e-5))``; the L1 distances are summed over scales as the references do (BigVGAN v2
    weighs the sum by 15 where HiFi-GAN weighs its single mel L1 by 45). Small windows resolve onsets and
    phase errors in time, large ones pitch. ``forward(fake, batch)`` is the trainer's extra-loss contract.
    """

    def __init__(self, sample_rate: int, scales: Sequence[Sequence[int]] = MULTISCALE_MEL, fmin: float = 0.0,
                 fmax: float | None = None) -> None:
        super().__init__()
        if not scales:
            raise ValueError("MultiScaleMelL1 needs at least one (window, n_mels) scale")
        import warnings

        mels = []
        with warnings.catch_warnings():  # narrow low filters of the 320-band scale are empty: harmless here
            warnings.simplefilter("ignore", UserWarning)
            for window, n_mels in scales:
                window, n_mels = int(window), int(n_mels)
                mels.append(LogMel(sample_rate, window, max(1, window // 4), n_mels, fmin, fmax, window,
                                   persistent=False))
        self.mels = nn.ModuleList(mels)

    def distance(self, fake: Tensor, real: Tensor) -> Tensor:
        """The loss of waveforms ``fake`` and ``real`` of the same shape (``real`` without a graph)."""
        fake, real = waveform_batch(fake), waveform_batch(real)
        total = fake.new_zeros((), dtype=torch.float32)
        for mel in self.mels:
            mel = mel.to(fake.device)
            with torch.no_grad():
                target = mel(real)
            total = total + F.l1_loss(mel(fake), target) / math.log(10.0)  # LogMel is the natural log
        return total

    def forward(self, fake: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """``fake`` ``[B, T]`` against ``batch["real"]``."""
        return self.distance(fake, batch["real"])


def _stft_magnitude(x: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    window = torch.hann_window(win, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window, center=True, return_complex=True)
    return torch.sqrt(torch.clamp(spec.real.pow(2) + spec.imag.pow(2), min=1e-7))


def multi_resolution_stft_distance(
    x: Tensor,
    y: Tensor,
    resolutions: Sequence[Sequence[int]] = DEFAULT_RESOLUTIONS,
    return_components: bool = False,
) -> Union[Tensor, tuple[Tensor, Tensor]]:
    """Multi-resolution STFT distance (Parallel WaveGAN style), differentiable.

    For each ``(n_fft, hop, win_length)`` resolution: spectral convergence ``||Y| - |X||_F / ||Y||_F`` plus
    the mean L1 distance of log magnitudes; both are averaged over resolutions. Computed in float32.

    Args:
        x: prediction, ``[B, 1, T]``, ``[B, T]`` or ``[T]``.
        y: reference with the same shape as ``x``.
        resolutions: ``(n_fft, hop_length, win_length)`` triples.
        return_components: return ``(spectral_convergence, log_mag_l1)`` instead of their sum.
    """
    xf, yf = waveform_batch(x), waveform_batch(y)
    if xf.shape != yf.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not resolutions:
        raise ValueError("resolutions must not be empty")
    with torch.autocast(device_type=xf.device.type, enabled=False):
        xf, yf = xf.float(), yf.float()
        sc_total = xf.new_zeros(())
        mag_total = xf.new_zeros(())
        for n_fft, hop, win in resolutions:
            xm = _stft_magnitude(xf, int(n_fft), int(hop), int(win))
            ym = _stft_magnitude(yf, int(n_fft), int(hop), int(win))
            sc_total = sc_total + torch.linalg.norm(ym - xm) / torch.linalg.norm(ym)
            mag_total = mag_total + F.l1_loss(torch.log(xm), torch.log(ym))
        n = len(resolutions)
        sc, mag = sc_total / n, mag_total / n
    if return_components:
        return sc, mag
    return sc + mag


def stft_loss(fake: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    """:func:`multi_resolution_stft_distance` of ``fake`` to ``batch["real"]`` as an extra generator loss."""
    return multi_resolution_stft_distance(fake, batch["real"])
