"""Spectral generator losses for audio: the mel L1 and the multi-resolution STFT distance.

Both are differentiable functions of a generated waveform and a reference. :class:`MelL1` and
:func:`stft_loss` adapt them to the trainer's extra-loss contract ``fn(fake, batch) -> scalar`` (see
:class:`multigan.ExtraLoss`); the vocoder metrics score validation clips with the same functions.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .features import LogMel, waveform_batch

__all__ = ["DEFAULT_RESOLUTIONS", "MelL1", "mel_l1", "multi_resolution_stft_distance", "stft_loss"]

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
