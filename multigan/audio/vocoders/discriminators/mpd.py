"""HiFi-GAN's multi-period discriminator (MPD): ``"mpd"`` in :data:`~.registry.DISCRIMINATORS`.

Each :class:`PeriodDiscriminator` folds the waveform ``[B, 1, T]`` into ``[B, 1, T/p, p]`` (reflect-padding ``T``
to a multiple of ``p``) and applies (k x 1) convolutions, so it sees every ``p``-th sample; the published
periods are 2, 3, 5, 7 and 11 at widths 32-128-512-1024-1024.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ....config import AtLeastOne, Positive
from ..layers import get_padding, to_audio_batch
from .common import conv_stack_features, norm_fn, scale_channels

__all__ = ["MPDConfig", "MPD_CHANNELS", "MultiPeriodDiscriminator", "PeriodDiscriminator"]

#: The published widths of every period sub-discriminator.
MPD_CHANNELS: tuple[int, ...] = (32, 128, 512, 1024, 1024)


@dataclass
class MPDConfig:
    """The ``discriminator.mpd`` section: fold periods, and a factor on every width (1.0 = published)."""

    periods: list[Annotated[int, AtLeastOne]] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    channels_scale: Annotated[float, Positive] = 1.0

    def build(self) -> "MultiPeriodDiscriminator":
        """The discriminator of these settings."""
        return MultiPeriodDiscriminator(self.periods, channels_scale=self.channels_scale)


class PeriodDiscriminator(nn.Module):
    """One MPD sub-discriminator: folds ``[B, 1, T]`` into ``[B, 1, T/p, p]`` and applies (k x 1) convs."""

    def __init__(
        self,
        period: int,
        channels: Sequence[int] = MPD_CHANNELS,
        kernel_size: int = 5,
        stride: int = 3,
        use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be positive, got {period}")
        self.period = int(period)
        norm = norm_fn(use_spectral_norm)
        pad = (get_padding(kernel_size, 1), 0)
        chans = [1] + [int(c) for c in channels]
        n = len(channels)
        self.convs = nn.ModuleList(
            norm(
                nn.Conv2d(
                    chans[i],
                    chans[i + 1],
                    (kernel_size, 1),
                    (stride if i < n - 1 else 1, 1),
                    padding=pad,
                )
            )
            for i in range(n)
        )
        self.conv_post = norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each conv and after ``conv_post``, then the flattened logits ``[B, N]``."""
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), mode="reflect" if n_pad < t else "constant")
            t += n_pad
        x = x.view(b, c, t // self.period, self.period)
        return conv_stack_features(self.convs, self.conv_post, x)


class MultiPeriodDiscriminator(nn.Module):
    """MPD: one :class:`PeriodDiscriminator` per period (published: 2, 3, 5, 7, 11).

    Args:
        periods: fold periods.
        channels: conv widths of each sub-discriminator (published 32-128-512-1024-1024).
        channels_scale: multiply ``channels`` by this factor (e.g. 0.25 for a CPU preset).
        kernel_size, stride: of the (k x 1) convolutions (published 5 and 3).
        use_spectral_norm: spectral instead of weight normalisation.
    """

    #: It works on ``[B, 1, T]`` (turning ``[B, T]`` into that view itself).
    takes_channel_axis = True

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = MPD_CHANNELS,
        channels_scale: float = 1.0,
        kernel_size: int = 5,
        stride: int = 3,
        use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        chans = scale_channels(channels, float(channels_scale), [1] * len(channels))
        self.config: dict[str, Any] = {
            "periods": [int(p) for p in periods],
            "channels": [int(c) for c in channels],
            "channels_scale": float(channels_scale),
            "kernel_size": int(kernel_size),
            "stride": int(stride),
            "use_spectral_norm": bool(use_spectral_norm),
        }
        self.channels = chans
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, chans, kernel_size, stride, use_spectral_norm) for p in periods
        )

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` (or ``[B, T]``); ``cond`` ignored. One feature list per period."""
        x = to_audio_batch(x)
        return [d(x) for d in self.discriminators]
