"""HiFi-GAN's multi-scale discriminator (MSD): ``"msd"`` in :data:`~.registry.DISCRIMINATORS`.

Strided grouped 1-D convolutions on raw audio and on x2 / x4 average-pooled audio (published: 3 scales,
widths 128-128-256-512-1024-1024-1024); the raw-audio scale uses spectral normalisation, the others weight
normalisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Sequence

from torch import Tensor, nn

from ....config import AtLeastOne, Positive
from ..layers import to_audio_batch
from .common import conv_stack_features, norm_fn, scale_channels

__all__ = ["MSDConfig", "MSD_CHANNELS", "MSD_LAYERS", "MultiScaleDiscriminator", "ScaleDiscriminator",
           "msd_channel_multiples"]


@dataclass
class MSDConfig:
    """The ``discriminator.msd`` section: the number of scales, and a factor on every width (1.0 = published)."""

    num_scales: Annotated[int, AtLeastOne] = 3
    channels_scale: Annotated[float, Positive] = 1.0

    def build(self) -> "MultiScaleDiscriminator":
        """The discriminator of these settings."""
        return MultiScaleDiscriminator(self.num_scales, channels_scale=self.channels_scale)


#: Layout of a published MSD sub-discriminator: (kernel, stride, groups, padding).
MSD_LAYERS: tuple[tuple[int, int, int, int], ...] = (
    (15, 1, 1, 7),
    (41, 2, 4, 20),
    (41, 2, 16, 20),
    (41, 4, 16, 20),
    (41, 4, 16, 20),
    (41, 1, 16, 20),
    (5, 1, 1, 2),
)
#: The published widths of every scale sub-discriminator.
MSD_CHANNELS: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)


def msd_channel_multiples() -> list[int]:
    """What each MSD width must be a multiple of: the group counts of the grouped convolutions on both sides."""
    groups = [g for _, _, g, _ in MSD_LAYERS] + [1]
    return [math.lcm(groups[i], groups[i + 1]) for i in range(len(MSD_LAYERS))]


class ScaleDiscriminator(nn.Module):
    """One MSD sub-discriminator: strided grouped 1-D convs on raw (or pooled) audio."""

    def __init__(self, channels: Sequence[int] = MSD_CHANNELS, use_spectral_norm: bool = False) -> None:
        super().__init__()
        if len(channels) != len(MSD_LAYERS):
            raise ValueError(f"ScaleDiscriminator needs {len(MSD_LAYERS)} channel widths, got {list(channels)}")
        norm = norm_fn(use_spectral_norm)
        chans = [1] + [int(c) for c in channels]
        layers = []
        for i, (k, s, g, p) in enumerate(MSD_LAYERS):
            if chans[i] % g or chans[i + 1] % g:
                raise ValueError(
                    f"MSD layer {i} has groups={g}: its channels {chans[i]} -> {chans[i + 1]} must be multiples of {g}"
                )
            layers.append(norm(nn.Conv1d(chans[i], chans[i + 1], k, s, groups=g, padding=p)))
        self.convs = nn.ModuleList(layers)
        self.conv_post = norm(nn.Conv1d(chans[-1], 1, 3, 1, padding=1))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each conv and after ``conv_post``, then the flattened logits ``[B, N]``."""
        return conv_stack_features(self.convs, self.conv_post, x)


class MultiScaleDiscriminator(nn.Module):
    """MSD: sub-discriminators on raw audio and on x2 / x4 average-pooled audio.

    The first (raw-audio) scale uses spectral normalisation, the others weight
    normalisation; average pooling (kernel 4, stride 2, padding 2) between scales.

    Args:
        num_scales: number of sub-discriminators (published: 3).
        channels: the 7 conv widths (published 128-128-256-512-1024-1024-1024).
        channels_scale: multiply ``channels`` by this factor; widths are rounded to
            multiples of the grouped convolutions' group counts.
    """

    #: It works on ``[B, 1, T]`` (turning ``[B, T]`` into that view itself).
    takes_channel_axis = True

    def __init__(
        self,
        num_scales: int = 3,
        channels: Sequence[int] = MSD_CHANNELS,
        channels_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be positive, got {num_scales}")
        chans = scale_channels(channels, float(channels_scale), msd_channel_multiples())
        self.config: dict[str, Any] = {
            "num_scales": int(num_scales),
            "channels": [int(c) for c in channels],
            "channels_scale": float(channels_scale),
        }
        self.channels = chans
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(chans, use_spectral_norm=(i == 0)) for i in range(num_scales)
        )
        self.meanpools = nn.ModuleList(nn.AvgPool1d(4, 2, padding=2) for _ in range(num_scales - 1))

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` (or ``[B, T]``); ``cond`` ignored. One feature list per scale."""
        x = to_audio_batch(x)
        outs: list[list[Tensor]] = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self.meanpools[i - 1](x)
            outs.append(d(x))
        return outs
