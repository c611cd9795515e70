"""Every metric of a resynthesised clip against its original, and the summary of a system over clips.

One function per metric family, used by every caller (``multigan eval-vocoder``, the vocoder recipes' validation,
``benchmarks/vocoder_compare.py``): nothing computes a metric twice in two ways.

=============== ================================================================================ ==========
key             what                                                                             better
=============== ================================================================================ ==========
``pesq_wb``     wideband PESQ (ITU-T P.862.2, the ``pesq`` package) at 16 kHz                    higher
``mr_stft``     multi-resolution STFT distance (:func:`~multigan.audio.losses.multi_resolution_stft_distance`) lower
``mel_l1``      mean abs log-mel difference, full band (HiFi-GAN's "mel-spectrogram error")      lower
``mel_l1_8k``   the same over the vocoder's input band (validation only)                          lower
``periodicity`` periodicity RMSE (:mod:`.pitch`, CREPE at 16 kHz)                                lower
``vuv_f1``      voiced/unvoiced F1 (:mod:`.pitch`)                                               higher
``pitch_rmse``  pitch RMSE in cents over frames voiced in both (:mod:`.pitch`)                   lower
``mos``         predicted MOS of the resynthesis alone (:mod:`.mos`, DistillMOS at 16 kHz)       higher
``stoi``        short-time objective intelligibility (``pystoi``, optional)                      higher
=============== ================================================================================ ==========
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ....errors import MultiganError
from ...features import LogMel
from ...io import resample
from ...losses import mel_l1, multi_resolution_stft_distance
from .intervals import mean_and_interval
from .mos import MOS_RATE, MosPredictor
from .pitch import PITCH_RATE, PitchTrack, PitchTracker, compare_tracks, optional_tracker

__all__ = ["METRICS", "PESQ_RATE", "ClipScorer", "Metric", "enabled_metrics", "pesq_wb", "summarize"]

#: Wideband PESQ works at 16 kHz.
PESQ_RATE = 16000


@dataclass(frozen=True)
class Metric:
    """A metric's key, its label for tables and whether a higher value is better."""

    key: str
    label: str
    higher_is_better: bool


#: Every metric of the protocol, in table order.
METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("pesq_wb", "PESQ-wb", True), Metric("mr_stft", "MR-STFT", False), Metric("mel_l1", "mel L1", False),
    Metric("mel_l1_8k", "mel L1 (input band)", False), Metric("periodicity", "periodicity RMSE", False),
    Metric("vuv_f1", "V/UV F1", True), Metric("pitch_rmse", "pitch RMSE (cents)", False),
    Metric("mos", "predicted MOS", True), Metric("stoi", "STOI", True))}


def _np(x: Tensor | np.ndarray) -> np.ndarray:
    array = x.detach().cpu().float().numpy() if isinstance(x, Tensor) else np.asarray(x, np.float32)
    return array.reshape(-1)


