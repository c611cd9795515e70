"""UnivNet's multi-resolution STFT discriminator (MRD) as Vocos trains it: ``"mrd"`` in the registry.

* :class:`ResolutionDiscriminator` -- 2-D convolutions over the linear magnitude spectrogram of one
  ``(n_fft, hop, win)`` resolution: (7x5), three strided (5x3)/(3x3) convs halving the frequency axis, a
  (3x3) conv, then a 1-channel (3x3) output conv; leaky ReLU 0.1; weight normalisation.
* :class:`MultiResolutionDiscriminator` -- one per resolution; published
  ``(512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)`` at 64 channels (Vocos; UnivNet 32).
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

__all__ = ["DEFAULT_MRD_RESOLUTIONS", "MRDConfig", "MultiResolutionDiscriminator", "ResolutionDiscriminator"]

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


@dataclass
class MRDConfig:
    """The ``discriminator.mrd`` section: STFT resolutions, conv width and a factor on it, analysis window."""

    resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in DEFAULT_MRD_RESOLUTIONS])
    channels: Annotated[int, AtLeastOne] = 64
    channels_scale: Annotated[float, Positive] = 1.0
    window: Literal["rect", "hann"] = "rect"  # "rect": the reference's torch.stft without a window

    def build(self) -> "MultiResolutionDiscriminator":
        """The discriminator of these settings."""
        return MultiResolutionDiscriminator(self.resolutions, self.channels, self.channels_scale, self.window)


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

    def __init__(self, resolution: Sequence[int], channels: int = 64, window: str = "rect") -> None:
        super().__init__()
        n_fft, hop, win = (int(v) for v in resolution)
        if not (1 <= hop and 1 <= win <= n_fft):
            raise ValueError(f"MRD resolution {tuple(resolution)}: need hop >= 1 and 1 <= win_length <= n_fft")
        if window not in ("rect", "hann"):
            raise ValueError(f"MRD window={window!r}; valid: 'rect', 'hann'")
        self.n_fft, self.hop, self.win = n_fft, hop, win
        w = torch.ones(win) if window == "rect" else torch.hann_window(win)
        self.register_buffer("window", w, persistent=False)
        chans = [1] + [int(channels)] * len(_LAYERS)
        self.convs = nn.ModuleList(weight_norm(nn.Conv2d(chans[i], chans[i + 1], k, s, p))
                                   for i, (k, s, p) in enumerate(_LAYERS))
        self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 3), 1, (1, 1)))

    def spectrogram(self, x: Tensor) -> Tensor:
        """Linear magnitude ``[B, 1, n_fft // 2 + 1, frames]`` of waveforms ``[B, T]`` (float32, centred frames)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
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
                 channels_scale: float = 1.0, window: str = "rect") -> None:
        super().__init__()
        if not resolutions:
            raise ValueError("MultiResolutionDiscriminator needs at least one resolution")
        width = max(1, int(round(int(channels) * float(channels_scale))))
        self.config: dict[str, Any] = {"resolutions": [[int(v) for v in r] for r in resolutions],
                                       "channels": int(channels), "channels_scale": float(channels_scale),
                                       "window": window}
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(r, width, window) for r in resolutions)

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` or ``[B, T]``; ``cond`` ignored. One feature list per resolution."""
        return [d(x) for d in self.discriminators]
