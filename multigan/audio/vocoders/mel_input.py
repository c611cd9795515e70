"""Mel spectrograms from elsewhere (an acoustic model's output): reading them, and telling when they do not fit.

* :func:`read_mel_file` reads ``.npy``, ``.safetensors`` or a torch file (``weights_only=True``) and returns
  ``[n_mels, frames]``, recognising ``[frames, n_mels]`` by the vocoder's band count.
* :func:`mel_statistics` summarises the mels a vocoder was trained on (per-band mean, minimum and maximum,
  global mean, spread and percentiles); :func:`~multigan.audio.vocoders.training.train_vocoder` stores it in the
  export's meta (``mel_stats``).
* :func:`diagnose` compares input mels with those statistics and names the likely cause of a mismatch: log10
  instead of natural log (values x ~0.434), decibels (x ~8.7), normalised input (mean ~0, std ~1), empty top
  bands (different fmax or n_mels upstream), or plainly far outside; :func:`check_mel_input` turns that, or mels
  made by another front end (:mod:`~multigan.audio.vocoders.front_end_check`), into one :class:`MelInputWarning`
  with the fix.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor

from ...errors import MultiganError
from ...rng import isolated
from ..mel_front_end import MelFrontEnd
from ..safe_torch import read_torch_file
from .front_end_check import floor_evidence, level_evidence

__all__ = ["MEL_EXTENSIONS", "MelFileError", "MelInputWarning", "as_mel", "check_mel_input",
           "dataset_mel_statistics", "diagnose", "mel_statistics", "read_mel_file"]

#: File types :func:`read_mel_file` reads (anything else is tried as a torch file).
MEL_EXTENSIONS: tuple[str, ...] = (".npy", ".safetensors", ".pt", ".pth")


class MelFileError(MultiganError):
    """A mel file cannot be read or does not have the vocoder's band count."""


class MelInputWarning(UserWarning):
    """Input mels far outside the statistics of the mels the vocoder was trained on."""


def _single_tensor(obj: Any, path: Path) -> Tensor:
    """The one tensor of a loaded file: the tensor itself, or a mapping's ``mel`` entry or only tensor."""
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, Mapping):
        tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
        if "mel" in tensors:
            return tensors["mel"]
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        raise MelFileError(f"--mel {path}: holds {len(tensors)} tensors {sorted(map(str, tensors))[:5]}; store one "
                           "tensor, or name the mel 'mel'")
    raise MelFileError(f"--mel {path}: holds a {type(obj).__name__}, not a tensor")


#: Largest magnitude of a log-mel value: natural-log mels of audio lie within about [-25, 10], even decibels of
#: float32's whole range within +-7,700; anything beyond is linear magnitudes or garbage, never vocoded.
MAX_ABS_LOG_MEL = 1e4
_NPY_MAGIC, _ZIP_MAGIC, _PICKLE_MAGIC = b"\x93NUMPY", b"PK\x03\x04", b"\x80"


