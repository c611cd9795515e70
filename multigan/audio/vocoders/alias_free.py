"""BigVGAN's periodic activations and their anti-aliased application (Lee et al., ICLR 2023; BigVGAN-v2).

* :class:`Snake` -- ``x + 1 / (a + 1e-9) * sin(a x)^2`` with one frequency ``a`` per channel;
  :class:`SnakeBeta` -- ``x + 1 / (b + 1e-9) * sin(a x)^2`` with a separate magnitude ``b``. With
  ``logscale=True`` (BigVGAN-v2) the stored parameters are ``log a`` / ``log b``, initialised to 0; otherwise
  ``a`` / ``b`` themselves, initialised to 1.
* :func:`kaiser_sinc_filter` -- the windowed-sinc low-pass filter of StyleGAN3's alias-free layers as
  BigVGAN builds it (cutoff ``0.5 / ratio``, half-width ``0.6 / ratio``, 12 taps, Kaiser window whose beta
  follows Kaiser's attenuation formula, normalised to unit sum).
* :class:`UpSample1d` / :class:`DownSample1d` -- 2x up-sampling (replicate-pad, zero-stuff by a transposed
  conv with the filter, times 2, trim) and 2x down-sampling (replicate-pad, low-pass conv at stride 2).
* :class:`Activation1d` -- up-sample, activation, down-sample: the "anti-aliased multi-periodicity"
  activation of the AMP blocks.

Module and parameter names follow the reference (``act.alpha``, ``act.beta``); the filters are buffers that
are rebuilt from the settings and kept out of the state dict (``persistent=False``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Activation1d", "DownSample1d", "Snake", "SnakeBeta", "UpSample1d", "kaiser_beta", "kaiser_sinc_filter",
           "make_activation"]

#: Added to the divisor of the periodic term (the reference's ``no_div_by_zero``).
SNAKE_EPS = 1e-9


class Snake(nn.Module):
    """Snake activation on ``[B, C, T]``: ``x + sin(a x)^2 / (a + 1e-9)``, ``a`` per channel (``exp`` of the
    parameter when ``logscale``)."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = bool(logscale)
        self.alpha = nn.Parameter(torch.zeros(channels) if self.logscale else torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise; same shape."""
        a = self.alpha[None, :, None]
        if self.logscale:
            a = torch.exp(a)
        return x + torch.sin(x * a).pow(2) / (a + SNAKE_EPS)


class SnakeBeta(nn.Module):
    """SnakeBeta on ``[B, C, T]``: ``x + sin(a x)^2 / (b + 1e-9)``, frequency ``a`` and magnitude ``b`` per channel
    (``exp`` of the parameters when ``logscale``)."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = bool(logscale)
        init = torch.zeros if self.logscale else torch.ones
        self.alpha = nn.Parameter(init(channels))
        self.beta = nn.Parameter(init(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise; same shape."""
        a, b = self.alpha[None, :, None], self.beta[None, :, None]
        if self.logscale:
            a, b = torch.exp(a), torch.exp(b)
        return x + torch.sin(x * a).pow(2) / (b + SNAKE_EPS)


def make_activation(name: str, channels: int, logscale: bool) -> nn.Module:
    """``"snake"`` or ``"snakebeta"`` of ``channels`` channels."""
    if name == "snake":
        return Snake(channels, logscale)
    if name == "snakebeta":
        return SnakeBeta(channels, logscale)
    raise ValueError(f"activation must be 'snake' or 'snakebeta', got {name!r}")


def kaiser_beta(kernel_size: int, half_width: float) -> float:
    """Kaiser's window beta for the attenuation ``A = 2.285 (N/2 - 1) pi (4 half_width) + 7.95`` dB."""
    attenuation = 2.285 * (kernel_size // 2 - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21.0:
        return 0.5842 * (attenuation - 21.0) ** 0.4 + 0.07886 * (attenuation - 21.0)
    return 0.0


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> Tensor:
    """Low-pass filter ``[1, 1, kernel_size]``: ``2 cutoff sinc(2 cutoff t)`` under a (symmetric) Kaiser window,
    normalised to sum 1 (no leakage of a constant). Taps sit at ``t = -K/2 + 1/2 ... K/2 - 1/2`` for even
    ``kernel_size = K`` and at integers for odd ``K``; ``cutoff`` is in cycles per sample (0.5 = Nyquist)."""
    if not 0.0 <= cutoff <= 0.5:
        raise ValueError(f"cutoff must be in [0, 0.5], got {cutoff}")
    half = kernel_size // 2
    window = torch.kaiser_window(kernel_size, periodic=False, beta=kaiser_beta(kernel_size, half_width))
    if kernel_size % 2 == 0:
        t = torch.arange(-half, half) + 0.5
    else:
        t = torch.arange(kernel_size) - half
    if cutoff == 0:
        return torch.zeros(1, 1, kernel_size)
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)
    return (taps / taps.sum()).view(1, 1, kernel_size)


def _depthwise(filt: Tensor, channels: int) -> Tensor:
    return filt.expand(channels, -1, -1)


class UpSample1d(nn.Module):
    """Up-sample ``[B, C, T]`` by ``ratio`` (to ``[B, C, T * ratio]``) with a Kaiser-windowed sinc filter.

    Replicate-pads ``kernel_size // ratio - 1`` samples on both sides, inserts zeros and filters (a depthwise
    transposed conv at stride ``ratio``, times ``ratio`` for unit gain) and trims the padding's output.
    """

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio, self.kernel_size = int(ratio), int(kernel_size)
        self.pad = self.kernel_size // self.ratio - 1
        self.trim_left = self.pad * self.ratio + (self.kernel_size - self.ratio) // 2
        self.trim_right = self.pad * self.ratio + (self.kernel_size - self.ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / self.ratio, 0.6 / self.ratio, self.kernel_size),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> ``[B, C, T * ratio]``."""
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        y = F.conv_transpose1d(x, _depthwise(self.filter.to(x.dtype), channels), stride=self.ratio,
                               groups=channels) * self.ratio
        return y[..., self.trim_left:y.shape[-1] - self.trim_right]


class DownSample1d(nn.Module):
    """Low-pass and decimate ``[B, C, T]`` by ``ratio``: replicate-pad ``(K/2 - 1, K/2)`` (even ``K``) or
    ``(K//2, K//2)`` (odd), depthwise conv with the Kaiser-windowed sinc filter at stride ``ratio``."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio, self.kernel_size = int(ratio), int(kernel_size)
        even = self.kernel_size % 2 == 0
        self.pad_left, self.pad_right = self.kernel_size // 2 - int(even), self.kernel_size // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / self.ratio, 0.6 / self.ratio, self.kernel_size),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> ``[B, C, ceil-ish(T / ratio)]`` (``T / ratio`` for ``T`` a multiple of it)."""
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, _depthwise(self.filter.to(x.dtype), channels), stride=self.ratio, groups=channels)


class Activation1d(nn.Module):
    """Anti-aliased activation: 2x :class:`UpSample1d`, ``act``, 2x :class:`DownSample1d` (12-tap filters)."""

    def __init__(self, act: nn.Module, up_ratio: int = 2, down_ratio: int = 2, up_kernel_size: int = 12,
                 down_kernel_size: int = 12) -> None:
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(up_ratio, up_kernel_size)
        self.downsample = DownSample1d(down_ratio, down_kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> same shape."""
        return self.downsample(self.act(self.upsample(x)))
