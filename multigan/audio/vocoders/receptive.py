"""Receptive fields of vocoder networks, walked backwards from one output frame: the mel context streaming needs.

A vocoder family computes its context by walking its own layers from the output back to the mel
(:meth:`Reach.conv` / :meth:`Reach.strided` for a convolution or a down-sampling filter, :meth:`Reach.transposed`
for a transposed convolution, an up-sampling filter or an overlap-add, :meth:`Reach.union` where branches or
residuals meet; pointwise layers need nothing). At every tensor on the way the walk notes how many mel frames
left and right of the output frame the needed stretch of that tensor spans, at that tensor's rate (samples per
mel frame). A window of mel frames with at least that many frames on either side of a stretch of output
computes that stretch exactly as the whole utterance does: every value it needs, at every layer, lies inside
the window's own range, so the padding at the window's edges (zeros or replicated values) never reaches it.

This module imports nothing of multigan (families import it).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

from torch import nn

__all__ = ["Reach"]

#: The output frame the walk starts from: far from the utterance's start, so that no index goes negative.
_FRAME = 1 << 20


def _pair(value: Union[int, tuple]) -> int:
    return int(value[0] if isinstance(value, tuple) else value)


@dataclass(frozen=True)
class Reach:
    """The stretch ``[lo, hi]`` (inclusive) of a tensor at ``rate`` samples per mel frame that output frame
    ``frame`` depends on, and the most mel frames of context (``left``, ``right``) any tensor so far needs."""

    lo: int
    hi: int
    rate: int
    frame: int = _FRAME
    left: int = 0
    right: int = 0

    @classmethod
    def of_frame(cls, hop: int) -> "Reach":
        """The ``hop`` output samples of one mel frame (the walk's start)."""
        return cls(_FRAME * hop, _FRAME * hop + hop - 1, int(hop))

    def _at(self, lo: int, hi: int, rate: int) -> "Reach":
        if rate < 1:
            raise ValueError(f"receptive field walk: rate {rate} below one sample per frame")
        left = self.frame - lo // rate                  # window must start at or before floor(lo / rate)
        right = -(-(hi + 1) // rate) - 1 - self.frame   # and end at or after ceil((hi + 1) / rate)
        return replace(self, lo=lo, hi=hi, rate=rate, left=max(self.left, left), right=max(self.right, right))

    def strided(self, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> "Reach":
        """Through a convolution (``padding`` samples before the input; any padding mode: only the window's
        edges see it): the stretch of its input, at ``rate * stride``."""
        lo = self.lo * stride - padding
        return self._at(lo, self.hi * stride - padding + (kernel - 1) * dilation, self.rate * stride)

    def conv(self, m: nn.Conv1d) -> "Reach":
        """:meth:`strided` with the settings of module ``m``."""
        return self.strided(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation))

    def transposed(self, kernel: int, stride: int, padding: int, dilation: int = 1) -> "Reach":
        """Through a transposed convolution (or an overlap-add of ``kernel``-sample frames at ``stride``,
        trimmed by ``padding`` at the start): the stretch of its input, at ``rate / stride``."""
        if self.rate % stride:
            raise ValueError(f"receptive field walk: stride {stride} does not divide rate {self.rate}")
        lo = -(-(self.lo + padding - (kernel - 1) * dilation) // stride)
        hi = (self.hi + padding) // stride
        return self._at(lo, hi, self.rate // stride)

    def transposed_conv(self, m: nn.ConvTranspose1d) -> "Reach":
        """:meth:`transposed` with the settings of module ``m``."""
        return self.transposed(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation))

    def union(self, *others: "Reach") -> "Reach":
        """Where branches (or a residual and its branch) meet: the stretch covering all of them."""
        out = self
        for o in others:
            if o.rate != out.rate:
                raise ValueError(f"receptive field walk: branches at rates {out.rate} and {o.rate}")
            out = replace(out, lo=min(out.lo, o.lo), hi=max(out.hi, o.hi), left=max(out.left, o.left),
                          right=max(out.right, o.right))
        return out

    @property
    def context(self) -> tuple[int, int]:
        """``(left, right)`` mel frames of context."""
        return self.left, self.right
