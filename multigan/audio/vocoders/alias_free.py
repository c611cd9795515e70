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
  activation of the AMP blocks. For 2x with even filters (BigVGAN's) eager calls compute the same thing
  polyphase (:class:`Polyphase2x`): the even and the odd output samples of the up-sampling are two short
  depthwise convs on the input (no transposed conv over zero-stuffed samples), the activation runs on both
  halves, and the down-sampling's stride is folded into two short convs on the halves (no interleaving, no
  replicate-pad copies of the up-sampled signal), all time-major. Plain PyTorch ops; equal to the padded
  transposed-conv path to float rounding (tested against a reference-style writing); ``torch.export`` / ONNX
  graphs take the padded-conv path.

Module and parameter names follow the reference (``act.alpha``, ``act.beta``); the filters are buffers that
are rebuilt from the settings and kept out of the state dict (``persistent=False``).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Activation1d", "DownSample1d", "Polyphase2x", "Snake", "SnakeBeta", "UpSample1d", "kaiser_beta",
           "kaiser_sinc_filter", "make_activation", "snake"]

#: Added to the divisor of the periodic term (the reference's ``no_div_by_zero``).
SNAKE_EPS = 1e-9


def snake(x: Tensor, a: Tensor, inv: Tensor, inplace: bool = False) -> Tensor:
    """``x + sin(a x)^2 * inv`` with ``a`` and ``inv`` broadcast against ``x`` (4 passes over ``x``); ``inplace``
    writes the result into ``x`` and allocates one temporary (inference only)."""
    s = x * a
    if not inplace:
        s = torch.sin(s)
        return torch.addcmul(x, s * s, inv)
    torch.sin(s, out=s)
    s.mul_(s)
    return x.addcmul_(s, inv)


class Snake(nn.Module):
    """Snake activation on ``[B, C, T]``: ``x + sin(a x)^2 / (a + 1e-9)``, ``a`` per channel (``exp`` of the
    parameter when ``logscale``)."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = bool(logscale)
        self.alpha = nn.Parameter(torch.zeros(channels) if self.logscale else torch.ones(channels))

    def coefficients(self) -> tuple[Tensor, Tensor]:
        """``(a, 1 / (a + 1e-9))`` per channel, ``[C]`` each."""
        a = torch.exp(self.alpha) if self.logscale else self.alpha
        return a, 1.0 / (a + SNAKE_EPS)

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise; same shape."""
        a, inv = self.coefficients()
        return snake(x, a[:, None], inv[:, None])


class SnakeBeta(nn.Module):
    """SnakeBeta on ``[B, C, T]``: ``x + sin(a x)^2 / (b + 1e-9)``, frequency ``a`` and magnitude ``b`` per channel
    (``exp`` of the parameters when ``logscale``)."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = bool(logscale)
        init = torch.zeros if self.logscale else torch.ones
        self.alpha = nn.Parameter(init(channels))
        self.beta = nn.Parameter(init(channels))

    def coefficients(self) -> tuple[Tensor, Tensor]:
        """``(a, 1 / (b + 1e-9))`` per channel, ``[C]`` each."""
        a, b = (torch.exp(self.alpha), torch.exp(self.beta)) if self.logscale else (self.alpha, self.beta)
        return a, 1.0 / (b + SNAKE_EPS)

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise; same shape."""
        a, inv = self.coefficients()
        return snake(x, a[:, None], inv[:, None])


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


def _taps(offsets: range, index: Callable[[int], int], kernel_size: int) -> tuple[int, list[int]]:
    """``(first offset, filter indices)`` of the taps ``index(offset)`` that fall inside the filter."""
    valid = [(o, index(o)) for o in offsets if 0 <= index(o) < kernel_size]
    return valid[0][0], [k for _, k in valid]


def _extend(x: Tensor, first: Tensor, last: Tensor, left: int, right: int) -> Tensor:
    """Time-major ``x`` ``[B, T, C]`` with ``left`` copies of row ``first`` ``[B, 1, C]`` before it and ``right`` of
    ``last`` after it (one copy; ``x`` may be a transposed view)."""
    b, c = x.shape[0], x.shape[2]
    return torch.cat([first.expand(b, left, c), x, last.expand(b, right, c)], dim=1)


def _depthwise_conv(x: Tensor, taps: Tensor) -> Tensor:
    """The same filter ``taps`` ``[k]`` on every channel of time-major ``x`` ``[B, T + k - 1, C]``: ``[B, T, C]``.

    Run as a channels-last 2-D depthwise conv: on the CPU, oneDNN's depthwise kernel reads and writes this layout
    directly, several times faster than the channels-first 1-D conv, which reorders both ways."""
    c, k = x.shape[2], taps.numel()
    weight = taps.to(x.dtype).view(1, 1, 1, k).expand(c, 1, 1, k)
    return F.conv2d(x.permute(0, 2, 1).unsqueeze(2), weight, groups=c).squeeze(2).permute(0, 2, 1)


