"""Exact streaming vocoding: audio out as mel frames come in, equal to vocoding the whole utterance.

    for audio in voc.stream(mel_chunks):      # chunks [B, n_mels, n] (or [n_mels, n]), any sizes >= 0
        play(audio)                           # [B, n * hop] pieces; concatenated = voc(whole mel)

Each family states the mel context a stretch of output needs (``net.stream_context() -> (left, right)``,
computed from its layers by :class:`~multigan.audio.vocoders.receptive.Reach`). The output of frames
``[a, b)`` is computed from mel frames ``[a - left, b + right)`` (clipped to what exists) and the samples
of ``[a, b)`` are kept: every value those samples depend on, at every layer, lies inside that window, so
the zero padding at the window's edges never reaches them and they equal the whole-utterance output up to
float rounding (the windows' convolutions run over other lengths). A frame's audio therefore leaves
``right`` frames after the frame arrives: that is the added latency (look-ahead); ``left`` frames are kept
from the past. Vocos' inverse STFT (an overlap-add) is walked as a transposed convolution, so its frames'
overlap is part of the context.

This module imports no family and not :mod:`~multigan.audio.vocoders.vocoder` (which calls it).
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import torch
from torch import Tensor, nn

from ...errors import MultiganError

__all__ = ["frame_context", "stream_vocode"]


def frame_context(net: nn.Module) -> tuple[int, int]:
    """``(left, right)`` mel frames of context family network ``net`` needs (its ``stream_context()``)."""
    fn = getattr(net, "stream_context", None)
    if not callable(fn):
        raise MultiganError(f"{type(net).__name__} cannot stream: the family defines no stream_context() "
                            "(the mel frames of context its receptive field needs)")
    left, right = fn()
    return int(left), int(right)


def _as_chunk(chunk: Tensor, n_mels: int) -> Tensor:
    x = torch.as_tensor(chunk)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[1] != n_mels:
        raise ValueError(f"stream: expected mel chunks [B, {n_mels}, frames] or [{n_mels}, frames], "
                         f"got {tuple(x.shape)}")
    return x


def stream_vocode(vocode: Callable[[Tensor], Tensor], mel_chunks: Iterable[Tensor], *, n_mels: int, hop: int,
                  context: tuple[int, int], device: Optional[torch.device] = None,
                  dtype: Optional[torch.dtype] = None) -> Iterator[Tensor]:
    """Vocode ``mel_chunks`` as they come; yield ``[B, n * hop]`` audio as soon as it is final.

    Args:
        vocode: mel window ``[B, n_mels, w]`` -> audio ``[B, w * hop]`` (run without gradients).
        mel_chunks: ``[B, n_mels, n]`` or ``[n_mels, n]`` tensors (``n >= 0``; the batch size must not change).
        n_mels, hop: the vocoder's mel bins and samples per frame.
        context: ``(left, right)`` mel frames (:func:`frame_context`).
        device, dtype: where the windows are vocoded (default: the chunks').

    Nothing is yielded for a chunk that completes no new frame; the last piece comes when ``mel_chunks``
    ends. Concatenated, the pieces have ``frames * hop`` samples.
    """
    left, right = (int(c) for c in context)
    if left < 0 or right < 0:
        raise ValueError(f"stream: context must be >= 0 frames, got {context}")
    buf: Optional[Tensor] = None   # mel frames [start, received)
    start = received = emitted = 0

    def window(until: int) -> Tensor:
        nonlocal buf, start
        w0 = max(0, emitted - left)
        with torch.no_grad():
            audio = vocode(buf[:, :, w0 - start:])
        out = audio[:, (emitted - w0) * hop:(until - w0) * hop]
        keep = max(0, until - left)          # frames before this are never needed again
        if keep > start:
            buf, start = buf[:, :, keep - start:], keep
        return out

    for chunk in mel_chunks:
        x = _as_chunk(chunk, n_mels).to(device=device, dtype=dtype)
        if buf is not None and x.shape[0] != buf.shape[0]:
            raise ValueError(f"stream: batch size changed from {buf.shape[0]} to {x.shape[0]} between chunks")
        buf = x if buf is None else torch.cat([buf, x], dim=2)
        received += x.shape[2]
        ready = received - right             # frames whose every needed input has arrived
        if ready > emitted:
            out = window(ready)
            emitted = ready
            yield out
    if buf is not None and received > emitted:
        out = window(received)               # the utterance ends: its end is the whole utterance's end
        emitted = received
        yield out
