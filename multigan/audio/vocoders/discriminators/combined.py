"""Several discriminators as one, each part weighted: what a vocoder recipe trains against.

:class:`CombinedDiscriminator` holds its parts as named children (``mpd``, ``msd``, ``mrd`` ...; state-dict keys
``mpd.discriminators.0...``, the names HiFi-GAN's MPD + MSD pair always had) and concatenates their
sub-discriminator lists in order, so the core trainer sees one discriminator following the list-of-feature-maps
convention.

Weights: Vocos scales the MRD's generator losses (adversarial and feature matching) by 0.1. The core trainer
sums sub-discriminators with one weight, so a part's weight is applied to the gradient that flows back into the
waveform it judges (forward unchanged): the generator's gradients from that part are exactly ``weight`` times
its unweighted ones. The discriminator's own update of that part is not scaled (with Adam a constant gradient
scale changes almost nothing). Parts of weight 1 see the waveform itself (MPD and MSD one shared
``[B, 1, T]`` view of it).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from ..layers import to_audio_batch

__all__ = ["CombinedDiscriminator"]


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by a constant."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float) -> Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad * ctx.scale, None


class CombinedDiscriminator(nn.Module):
    """Several discriminators as one: ``forward`` concatenates their sub-discriminator lists in order.

    Args:
        parts: discriminators following the list-of-feature-maps convention, by name (e.g. ``{"mpd": ...,
            "mrd": ...}``; a plain sequence names them ``"0"``, ``"1"`` ...).
        weights: per part, the factor on the generator's gradients from that part (default all 1; Vocos:
            MPD 1, MRD 0.1). See the module docstring for what is (and is not) scaled.
    """

    def __init__(self, parts: Union[Mapping[str, nn.Module], Sequence[nn.Module]],
                 weights: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        named = list(parts.items()) if isinstance(parts, Mapping) else [(str(i), p) for i, p in enumerate(parts)]
        if not named:
            raise ValueError("CombinedDiscriminator needs at least one discriminator")
        weights = [1.0] * len(named) if weights is None else [float(w) for w in weights]
        if len(weights) != len(named) or any(w <= 0 for w in weights):
            raise ValueError(f"CombinedDiscriminator: need one positive weight per part, got {weights}")
        for name, part in named:
            self.add_module(name, part)
        self.names = [name for name, _ in named]
        self.weights = weights

    @property
    def parts(self) -> list[nn.Module]:
        """The discriminators, in order."""
        return [self.get_submodule(name) for name in self.names]

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` or ``[B, T]``; the parts' outputs, concatenated.

        The parts of weight 1 that take ``[B, 1, T]`` (``takes_channel_axis``: MPD, MSD) share one such view of
        ``x``, so the gradients they send back meet in one place and are summed in the same order as when they
        were one module (HiFi-GAN's MPD + MSD pair).
        """
        outs: list[list[Tensor]] = []
        shared: Optional[Tensor] = None
        for part, w in zip(self.parts, self.weights):
            if w != 1.0 and x.requires_grad:
                xin = _ScaleGradient.apply(x, w)
            elif getattr(part, "takes_channel_axis", False):
                shared = to_audio_batch(x) if shared is None else shared
                xin = shared
            else:
                xin = x
            outs.extend(part(xin, cond))
        return outs