class Polyphase2x(nn.Module):
    """2x up-sampling, an activation, 2x down-sampling: :class:`UpSample1d` then :class:`DownSample1d` computed on
    the two phases of the up-sampled signal (even filter lengths).

    Up: output sample ``2m + p`` is ``2 sum_d x[m - d] f[2d + K/2 - 1 + p]`` (``x`` replicate-extended): one
    depthwise conv per phase with every other tap of the filter. Down: ``sum_k u[2m + k - pad_left] g[k]`` is a
    conv over the even phase with the taps ``k - pad_left`` even plus one over the odd phase with the others. The
    up-sampled signal's replicate padding is ``u[0]`` (the first even sample) on the left and ``u[2T - 1]`` (the
    last odd one) on the right of both phases: the phases are computed ``pad`` samples beyond both ends and those
    samples overwritten with these two. Everything runs time-major (``[B, T, C]``: one transposing copy in, one
    out). The filters are read from the modules' ``filter`` buffers at each call:
    they stay the one source.
    """

    def __init__(self, up: UpSample1d, down: DownSample1d) -> None:
        super().__init__()
        k_up, k_down = up.kernel_size, down.kernel_size
        half = k_up // 2 - 1  # (K - ratio) // 2: the up-sampling's trim net of its padding
        span = range(-k_up, k_up + 1)
        # up, phase p: the tap on x[m + o] (o = -d) is f[-2o + half + p]
        up_taps = [_taps(span, lambda o, p=p: -2 * o + half + p, k_up) for p in (0, 1)]
        # down, phase p: the tap on phase_p[m + o] is g[2o + pad_left + p]
        down_taps = [_taps(span, lambda o, p=p: 2 * o + down.pad_left + p, k_down) for p in (0, 1)]
        # phases are computed for m in [-pad, T + pad): enough for every down tap
        self.pad = max(max(-first, first + len(i) - 1) for first, i in down_taps)
        self.up_pad = (self.pad + max(-first for first, _ in up_taps),
                       self.pad + max(first + len(i) - 1 for first, i in up_taps))
        self.up_starts = [self.up_pad[0] - self.pad + first for first, _ in up_taps]
        self.down_starts = [self.pad + first for first, _ in down_taps]
        for name, taps in (("up_index", up_taps), ("down_index", down_taps)):
            for p, (_, idx) in enumerate(taps):
                self.register_buffer(f"{name}{p}", torch.tensor(idx), persistent=False)

    def forward(self, x: Tensor, act: nn.Module, up_filter: Tensor, down_filter: Tensor) -> Tensor:
        """``[B, C, T]`` -> ``act`` applied anti-aliased, ``[B, C, T]``."""
        t, pad = x.shape[-1], self.pad
        xt = x.transpose(1, 2)
        xt = _extend(xt, xt[:, :1], xt[:, -1:], *self.up_pad)  # one copy: transposed and replicate-padded
        up_f, down_f = 2 * up_filter.flatten(), down_filter.flatten()
        # Snake(Beta) in place on the fresh time-major conv outputs when no gradient is needed (inference)
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(q.requires_grad for q in act.parameters()))
        inplace = isinstance(act, (Snake, SnakeBeta)) and not needs_grad
        phases = []
        for p, start in enumerate(self.up_starts):
            taps = up_f[getattr(self, f"up_index{p}")]
            u = _depthwise_conv(xt[:, start:start + t + 2 * pad + taps.numel() - 1], taps)
            if inplace:
                a, inv = act.coefficients()
                phases.append(snake(u, a.to(u.dtype), inv.to(u.dtype), inplace=True))
            else:
                phases.append(act(u.transpose(1, 2)).transpose(1, 2))
        even, odd = phases
        first, last = even[:, pad:pad + 1].clone(), odd[:, pad + t - 1:pad + t].clone()
        for phase in phases:  # the up-sampled signal's replicate padding
            phase[:, :pad] = first
            phase[:, pad + t:] = last
        parts = [_depthwise_conv(phase[:, start:start + t + taps.numel() - 1], taps)
                 for phase, start, taps in zip(phases, self.down_starts,
                                               (down_f[self.down_index0], down_f[self.down_index1]))]
        return (parts[0] + parts[1]).transpose(1, 2).contiguous()


class Activation1d(nn.Module):
    """Anti-aliased activation: 2x :class:`UpSample1d`, ``act``, 2x :class:`DownSample1d` (12-tap filters); for
    2x with even filters computed polyphase (:class:`Polyphase2x`, the same values)."""

    def __init__(self, act: nn.Module, up_ratio: int = 2, down_ratio: int = 2, up_kernel_size: int = 12,
                 down_kernel_size: int = 12) -> None:
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(up_ratio, up_kernel_size)
        self.downsample = DownSample1d(down_ratio, down_kernel_size)
        fast = up_ratio == down_ratio == 2 and up_kernel_size % 2 == 0 and down_kernel_size % 2 == 0
        self.polyphase = Polyphase2x(self.upsample, self.downsample) if fast else None

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> same shape."""
        if self.polyphase is not None and not (torch.compiler.is_compiling() or torch.compiler.is_exporting()):
            # eager only: torch.export pins the batch of the channels-last convs; graphs take the padded convs
            return self.polyphase(x, self.act, self.upsample.filter, self.downsample.filter)
        return self.downsample(self.act(self.upsample(x)))
