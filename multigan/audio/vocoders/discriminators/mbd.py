"""The multi-band multi-scale STFT discriminator (MBD) of DAC, as BigVGAN-v2 trains it: ``"mbd"`` in the registry.

Each :class:`BandDiscriminator` removes the DC offset, peak-normalises to 0.8, takes a centred Hann-window STFT
(``window_length``, hop ``window_length / 4``), stacks real and imaginary parts ``[B, 2, frames, bins]``,
splits the bins into bands (fractions ``(0, .1), (.1, .25), (.25, .5), (.5, .75), (.75, 1)`` of
``window_length // 2 + 1``), runs five weight-normed convs per band ((3x9), three (3x9) at stride 2 along bins,
(3x3); leaky ReLU 0.1; the outputs of the last four are the feature maps), concatenates the bands along the bin
axis and applies a shared (3x3) ``conv_post``, whose output is a feature map and the logits, as in the reference.
:class:`MultiBandDiscriminator` runs one per window length (published 2048, 1024, 512; 32 channels).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ....config import AtLeastOne, ConfigError, Positive
from ..layers import LRELU_SLOPE

__all__ = ["BandDiscriminator", "DEFAULT_BANDS", "MBDConfig", "MultiBandDiscriminator"]

#: Band edges as fractions of the one-sided bins (DAC / Vocos / BigVGAN).
DEFAULT_BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


@dataclass
class MBDConfig:
    """The ``discriminator.mbd`` section (defaults: BigVGAN-v2's ``mbd_fft_sizes`` [2048, 1024, 512], 32 channels)."""

    fft_sizes: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [2048, 1024, 512])
    channels: Annotated[int, AtLeastOne] = 32
    hop_factor: Annotated[float, Positive] = 0.25
    bands: list[list[float]] = field(default_factory=lambda: [list(b) for b in DEFAULT_BANDS])

    def validate(self) -> None:
        """Bands are increasing fractions in [0, 1]."""
        for b in self.bands:
            if len(b) != 2 or not 0.0 <= b[0] < b[1] <= 1.0:
                raise ConfigError(f"bands: each band is [start, end] with 0 <= start < end <= 1, got {b}")

    def build(self) -> "MultiBandDiscriminator":
        """The discriminator of these settings."""
        return MultiBandDiscriminator(self.fft_sizes, self.channels, self.hop_factor, self.bands)


def _stack(channels: int) -> nn.ModuleList:
    layers = [((2, channels), (3, 9), (1, 1), (1, 4))] + [((channels, channels), (3, 9), (1, 2), (1, 4))] * 3 \
        + [((channels, channels), (3, 3), (1, 1), (1, 1))]
    return nn.ModuleList(weight_norm(nn.Conv2d(cin, cout, k, s, padding=p)) for (cin, cout), k, s, p in layers)


class BandDiscriminator(nn.Module):
    """One MBD scale on an STFT of ``window_length`` samples (see the module docstring)."""

    def __init__(self, window_length: int, channels: int = 32, hop_factor: float = 0.25,
                 bands: Sequence[Sequence[float]] = DEFAULT_BANDS) -> None:
        super().__init__()
        self.window_length = int(window_length)
        self.hop = int(self.window_length * float(hop_factor))
        if self.hop < 1:
            raise ValueError(f"MBD window {window_length} x hop_factor {hop_factor} gives a hop below 1")
        self.register_buffer("window", torch.hann_window(self.window_length), persistent=False)
        n_bins = self.window_length // 2 + 1
        self.bands = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in bands]
        self.band_convs = nn.ModuleList(_stack(int(channels)) for _ in self.bands)
        self.conv_post = weight_norm(nn.Conv2d(int(channels), 1, (3, 3), (1, 1), padding=(1, 1)))

    def spectrogram(self, x: Tensor) -> list[Tensor]:
        """Waveforms ``[B, T]`` -> per band ``[B, 2, frames, band bins]`` (float32)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            x = x - x.mean(dim=-1, keepdim=True)
            x = 0.8 * x / (x.abs().amax(dim=-1, keepdim=True) + 1e-9)
            spec = torch.stft(x, self.window_length, self.hop, self.window_length, window=self.window.to(x.device),
                              center=True, pad_mode="reflect", return_complex=True)
            spec = torch.view_as_real(spec).permute(0, 3, 2, 1)  # [B, F, T, 2] -> [B, 2, T, F]
        return [spec[..., lo:hi] for lo, hi in self.bands]

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps (per band, convs 2-5), ``conv_post``'s output, then the flattened logits."""
        fmaps: list[Tensor] = []
        outs = []
        for band, stack in zip(self.spectrogram(x[:, 0] if x.dim() == 3 else x), self.band_convs):
            for i, conv in enumerate(stack):
                band = F.leaky_relu(conv(band), LRELU_SLOPE)
                if i > 0:
                    fmaps.append(band)
            outs.append(band)
        h = self.conv_post(torch.cat(outs, dim=-1))
        fmaps.append(h)
        fmaps.append(torch.flatten(h, 1))
        return fmaps


class MultiBandDiscriminator(nn.Module):
    """MBD: one :class:`BandDiscriminator` per STFT window length."""

    def __init__(self, fft_sizes: Sequence[int] = (2048, 1024, 512), channels: int = 32, hop_factor: float = 0.25,
                 bands: Sequence[Sequence[float]] = DEFAULT_BANDS) -> None:
        super().__init__()
        if not fft_sizes:
            raise ValueError("MultiBandDiscriminator needs at least one window length")
        self.config: dict[str, Any] = {"fft_sizes": [int(w) for w in fft_sizes], "channels": int(channels),
                                       "hop_factor": float(hop_factor), "bands": [list(b) for b in bands]}
        self.discriminators = nn.ModuleList(BandDiscriminator(w, channels, hop_factor, bands) for w in fft_sizes)

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` or ``[B, T]``; ``cond`` ignored. One feature list per window length."""
        return [d(x) for d in self.discriminators]
