"""UnivNet's multi-resolution STFT discriminator (MRD) as Vocos trains it: ``"mrd"`` in the registry.

* :class:`ResolutionDiscriminator` -- 2-D convolutions over the linear magnitude spectrogram of one
  ``(n_fft, hop, win)`` resolution: (7x5), three strided (5x3)/(3x3) convs halving the frequency axis, a
  (3x3) conv, then a 1-channel (3x3) output conv; leaky ReLU 0.1; weight normalisation.
* :class:`MultiResolutionDiscriminator` -- one per resolution; published
  ``(512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)`` at 64 channels (Vocos; UnivNet 32).
* ``layout="bigvgan"`` -- BigVGAN's MRD instead (its ``DiscriminatorR``): reflect padding of ``(n_fft - hop) / 2``
  and uncentred frames, (3x9) convs of which three stride 2 along time, then (3x3); published with
  :data:`BIGVGAN_MRD_RESOLUTIONS` at 32 channels (x ``discriminator_channel_mult``: ``channels_scale``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ....config import AtLeastOne, Positive
from ..layers import LRELU_SLOPE

__all__ = ["BIGVGAN_MRD_RESOLUTIONS", "DEFAULT_MRD_RESOLUTIONS", "MRDConfig", "MultiResolutionDiscriminator",
           "ResolutionDiscriminator"]

#: ``(n_fft, hop_length, win_length)`` of the published MRD (UnivNet c32 / Vocos).
DEFAULT_MRD_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))
#: (kernel, stride, padding) of the convolutions before the output conv; axes are (frequency, time).
_LAYERS: tuple[tuple[tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ((7, 5), (1, 1), (3, 2)),
    ((5, 3), (2, 1), (2, 1)),
    ((5, 3), (2, 1), (2, 1)),
    ((3, 3), (2, 1), (1, 1)),
    ((3, 3), (2, 1), (1, 1)),
)
#: BigVGAN's MRD (its ``DiscriminatorR``): (3x9) convs, three at stride 2 along time, then (3x3).
_BIGVGAN_LAYERS: tuple[tuple[tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ((3, 9), (1, 1), (1, 4)),
    ((3, 9), (1, 2), (1, 4)),
    ((3, 9), (1, 2), (1, 4)),
    ((3, 9), (1, 2), (1, 4)),
    ((3, 3), (1, 1), (1, 1)),
)
#: BigVGAN v1's MRD resolutions (``resolutions`` of its configs; 32 channels x discriminator_channel_mult).
BIGVGAN_MRD_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


@dataclass
class MRDConfig:
    """The ``discriminator.mrd`` section: STFT resolutions, conv width and a factor on it, analysis window."""

    resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in DEFAULT_MRD_RESOLUTIONS])
    channels: Annotated[int, AtLeastOne] = 64
    channels_scale: Annotated[float, Positive] = 1.0
    window: Literal["rect", "hann"] = "rect"  # "rect": the reference's torch.stft without a window
    # "univnet": UnivNet / Vocos layers, centred frames; "bigvgan": BigVGAN's DiscriminatorR ((3x9) convs striding
    # along time, reflect padding of (n_fft - hop) / 2 and uncentred frames; e.g. resolutions
    # BIGVGAN_MRD_RESOLUTIONS with channels=32)
    layout: Literal["univnet", "bigvgan"] = "univnet"

    def build(self) -> "MultiResolutionDiscriminator":
        """The discriminator of these settings."""
        return MultiResolutionDiscriminator(self.resolutions, self.channels, self.channels_scale, self.window,
                                            self.layout)


def _audio(x: Tensor) -> Tensor:
    """``[B, 1, T]`` or ``[B, T]`` -> ``[B, T]``."""
    if x.dim() == 3 and x.shape[1] == 1:
        return x[:, 0]
    if x.dim() == 2:
        return x
    raise ValueError(f"expected a waveform batch [B, 1, T] or [B, T], got {tuple(x.shape)}")


class ResolutionDiscriminator(nn.Module):
    """One MRD sub-discriminator on ``|STFT|`` of one resolution (see the module docstring).

    Args:
        resolution: ``(n_fft, hop_length, win_length)``.
        channels: width of every conv (published 64 in Vocos, 32 in UnivNet).
        window: ``"rect"`` (the references call ``torch.stft`` without a window) or ``"hann"``.
    """

    def __init__(self, resolution: Sequence[int], channels: int = 64, window: str = "rect",
                 layout: str = "univnet") -> None:
        super().__init__()
        n_fft, hop, win = (int(v) for v in resolution)
        if not (1 <= hop and 1 <= win <= n_fft):
            raise ValueError(f"MRD resolution {tuple(resolution)}: need hop >= 1 and 1 <= win_length <= n_fft")
        if window not in ("rect", "hann"):
            raise ValueError(f"MRD window={window!r}; valid: 'rect', 'hann'")
        if layout not in ("univnet", "bigvgan"):
            raise ValueError(f"MRD layout={layout!r}; valid: 'univnet', 'bigvgan'")
        self.n_fft, self.hop, self.win, self.layout = n_fft, hop, win, layout
        layers = _LAYERS if layout == "univnet" else _BIGVGAN_LAYERS
        w = torch.ones(win) if window == "rect" else torch.hann_window(win)
        self.register_buffer("window", w, persistent=False)
        chans = [1] + [int(channels)] * len(layers)
        self.convs = nn.ModuleList(weight_norm(nn.Conv2d(chans[i], chans[i + 1], k, s, p))
                                   for i, (k, s, p) in enumerate(layers))
        self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 3), 1, (1, 1)))

    def spectrogram(self, x: Tensor) -> Tensor:
        """Linear magnitude ``[B, 1, n_fft // 2 + 1, frames]`` of waveforms ``[B, T]`` (float32, centred frames)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            if self.layout == "bigvgan":  # reflect-pad (n_fft - hop) / 2 on both sides, frames not centred
                pad = (self.n_fft - self.hop) // 2
                spec = torch.stft(F.pad(x.float().unsqueeze(1), (pad, pad), mode="reflect").squeeze(1), self.n_fft,
                                  self.hop, self.win, window=self.window.to(x.device), center=False,
                                  return_complex=True)
                return spec.abs().unsqueeze(1)
            spec = torch.stft(x.float(), self.n_fft, self.hop, self.win, window=self.window.to(x.device),
                              center=True, return_complex=True)
            return spec.abs().unsqueeze(1)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each conv and after ``conv_post``, then the flattened logits ``[B, N]``."""
        h = self.spectrogram(_audio(x))
        fmaps: list[Tensor] = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), LRELU_SLOPE)
            fmaps.append(h)
        h = self.conv_post(h)
        fmaps.append(h)
        fmaps.append(torch.flatten(h, 1))
        return fmaps


class MultiResolutionDiscriminator(nn.Module):
    """MRD: one :class:`ResolutionDiscriminator` per ``(n_fft, hop, win)`` resolution.

    Args:
        resolutions: the STFT resolutions (default :data:`DEFAULT_MRD_RESOLUTIONS`).
        channels: conv width (published 64).
        channels_scale: multiply ``channels`` by this factor (at least 1 channel), e.g. 0.125 for a CPU preset.
        window: analysis window, ``"rect"`` (reference) or ``"hann"``.
    """

    def __init__(self, resolutions: Sequence[Sequence[int]] = DEFAULT_MRD_RESOLUTIONS, channels: int = 64,
                 channels_scale: float = 1.0, window: str = "rect", layout: str = "univnet") -> None:
        super().__init__()
        if not resolutions:
            raise ValueError("MultiResolutionDiscriminator needs at least one resolution")
        width = max(1, int(round(int(channels) * float(channels_scale))))
        self.config: dict[str, Any] = {"resolutions": [[int(v) for v in r] for r in resolutions],
                                       "channels": int(channels), "channels_scale": float(channels_scale),
                                       "window": window}
        if layout != "univnet":
            self.config["layout"] = layout
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(r, width, window, layout) for r in resolutions)

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` or ``[B, T]``; ``cond`` ignored. One feature list per resolution."""
        return [d(x) for d in self.discriminators]
