"""The streaming context of the BigVGAN family, walked through its layers (kept beside :mod:`.bigvgan`).

:func:`bigvgan_stream_context` is what ``BigVGANGenerator.stream_context()`` returns
(:func:`multigan.audio.vocoders.streaming.frame_context` calls it for a BigVGAN network that has no such
method). The walk: ``conv_post``, the anti-aliased ``activation_post``, then per stage (last first) the widest
AMP block and the transposed conv, then ``conv_pre``. An anti-aliased activation
(:class:`~multigan.audio.vocoders.alias_free.Activation1d`) is walked as its down-sampling filter (a strided
conv whose left padding is the replicate padding), the pointwise Snake, and its up-sampling filter (a
transposed conv trimmed by ``(kernel - ratio) // 2`` net of the replicate padding's output).

This module imports nothing of multigan but :mod:`.receptive` (it reads the modules' settings).
"""
from __future__ import annotations

from torch import nn

from .receptive import Reach

__all__ = ["activation_reach", "amp_block_reach", "bigvgan_stream_context"]


def activation_reach(act: nn.Module, r: Reach) -> Reach:
    """Back through an ``Activation1d``: down-sampling filter, activation (pointwise), up-sampling filter."""
    down, up = act.downsample, act.upsample
    r = r.strided(down.kernel_size, down.ratio, down.pad_left)
    return r.transposed(up.kernel_size, up.ratio, up.trim_left - up.pad * up.ratio)


def amp_block_reach(block: nn.Module, r: Reach) -> Reach:
    """Back through an AMP block (type 1: act, dilated conv, act, conv per dilation; type 2: act, conv), residual."""
    if hasattr(block, "convs1"):
        for i in reversed(range(len(block.convs1))):
            h = activation_reach(block.activations[2 * i + 1], r.conv(block.convs2[i]))
            r = r.union(activation_reach(block.activations[2 * i], h.conv(block.convs1[i])))
        return r
    for conv, act in reversed(list(zip(block.convs, block.activations))):
        r = r.union(activation_reach(act, r.conv(conv)))
    return r


def bigvgan_stream_context(net: nn.Module) -> tuple[int, int]:
    """Mel frames ``(left, right)`` a chunk of a BigVGAN network needs beyond its own (see the module doc)."""
    r = activation_reach(net.activation_post, Reach.of_frame(net.hop_size).conv(net.conv_post))
    for i in reversed(range(net.num_upsamples)):
        blocks = net.resblocks[i * net.num_kernels:(i + 1) * net.num_kernels]
        r = r.union(*(amp_block_reach(b, r) for b in blocks))
        r = r.transposed_conv(net.ups[i][0])
    return r.conv(net.conv_pre).context
