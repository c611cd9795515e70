"""Building blocks the vocoder networks share: the leaky-ReLU slope, "same" padding, waveform batches, weight norm.

Generators (:mod:`~multigan.audio.vocoders.hifigan`) and discriminators
(:mod:`~multigan.audio.vocoders.discriminators`) both use them.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..features import waveform_batch

__all__ = ["LRELU_SLOPE", "get_padding", "mel_batch", "remove_weight_norm", "to_audio_batch"]

#: Negative slope of the leaky ReLUs inside the networks.
LRELU_SLOPE: float = 0.1


def mel_batch(noise: Optional[Tensor], cond: Optional[Tensor], n_mels: int, owner: str) -> Tensor:
    """The log-mel a family's ``forward(noise, cond)`` vocodes (``cond``, or ``noise`` for ``generator(mel)``), as
    ``[B, n_mels, frames]`` (a 2-D mel gains the batch axis); ``ValueError`` naming ``owner`` otherwise."""
    mel = cond if cond is not None else noise
    if mel is None:
        raise ValueError(f"{owner} is a conditional vocoder: pass the mel [B, {n_mels}, frames] as cond")
    if mel.dim() == 2:
        mel = mel.unsqueeze(0)
    if mel.dim() != 3 or mel.shape[1] != n_mels:
        raise ValueError(f"expected mel of shape [B, {n_mels}, frames], got {tuple(mel.shape)}")
    return mel


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of a stride-1 convolution with an odd ``kernel_size``."""
    return (kernel_size * dilation - dilation) // 2


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization under ``module`` into a plain weight.

    Spectral-norm parametrizations are folded too (their current value is kept).
    Returns ``module`` for chaining.
    """
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module


def to_audio_batch(x: Tensor) -> Tensor:
    """Accept ``[T]``, ``[B, T]`` or ``[B, 1, T]``; return ``[B, 1, T]`` (``x`` itself when it has that shape)."""
    return x if x.dim() == 3 and x.shape[1] == 1 else waveform_batch(x).unsqueeze(1)