def to_rate(wav: Tensor | np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """A 1-D float32 copy of ``wav`` at ``new_rate`` (soxr HQ, the library's one resampler)."""
    return resample(np.ascontiguousarray(_np(wav)), int(rate), int(new_rate))


def pesq_wb(reference: Tensor | np.ndarray, degraded: Tensor | np.ndarray, sample_rate: int) -> float:
    """Wideband PESQ (MOS-LQO, about 1.0-4.64) of ``degraded`` against ``reference`` (1-D, same rate).

    Both signals are resampled to 16 kHz (soxr HQ) first. Returns NaN when either signal is silent or
    PESQ finds no speech in the reference. Identical signals score 4.644 (the top of the wideband scale).
    """
    from pesq import NoUtterancesError, pesq

    ref, deg = _np(reference), _np(degraded)
    n = min(ref.shape[0], deg.shape[0])
    if not np.any(ref[:n]) or not np.any(deg[:n]):
        return math.nan  # silence: PESQ is undefined
    ref = to_rate(ref[:n], sample_rate, PESQ_RATE).astype(np.float64)
    deg = to_rate(deg[:n], sample_rate, PESQ_RATE).astype(np.float64)
    try:
        return float(pesq(PESQ_RATE, ref, deg, "wb"))
    except NoUtterancesError:
        return math.nan


def stoi(reference: Tensor | np.ndarray, degraded: Tensor | np.ndarray, sample_rate: int) -> float:
    """STOI (``pystoi``, about 0-1) of ``degraded`` against ``reference`` (1-D, same rate)."""
    try:
        from pystoi import stoi as pystoi_stoi
    except ImportError as exc:  # pragma: no cover - a dependency of multigan
        raise MultiganError("STOI needs pystoi: pip install pystoi") from exc
    ref, deg = _np(reference), _np(degraded)
    n = min(ref.shape[0], deg.shape[0])
    return float(pystoi_stoi(ref[:n].astype(np.float64), deg[:n].astype(np.float64), int(sample_rate)))


def enabled_metrics(*, pesq: bool, pitch: bool, mos: bool, stoi: bool = False, input_band: bool = False) -> list[str]:
    """The metric keys a :class:`ClipScorer` with these metrics switched on reports, in table order (``mel_l1`` and
    ``mr_stft`` always; ``input_band``: ``mel_l1_8k``; ``pitch``: periodicity, V/UV F1 and pitch RMSE)."""
    on = {"mel_l1", "mr_stft"}
    on |= {"mel_l1_8k"} if input_band else set()
    on |= {"pesq_wb"} if pesq else set()
    on |= {"periodicity", "vuv_f1", "pitch_rmse"} if pitch else set()
    on |= {"mos"} if mos else set()
    on |= {"stoi"} if stoi else set()
    return [k for k in METRICS if k in on]


class ClipScorer:
    """Scores resynthesised clips against their originals with the metrics it was built with.

    Args:
        loss_mel: the mel of ``mel_l1`` (full band).
        input_mel: the mel of ``mel_l1_8k`` (a vocoder's input band; ``None``: not computed).
        pesq: compute ``pesq_wb``.
        pitch: a :class:`~.pitch.PitchTracker` for ``periodicity``, ``vuv_f1``, ``pitch_rmse`` (``None``: off).
        mos: a :class:`~.mos.MosPredictor` for ``mos`` (``None``: off).
        with_stoi: compute ``stoi``.

    The original's pitch track and MOS depend on the original alone: :meth:`score` keeps them by ``key`` (the
    clip's name), so scoring several systems on the same clips tracks each original once.
    """

    def __init__(self, loss_mel: LogMel, input_mel: Optional[LogMel] = None, pesq: bool = True,
                 pitch: Optional[PitchTracker] = None, mos: Optional[MosPredictor] = None,
                 with_stoi: bool = False) -> None:
        self.loss_mel, self.input_mel, self.pesq, self.pitch, self.mos = loss_mel, input_mel, pesq, pitch, mos
        self.with_stoi = with_stoi
        self._tracks: dict[str, PitchTrack] = {}

    @classmethod
    def for_rate(cls, sample_rate: int, *, pesq: bool = True, pitch_model: Optional[str] = "tiny",
                 mos: bool = True, with_stoi: bool = False, device: str | torch.device = "cpu") -> "ClipScorer":
        """The evaluation's scorer at ``sample_rate``: ``mel_l1`` on HiFi-GAN's front end (1024-point STFT, hop
        256, 80 bands, full band) at that rate, the other metrics as chosen."""
        mel = LogMel.from_settings({"sample_rate": int(sample_rate), "n_fft": 1024, "hop_size": 256, "win_size": 1024,
                                    "n_mels": 80, "fmin": 0.0, "fmax": None})
        return cls(mel, None, pesq, optional_tracker(pitch_model, device), MosPredictor(device) if mos else None,
                   with_stoi)

    @property
    def keys(self) -> list[str]:
        """The metric keys :meth:`score` returns, in table order."""
        return enabled_metrics(pesq=self.pesq, pitch=self.pitch is not None, mos=self.mos is not None,
                               stoi=self.with_stoi, input_band=self.input_mel is not None)

    def reference_track(self, real: Tensor, sample_rate: int, key: Optional[str] = None) -> PitchTrack:
        """The pitch track of an original clip (kept by ``key`` when given)."""
        if key is not None and key in self._tracks:
            return self._tracks[key]
        track = self.pitch(to_rate(real, sample_rate, PITCH_RATE))
        if key is not None:
            self._tracks[key] = track
        return track

    @torch.no_grad()
    def score(self, fake: Tensor, real: Tensor, sample_rate: int, key: Optional[str] = None) -> dict[str, float]:
        """Every metric of waveform ``fake`` ``[T]`` against ``real`` ``[T']`` (both at ``sample_rate``; the common
        length is scored)."""
        fake = torch.as_tensor(fake).reshape(-1).float()
        real = torch.as_tensor(real).reshape(-1).to(fake.device, torch.float32)
        if not torch.isfinite(fake).all():
            raise MultiganError(f"{key or 'a clip'}: the resynthesis holds NaN or inf samples")
        n = min(fake.shape[-1], real.shape[-1])
        fake, real = fake[:n], real[:n]
        out = {"mel_l1": float(mel_l1(fake, real, self.loss_mel.to(fake.device))),
               "mr_stft": float(multi_resolution_stft_distance(fake, real))}
        if self.input_mel is not None:
            out["mel_l1_8k"] = float(mel_l1(fake, real, self.input_mel.to(fake.device)))
        if self.pesq:
            out["pesq_wb"] = pesq_wb(real, fake, sample_rate)
        if self.pitch is not None:
            degraded = self.pitch(to_rate(fake, sample_rate, PITCH_RATE))
            out.update(compare_tracks(self.reference_track(real, sample_rate, key), degraded))
        if self.mos is not None:
            out["mos"] = self.mos(to_rate(fake, sample_rate, MOS_RATE))
        if self.with_stoi:
            out["stoi"] = stoi(real, fake, sample_rate)
        return {k: out[k] for k in METRICS if k in out}


def summarize(rows: Sequence[Mapping[str, float]], intervals: bool = True, seed: int = 0) -> dict[str, Any]:
    """The mean of every metric over clips (NaN-ignoring), ``clips`` and, with ``intervals``, ``ci95``:
    bootstrapped 95 % intervals of each mean (:func:`~.intervals.bootstrap_interval`)."""
    if not rows:
        raise MultiganError("no clips were scored")
    keys = [k for k in METRICS if k in rows[0]] + [k for k in rows[0] if k not in METRICS]
    out: dict[str, Any] = {}
    ci: dict[str, list[float]] = {}
    for key in keys:
        mean, (lo, hi) = mean_and_interval([r[key] for r in rows], seed=seed)
        out[key] = mean
        ci[key] = [lo, hi]
    out["clips"] = len(rows)
    if intervals:
        out["ci95"] = ci
    return out
