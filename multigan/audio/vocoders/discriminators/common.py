"""What the convolutional discriminators share: channel scaling and the choice of normalisation."""
from __future__ import annotations

from typing import Sequence

from torch.nn.utils.parametrizations import spectral_norm, weight_norm

__all__ = ["norm_fn", "scale_channels"]


def scale_channels(channels: Sequence[int], scale: float, multiples: Sequence[int]) -> list[int]:
    """Scale channel widths, rounding each to a positive multiple of ``multiples[i]``."""
    out = []
    for c, m in zip(channels, multiples):
        if scale == 1.0:
            out.append(int(c))
        else:
            out.append(max(m, int(round(c * scale / m)) * m))
    return out


def norm_fn(use_spectral_norm: bool):
    """The parametrization to wrap a conv in: spectral or weight normalisation."""
    return spectral_norm if use_spectral_norm else weight_norm