def as_mel(x: Any, n_mels: int, source: str) -> Tensor:
    """``x`` (array or tensor ``[n_mels, frames]``, ``[frames, n_mels]``, or either with a leading 1) as float32
    ``[n_mels, frames]``; ``source`` names the input in errors.

    Raises:
        MelFileError: wrong band count, ambiguous orientation (``frames == n_mels``), non-finite values.
    """
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).detach().cpu()
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2:
        raise MelFileError(f"{source}: expected a mel spectrogram [n_mels, frames] or [frames, n_mels], got shape "
                           f"{tuple(t.shape)}")
    if not t.is_floating_point():
        kind = str(t.dtype).replace("torch.", "")
        raise MelFileError(f"{source}: holds {kind} values; a log-mel spectrogram is floating point (integers are "
                           "quantised or wrong data: save the acoustic model's float output)")
    rows, cols = t.shape
    if rows == n_mels and cols == n_mels:
        raise MelFileError(f"{source}: shape {tuple(t.shape)} is ambiguous ({n_mels} frames of {n_mels} bands): "
                           "cannot tell frames from bands; vocode it with one frame more or less")
    if rows == n_mels:
        mel = t
    elif cols == n_mels:
        mel = t.T
    else:
        raise MelFileError(f"{source}: shape {tuple(t.shape)} has no axis of {n_mels} mel bands, which this vocoder "
                           f"takes; make the mels with its settings (n_mels={n_mels})")
    mel = mel.float().contiguous()
    if not torch.isfinite(mel).all():
        raise MelFileError(f"{source}: holds NaN or infinite values")
    low, high = float(mel.min()), float(mel.max())
    if max(abs(low), abs(high)) > MAX_ABS_LOG_MEL:
        raise MelFileError(f"{source}: value range [{low:.3g}, {high:.3g}] is not a log-mel spectrogram (no log of "
                           f"audio reaches |x| > {MAX_ABS_LOG_MEL:g}; these look like linear magnitudes or garbage): "
                           "feed the natural log of the mel magnitudes, as voc.mel(audio) makes them")
    if mel.shape[1] < 1:
        raise MelFileError(f"{source}: holds no frames")
    return mel


def read_mel_file(path: Union[str, os.PathLike], n_mels: int) -> Tensor:
    """A mel file (``.npy``, ``.safetensors``, or a torch file read with ``weights_only=True``) as ``[n_mels, frames]``.

    Raises:
        MelFileError / TorchFileError: missing, unreadable, truncated, wrong band count; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MelFileError(f"--mel {path}: {'is not a file' if path.exists() else 'does not exist'}")
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(8)
    if suffix == ".npy" or head.startswith(_NPY_MAGIC):
        try:
            data: Any = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise MelFileError(f"--mel {path}: not a readable .npy array ({exc})") from None
    elif suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            data = _single_tensor(load_file(str(path)), path)
        except MelFileError:
            raise
        except Exception as exc:  # safetensors' own error types for truncated or corrupt files
            raise MelFileError(f"--mel {path}: not a readable safetensors file ({exc})") from None
    elif head.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        data = _single_tensor(read_torch_file(path, "--mel"), path)
    else:
        raise MelFileError(f"--mel {path}: not a mel file (a .npy array, a .safetensors file or a torch file "
                           f"saved with torch.save); it starts with {head!r}")
    return as_mel(data, n_mels, f"--mel {path}")


# --------------------------------------------------------------------------- statistics of the training mels


def check_mel_statistics(stats: Any, n_mels: int) -> None:
    """A stored ``mel_stats`` entry (of :func:`mel_statistics`) must be usable by :func:`diagnose`: per-band lists of
    ``n_mels`` finite numbers and finite global figures. Raises :class:`MelFileError` naming what is wrong."""
    if stats is None:
        return
    if not isinstance(stats, Mapping):
        raise MelFileError(f"meta.mel_stats: expected a mapping of mel statistics, got {type(stats).__name__}")
    for key in ("mean", "min", "max"):
        values = stats.get(key)
        if not (isinstance(values, list) and len(values) == n_mels and all(_finite_number(v) for v in values)):
            raise MelFileError(f"meta.mel_stats.{key}: expected {n_mels} finite numbers (one per mel band), got "
                               f"{values!r:.80}")
    for key in ("global_mean", "global_std", "p01", "p99"):
        if not _finite_number(stats.get(key)):
            raise MelFileError(f"meta.mel_stats.{key}: expected a finite number, got {stats.get(key)!r:.40}")
    if "centered_std" in stats and stats["centered_std"] is not None and not _finite_number(stats["centered_std"]):
        raise MelFileError(f"meta.mel_stats.centered_std: expected a number, got {stats['centered_std']!r:.40}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def mel_statistics(mels: Iterable[Tensor]) -> dict[str, Any]:
    """Statistics of log-mels ``[n_mels, frames]`` (or batches ``[B, n_mels, frames]``), JSON-ready.

    Per band: ``mean``, ``min``, ``max``; over all values: ``global_mean``, ``global_std``, ``p01``, ``p99``,
    ``centered_std`` (the spread across bands within frames, which loudness does not change but the log base
    does); plus ``n_mels`` and the number of ``frames`` they were computed from.
    """
    cols = [m.detach().float().cpu().reshape(-1, m.shape[-2], m.shape[-1]).transpose(0, 1).reshape(m.shape[-2], -1)
            for m in mels]
    if not cols:
        raise ValueError("mel_statistics: no mels given")
    x = torch.cat(cols, dim=1)
    q = torch.quantile(x.flatten()[:: max(1, x.numel() // 1_000_000)], torch.tensor([0.01, 0.99]))

    def r(v: Tensor) -> list[float]:
        return [round(float(a), 4) for a in v]

    return {"n_mels": int(x.shape[0]), "frames": int(x.shape[1]), "mean": r(x.mean(1)), "min": r(x.amin(1)),
            "max": r(x.amax(1)), "global_mean": round(float(x.mean()), 4), "global_std": round(float(x.std()), 4),
            "centered_std": round(_centered_std(x), 4), "p01": round(float(q[0]), 4), "p99": round(float(q[1]), 4)}


def _centered_std(x: Tensor) -> float:
    """Standard deviation of ``x`` ``[n_mels, frames]`` after removing each frame's mean (loudness-free spread)."""
    return float((x - x.mean(0, keepdim=True)).std()) if x.numel() > 1 else 0.0


