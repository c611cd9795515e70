"""BigVGAN-v2's multi-scale sub-band CQT discriminator (MS-SB-CQTD; Gu et al., 2024): ``"cqt"`` in the registry.

Each :class:`CQTDiscriminator` up-samples the waveform 2x (``torchaudio.transforms.Resample(fs, 2 fs)``), takes
its constant-Q transform with nnAudio's ``CQT2010v2`` (sample rate ``2 fs``, ``n_octaves * bins_per_octave``
bins from 32.7 Hz, complex output, constant padding: what the reference uses), stacks real and imaginary parts
as 2 channels ``[B, 2, frames, bins]`` and applies one (3x9) conv per octave (sub-band, no normalisation),
concatenates the octaves along the bin axis, then ``convs``: a plain (3x9) conv to ``filters`` channels,
one weight-normed (3x9) conv per dilation (stride 2 along bins, dilation along time), a weight-normed (3x3)
conv, each followed by leaky ReLU 0.1 (these are the feature maps), and a weight-normed (3x3) ``conv_post``
(the logits, flattened; not a feature map, as in the reference). :class:`MultiScaleSubbandCQTDiscriminator` runs
one per ``(hop, n_octaves, bins_per_octave)``; published ``(512, 9, 24), (256, 9, 36), (256, 9, 48)``, 128 filters up to 1024, dilations 1, 2, 4.

The resampling and CQT kernels are rebuilt from the settings (buffers kept out of the state dict).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ....config import AtLeastOne, ConfigError
from ..layers import LRELU_SLOPE

__all__ = ["CQTConfig", "CQTDiscriminator", "MultiScaleSubbandCQTDiscriminator"]


@dataclass
class CQTConfig:
    """The ``discriminator.cqt`` section (defaults: BigVGAN-v2's published CQTD). ``sample_rate`` must be the
    vocoder's (a BigVGAN recipe checks it); ``filters``/``max_filters`` set the width (e.g. 16/128 on a CPU)."""

    sample_rate: Annotated[int, AtLeastOne] = 22050
    filters: Annotated[int, AtLeastOne] = 128
    max_filters: Annotated[int, AtLeastOne] = 1024
    filters_scale: Annotated[int, AtLeastOne] = 1
    dilations: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [1, 2, 4])
    hop_lengths: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [512, 256, 256])
    n_octaves: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [9, 9, 9])
    bins_per_octaves: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [24, 36, 48])
    normalize_volume: bool = False  # the reference's cqtd_normalize_volume: remove DC, peak 0.8

    def validate(self) -> None:
        """One ``n_octaves`` and ``bins_per_octaves`` entry per hop length."""
        if not (len(self.hop_lengths) == len(self.n_octaves) == len(self.bins_per_octaves) >= 1):
            raise ConfigError(f"hop_lengths: {self.hop_lengths}, n_octaves {self.n_octaves} and "
                              f"bins_per_octaves {self.bins_per_octaves} need one entry per scale")

    def build(self) -> "MultiScaleSubbandCQTDiscriminator":
        """The discriminator of these settings."""
        return MultiScaleSubbandCQTDiscriminator(
            self.sample_rate, self.hop_lengths, self.n_octaves, self.bins_per_octaves, self.filters,
            self.max_filters, self.filters_scale, self.dilations, self.normalize_volume)


