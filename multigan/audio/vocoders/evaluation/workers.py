"""``eval-vocoder --workers N``: the clips scored in N processes, each with its own models and one torch thread.

Each worker (started with ``spawn``: no state shared with the parent, torch's thread pool included) loads the runs,
builds the Griffin-Lim system and the scorer once, then scores whole clips as the parent hands them out; the parent
collects the clips' scores in clip order, so the result equals the one-process result. The pitch tracker seeds and
restores numpy's stream per clip in its own process, so the tracks do not depend on the number of workers.
"""
from __future__ import annotations

import multiprocessing
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch

from .protocol import ClipScorer
from .table import ClipScores, System, griffin_lim_system, score_clip, vocoder_system

__all__ = ["score_in_workers"]

_STATE: dict[str, Any] = {}


def _start(runs: Sequence[str], device: str, gl: Optional[Mapping[str, Any]], sample_rate: int,
           scorer_options: Mapping[str, Any]) -> None:
    """Worker initialiser: one torch thread, the runs, Griffin-Lim and the scorer, once per process."""
    from ..cli import load_vocoder

    torch.set_num_threads(1)
    systems: list[System] = [vocoder_system(run, load_vocoder(run, device)) for run in runs]
    if gl is not None:
        systems.append(griffin_lim_system(gl["mel"], gl["n_iter"]))
    _STATE.update(systems=systems, sample_rate=sample_rate,
                  scorer=ClipScorer.for_rate(sample_rate, device=device, **scorer_options))


def _score(item: tuple[str, np.ndarray, bool]) -> ClipScores:
    name, wav, keep = item
    return score_clip(name, wav, _STATE["sample_rate"], _STATE["systems"], _STATE["scorer"], keep_audio=keep)


def score_in_workers(clips: Sequence[tuple[str, np.ndarray]], sample_rate: int, runs: Sequence[str],
                     gl: Optional[Mapping[str, Any]], scorer_options: Mapping[str, Any], workers: int,
                     device: str = "cpu", keep_audio: int = 0) -> Iterator[ClipScores]:
    """Yield every clip's :class:`~.table.ClipScores`, in clip order, scored by ``workers`` processes.

    ``gl``: ``{"mel": settings, "n_iter": N}`` for a Griffin-Lim system (``None``: none); ``scorer_options``: the
    keyword arguments of :meth:`~.protocol.ClipScorer.for_rate` but the rate and device.
    """
    items = [(name, wav, index < keep_audio) for index, (name, wav) in enumerate(clips)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, _start, (list(runs), device, gl, sample_rate, dict(scorer_options))) as pool:
        yield from pool.imap(_score, items)