def diagnose(mel: Tensor, stats: Mapping[str, Any], generic: bool = True) -> Optional[str]:
    """Why log-mel ``mel`` ``[n_mels, frames]`` does not look like the training mels of ``stats``, or ``None``.

    The message names the likely cause and the fix. Checks, in order: normalised input (mean ~0, std ~1 where
    the training mels are not), a log base or decibel scale (spread across bands within frames ~0.434x or ~8.7x
    the training one),
    empty top bands (different fmax or n_mels upstream), and (``generic``) values far outside the training range. The scale
    and top-band checks need 32 frames and the last check 64 (on 8 held-out LJ Speech clips, excerpts of 20 and 40 frames
    of correct mels looked far off 14 % and 11 % of the time, 100-frame excerpts and whole clips never).
    """
    x = mel.detach().float().cpu()
    if x.dim() == 3:
        x = x.transpose(0, 1).reshape(x.shape[1], -1)
    t_mean = torch.tensor(stats["mean"], dtype=torch.float32)
    t_lo, t_hi = torch.tensor(stats["min"]), torch.tensor(stats["max"])
    if x.shape[0] != t_mean.numel():
        return None
    g_mean, g_std = float(stats["global_mean"]), float(stats["global_std"])
    span = max(float(stats["p99"]) - float(stats["p01"]), 1e-3)
    band_mean = x.mean(1)
    mean, std = float(x.mean()), float(x.std()) if x.numel() > 1 else 0.0
    trained = (f"the vocoder was trained on log-mels of mean {g_mean:.2f}, std {g_std:.2f}, range "
               f"[{float(t_lo.min()):.2f}, {float(t_hi.max()):.2f}]")
    seen = f"this input has mean {mean:.2f}, std {std:.2f}, range [{float(x.min()):.2f}, {float(x.max()):.2f}]"
    margin = 0.25 * span  # per-band extremes of a few hundred training frames are themselves noisy
    outside = float(((x < (t_lo - margin)[:, None]) | (x > (t_hi + margin)[:, None])).float().mean())
    shift = float((band_mean - t_mean).abs().mean()) / span
    far = outside > 0.05 or shift > 0.2
    if far and abs(mean) < 0.5 and 0.5 < std < 1.6 and (abs(g_mean) > 1.5 or not 0.5 < g_std < 1.6):
        return (f"the input mels look normalised (mean ~0, std ~1): {seen}, but {trained}. Undo the acoustic "
                "model's normalisation before vocoding (mel * std + mean, with the statistics it was trained with)")
    # the spread across bands within frames does not depend on loudness, only on the log's scale:
    # ~1x the training one for natural-log mels (0.76-1.18 on 40-frame LJ Speech excerpts), 0.434x for log10
    scale = _centered_std(x) / float(stats.get("centered_std") or float("nan"))
    frames = x.shape[1]
    if far and frames >= 32 and 0.3 < scale < 0.6:
        return (f"the input mels look like log10 instead of the natural log (band contrasts ~{scale:.2f}x the "
                f"training ones; log10 gives 0.434x): {seen}, but {trained}. Multiply them by ln(10) = 2.302585 (or make "
                "them with torch.log / np.log)")
    if far and frames >= 32 and 5.0 < scale < 13.0:
        return (f"the input mels look like decibels (band contrasts ~{scale:.1f}x the natural-log ones; 20*log10 "
                f"gives 8.69x): {seen}, but {trained}. Divide them by 20/ln(10) = 8.685889 (or make them with the "
                "natural log)")
    if std < 0.02 * span:
        return (f"the input mels are (nearly) constant at {mean:.2f}: silence or padding only, which the vocoder "
                "turns into silence or noise. Check that the acoustic model produced frames")
    top = max(1, x.shape[0] // 8)
    floor_in = float(x.min())
    empty_in = float((band_mean[-top:] - floor_in).max()) < 0.05 * span
    active_trained = float((t_mean[-top:] - t_lo.min()).min()) > 0.15 * span
    if frames >= 32 and empty_in and active_trained:
        return (f"the top {top} mel bands of the input are empty (at its floor {floor_in:.2f}) but carry energy in "
                f"the training mels: the mels were likely made with a lower fmax or a different n_mels and padded. "
                "Make them with the vocoder's mel settings (voc.config['mel']: n_mels, fmin, fmax)")
    if generic and far and frames >= 64:  # shorter excerpts of correct mels (a pause, one loud vowel) can look far off
        return (f"the input mels are far outside the training mels ({outside:.0%} of values beyond the per-band "
                f"training range, band means {shift * span:.2f} away on average): {seen}, but {trained}. Check the log base (natural log), the clamp floor, "
                "normalisation, n_fft/hop/fmin/fmax and n_mels against voc.config['mel']")
    return None


def check_mel_input(mel: Tensor, stats: Optional[Mapping[str, Any]], source: str = "",
                    front_end: Optional[MelFrontEnd] = None,
                    settings: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Warn once (:class:`MelInputWarning`) when the mels look made by another front end than ``front_end`` (at the
    vocoder's ``mel`` ``settings``; :func:`~multigan.audio.vocoders.front_end_check.diagnose_front_end`) or
    :func:`diagnose` finds another mismatch with the training ``stats``; returns the message or ``None``."""
    own = front_end is not None and settings is not None
    # the most specific explanation first: another front end's floor, a scale or normalisation, then another front
    # end's level or band profile, then plainly far off
    message = ((floor_evidence(mel, front_end, settings) if own else None)
               or (diagnose(mel, stats, generic=False) if stats else None)
               or (level_evidence(mel, front_end, settings, stats) if own else None)
               or (diagnose(mel, stats) if stats else None))
    if message:
        warnings.warn(f"{source}: {message}" if source else message, MelInputWarning, stacklevel=3)
    return message


def dataset_mel_statistics(dataset: Any, max_items: int = 64) -> dict[str, Any]:
    """:func:`mel_statistics` of the input mels (``item["cond"]``) of ``max_items`` evenly spaced items of a vocoder
    training dataset (random crops), drawn without changing any random stream."""
    n = len(dataset)
    k = max(1, int(max_items))
    with isolated(), torch.no_grad():  # a small dataset is visited several times: other random crops each time
        return mel_statistics(dataset[(i * n) // k if k <= n else i % n]["cond"] for i in range(k))
