"""Several systems scored on the same clips: the table ``multigan eval-vocoder`` prints, and the audio of its page.

A *system* is a function from an original clip (1-D float32 at the clips' rate) to its resynthesis at the same
rate: a vocoder run (analysis with its own front end, resampling to its rate and back), or Griffin-Lim from the
mels of a vocoder's front end. :func:`score_systems` scores each on every clip with one
:class:`~.protocol.ClipScorer` and summarises each with bootstrapped intervals.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ....errors import MultiganError
from ...features import LogMel
from ..metrics import GriffinLimBaseline
from ..vocoder import Vocoder
from .mos import MOS_RATE
from .page import PageClip
from .protocol import METRICS, ClipScorer, summarize, to_rate

__all__ = ["ClipScores", "System", "collect", "griffin_lim_system", "score_clip", "score_systems", "vocoder_system"]

#: A named resynthesis: ``(name, fn(original [T], sample_rate) -> resynthesis [T] at the same rate)``.
System = tuple[str, Callable[[np.ndarray, int], np.ndarray]]


def vocoder_system(name: str, voc: Vocoder) -> System:
    """``voc`` as a system: resample to its rate, its own mel front end, vocode, resample back."""

    def run(wav: np.ndarray, rate: int) -> np.ndarray:
        out = voc.resynthesize(wav, rate).numpy()
        return to_rate(out, voc.sample_rate, rate)[: wav.shape[0]]

    return name, run


def griffin_lim_system(mel_cfg: Mapping[str, Any], n_iter: int = 100, name: str = "griffin-lim") -> System:
    """NNLS + fast Griffin-Lim (:class:`~multigan.audio.vocoders.metrics.GriffinLimBaseline`, librosa) from the
    log-mels of ``mel_cfg`` (HiFi-GAN front end), at ``mel_cfg``'s rate (the clip is resampled there and back)."""
    gl, mel = GriffinLimBaseline(mel_cfg, n_iter=n_iter), LogMel.from_settings(mel_cfg)
    sr, hop = int(mel_cfg["sample_rate"]), int(mel_cfg["hop_size"])

    def run(wav: np.ndarray, rate: int) -> np.ndarray:
        x = torch.from_numpy(to_rate(wav, rate, sr))
        padded = torch.nn.functional.pad(x, (0, -(-x.shape[0] // hop) * hop - x.shape[0]))
        with torch.no_grad():
            y = gl(mel(padded), padded.shape[0])[: x.shape[0]]
        return to_rate(y, sr, rate)[: wav.shape[0]]

    return name, run


class ClipScores(NamedTuple):
    """Every system's metrics on one clip, the predicted MOS of the original, and the audio (``{}`` when not kept)."""

    name: str
    rows: dict[str, dict[str, float]]
    original_mos: Optional[float]
    audio: dict[str, np.ndarray]


def score_clip(name: str, wav: np.ndarray, sample_rate: int, systems: Sequence[System], scorer: ClipScorer,
               keep_audio: bool = False) -> ClipScores:
    """Resynthesise one clip with every system and score each resynthesis against it."""
    wav = np.ascontiguousarray(np.asarray(wav, dtype=np.float32).reshape(-1))
    audio = {"original": wav}
    mos = scorer.mos(to_rate(wav, sample_rate, MOS_RATE)) if scorer.mos is not None else None
    rows = {}
    for system, fn in systems:
        out = np.asarray(fn(wav, sample_rate), dtype=np.float32).reshape(-1)
        rows[system] = scorer.score(torch.from_numpy(out), torch.from_numpy(wav), sample_rate, key=name)
        audio[system] = out
    return ClipScores(name, rows, mos, audio if keep_audio else {})


def check_systems(names: Sequence[str]) -> None:
    """At least one system, and no two with the same name."""
    if not names:
        raise MultiganError("nothing to score: give at least one vocoder run (or --griffin-lim)")
    if len(set(names)) != len(names):
        raise MultiganError(f"two systems have the same name: {list(names)}")


def collect(scores: Iterable[ClipScores], names: Sequence[str], sample_rate: int, metric_keys: Sequence[str],
            seed: int = 0) -> tuple[dict[str, Any], list[PageClip]]:
    """The result of :func:`score_systems` from the clips' scores (in clip order)."""
    start = time.monotonic()
    rows: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    per_clip: dict[str, dict[str, dict[str, float]]] = {n: {} for n in names}
    original_mos: list[float] = []
    page: list[PageClip] = []
    count = 0
    for clip in scores:
        count += 1
        for name in names:
            rows[name].append(clip.rows[name])
            per_clip[name][clip.name] = clip.rows[name]
        if clip.original_mos is not None:
            original_mos.append(clip.original_mos)
        if clip.audio:
            page.append(PageClip(clip.name, sample_rate, clip.audio))
    if not count:
        raise MultiganError("no clips to score")
    result: dict[str, Any] = {"systems": [{"name": n, **summarize(rows[n], seed=seed)} for n in names]}
    if original_mos:
        result["original"] = {"name": "original", **summarize([{"mos": m} for m in original_mos], seed=seed)}
    result["metrics"] = {k: {"label": METRICS[k].label, "higher_is_better": METRICS[k].higher_is_better}
                         for k in metric_keys}
    result.update({"clips": count, "sample_rate": int(sample_rate), "per_clip": per_clip,
                   "seconds": round(time.monotonic() - start, 1)})
    return result, page


def progress_bar(total: int, enabled: bool) -> Any:
    """The command's progress bar (on stderr), counting resyntheses."""
    return tqdm(total=total, desc="eval-vocoder", unit="resynthesis", disable=not enabled)


def score_systems(clips: Sequence[tuple[str, np.ndarray]], sample_rate: int, systems: Sequence[System],
                  scorer: ClipScorer, keep_audio: int = 0, progress: bool = True,
                  seed: int = 0) -> tuple[dict[str, Any], list[PageClip]]:
    """Score every system on every clip (``(name, waveform at sample_rate)``), in this process.

    Returns the result (``systems``: one summary per system in the given order, with ``name``, each metric's
    mean, ``clips`` and ``ci95``; ``original``: the predicted MOS of the originals when the scorer has one;
    ``per_clip``; ``metrics``: labels and directions; ``seconds``) and, for the first ``keep_audio`` clips, their
    audio for the listening page.
    """
    names = [n for n, _ in systems]
    check_systems(names)
    bar = progress_bar(len(clips) * len(systems), progress)

    def each() -> Iterator[ClipScores]:
        for index, (name, wav) in enumerate(clips):
            yield score_clip(name, wav, sample_rate, systems, scorer, keep_audio=index < keep_audio)
            bar.update(len(systems))

    try:
        return collect(each(), names, sample_rate, scorer.keys, seed)
    finally:
        bar.close()


def describe_protocol(pitch_model: Optional[str], mos: bool) -> dict[str, Optional[str]]:
    """What the figures depend on, for the JSON: the pitch-tracker size and the MOS predictor."""
    return {"pitch_model": None if pitch_model in (None, "none") else pitch_model,
            "mos_model": "distillmos (DistillMOS v7, wheel weights)" if mos else None,
            "mel_l1": "HiFi-GAN log-mel, 1024/256, 80 bands, full band, at the clips' rate",
            "intervals": "percentile bootstrap of the mean over clips, 2000 resamples, 95 %"}