def _padding(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return (kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2


def _non_persistent(module: nn.Module) -> None:
    for m in module.modules():
        for name, buf in list(m.named_buffers(recurse=False)):
            m.register_buffer(name, buf, persistent=False)


class CQTDiscriminator(nn.Module):
    """One scale of the MS-SB-CQTD (see the module docstring): waveform ``[B, 1, T]`` -> feature maps, logits."""

    def __init__(self, sample_rate: int, hop_length: int, n_octaves: int, bins_per_octave: int, filters: int = 128,
                 max_filters: int = 1024, filters_scale: int = 1, dilations: Sequence[int] = (1, 2, 4),
                 normalize_volume: bool = False) -> None:
        super().__init__()
        import torchaudio
        from nnAudio.features.cqt import CQT2010v2

        self.n_octaves, self.bins_per_octave = int(n_octaves), int(bins_per_octave)
        self.normalize_volume = bool(normalize_volume)
        self.resample = torchaudio.transforms.Resample(orig_freq=int(sample_rate), new_freq=2 * int(sample_rate))
        self.cqt_transform = CQT2010v2(sr=2 * int(sample_rate), hop_length=int(hop_length),
                                       n_bins=self.bins_per_octave * self.n_octaves,
                                       bins_per_octave=self.bins_per_octave, output_format="Complex",
                                       pad_mode="constant", verbose=False)
        _non_persistent(self.resample)
        _non_persistent(self.cqt_transform)
        k = (3, 9)
        self.conv_pres = nn.ModuleList(nn.Conv2d(2, 2, k, padding=_padding(k)) for _ in range(self.n_octaves))
        self.convs = nn.ModuleList([nn.Conv2d(2, filters, k, padding=_padding(k))])
        in_ch = min(filters_scale * filters, max_filters)
        for i, d in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            self.convs.append(weight_norm(nn.Conv2d(in_ch, out_ch, k, stride=(1, 2), dilation=(int(d), 1),
                                                    padding=_padding(k, (int(d), 1)))))
            in_ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        self.convs.append(weight_norm(nn.Conv2d(in_ch, out_ch, (3, 3), padding=(1, 1))))
        self.conv_post = weight_norm(nn.Conv2d(out_ch, 1, (3, 3), padding=(1, 1)))

    def transform(self, x: Tensor) -> Tensor:
        """Waveforms ``[B, T]`` -> CQT ``[B, 2 (real, imag), frames, bins]`` in float32."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            if self.normalize_volume:
                x = x - x.mean(dim=-1, keepdim=True)
                x = 0.8 * x / (x.abs().amax(dim=-1, keepdim=True) + 1e-9)
            z = self.cqt_transform(self.resample(x))        # [B, bins, frames, 2]
            return z.permute(0, 3, 2, 1)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each of ``convs``, then the flattened logits ``[B, N]`` (``conv_post``)."""
        z = self.transform(x[:, 0] if x.dim() == 3 else x)
        bpo = self.bins_per_octave
        h = torch.cat([conv(z[..., i * bpo:(i + 1) * bpo]) for i, conv in enumerate(self.conv_pres)], dim=-1)
        fmaps: list[Tensor] = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), LRELU_SLOPE)
            fmaps.append(h)
        fmaps.append(torch.flatten(self.conv_post(h), 1))  # the reference's feature maps leave conv_post out
        return fmaps


class MultiScaleSubbandCQTDiscriminator(nn.Module):
    """MS-SB-CQTD: one :class:`CQTDiscriminator` per ``(hop_length, n_octaves, bins_per_octave)``."""

    def __init__(self, sample_rate: int = 22050, hop_lengths: Sequence[int] = (512, 256, 256),
                 n_octaves: Sequence[int] = (9, 9, 9), bins_per_octaves: Sequence[int] = (24, 36, 48),
                 filters: int = 128, max_filters: int = 1024, filters_scale: int = 1,
                 dilations: Sequence[int] = (1, 2, 4), normalize_volume: bool = False) -> None:
        super().__init__()
        if not (len(hop_lengths) == len(n_octaves) == len(bins_per_octaves) >= 1):
            raise ValueError("MultiScaleSubbandCQTDiscriminator: one n_octaves and bins_per_octaves per hop length")
        self.config: dict[str, Any] = {"sample_rate": int(sample_rate), "hop_lengths": list(hop_lengths),
                                       "n_octaves": list(n_octaves), "bins_per_octaves": list(bins_per_octaves),
                                       "filters": int(filters), "max_filters": int(max_filters),
                                       "filters_scale": int(filters_scale), "dilations": list(dilations),
                                       "normalize_volume": bool(normalize_volume)}
        self.discriminators = nn.ModuleList(
            CQTDiscriminator(sample_rate, h, o, b, filters, max_filters, filters_scale, dilations, normalize_volume)
            for h, o, b in zip(hop_lengths, n_octaves, bins_per_octaves))

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` or ``[B, T]``; ``cond`` ignored. One feature list per scale."""
        return [d(x) for d in self.discriminators]
