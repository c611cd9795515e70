"""What the convolutional discriminators share: channel scaling and the choice of normalisation."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from ..layers import LRELU_SLOPE

__all__ = ["conv_stack_features", "norm_fn", "scale_channels"]


def conv_stack_features(convs: nn.ModuleList, conv_post: nn.Module, x: Tensor) -> list[Tensor]:
    """Feature maps after each leaky-ReLU conv and after ``conv_post``, then the flattened logits ``[B, N]``
    (the reference's feature-matching loss includes the final conv output too)."""
    fmaps: list[Tensor] = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmaps.append(x)
    x = conv_post(x)
    fmaps.append(x)
    fmaps.append(torch.flatten(x, 1))
    return fmaps


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
