"""Mels made by another front end than the vocoder's: what gives them away, and which front end made them.

Three signs, each checked against the vocoder's :class:`~multigan.audio.mel_front_end.MelFrontEnd` and the other
published ones (:data:`~multigan.audio.mel_front_end.FRONT_END_PRESETS`):

* **the log floor**: no value of the vocoder's own front end lies below ``log(log_floor)`` (HiFi-GAN's 1e-5 is
  -11.51, Vocos' 1e-7 is -16.12), and silence piles up exactly at the floor of the front end that made the mels;
* **the ceiling**: audio in [-1, 1] cannot give a band more than ``log(sum(window) * sum(filter))``: an
  unnormalised filterbank (Vocos') gives loud speech values above a Slaney-normalised front end's ceiling;
* **the band profile** (needs the training mels' per-band means, ``mel_stats``): another filterbank puts its bands
  at other frequencies (HTK vs Slaney scale) and shifts each by ``log(area of its filter / area of ours)``, a tilt
  across bands that loudness does not change. When the training profile moved to the other front end's bands
  and areas predicts the input's band means much better than the training profile itself, that front end made
  them.

:func:`diagnose_front_end` returns the message naming both front ends, or ``None``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping, Optional

import torch
from torch import Tensor

from ..features import mel_filterbank
from ..mel_front_end import FRONT_END_PRESETS, MelFrontEnd

__all__ = ["diagnose_front_end", "floor_evidence", "level_evidence"]

#: Fraction of the values that must sit exactly at another front end's floor to name it (LJ Speech clips at a
#: tenth of their level put 1-6 % of HiFi-GAN mel values at its floor; loud clips may put none).
PILE_UP = 0.005
#: The band-profile test (20 held-out LJ Speech clips at gains 1, 0.3, 0.05; 22.05 kHz, 80 bands; training mels of
#: 8 others): the input's band
#: means differ from the training ones, after removing loudness, by more than PROFILE_OFF (own front end's mels:
#: 0.10-0.26 on average over bands; another front end's: 0.52-0.78) ...
PROFILE_OFF = 0.35
#: ... and predicting them from the training profile moved to the other front end's bands leaves at most
#: PROFILE_LEFT (another front end's mels: 0.10-0.29; white noise 0.53-1.5, log10 mels 0.39-0.84) and at most
#: PROFILE_GAIN of the difference (0.15-0.49; noise and log10 mels: 0.61 and more).
PROFILE_LEFT = 0.34
PROFILE_GAIN = 0.55
MIN_FRAMES = 32
_KEYS = ("sample_rate", "n_fft", "win_size", "n_mels", "fmin", "fmax")


def _key(settings: Mapping[str, Any]) -> tuple:
    return tuple(settings[k] for k in _KEYS)


@lru_cache(maxsize=32)
def _bands(key: tuple, front_end: MelFrontEnd) -> tuple[Tensor, Tensor]:
    """``(log of each band's filter sum, each band's centre frequency)``, ``[n_mels]`` each, of a front end."""
    settings = dict(zip(_KEYS, key))
    fb = mel_filterbank(settings, front_end).double()
    freqs = torch.linspace(0, settings["sample_rate"] / 2, fb.shape[0], dtype=torch.float64)
    area = fb.sum(0).clamp_min(1e-30)
    return torch.log(area), (fb * freqs[:, None]).sum(0) / area


def _ceiling(key: tuple, front_end: MelFrontEnd) -> float:
    """The largest log-mel value audio in [-1, 1] can reach: ``|STFT| <= sum(window)`` in every bin."""
    window_sum = float(torch.hann_window(key[2], dtype=torch.float64).sum())
    return math.log(window_sum) + float(_bands(key, front_end)[0].max())


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear ``fp(x)`` through the points ``(xp, fp)`` (``xp`` increasing), constant beyond them."""
    i = torch.searchsorted(xp, x).clamp(1, xp.numel() - 1)
    t = ((x - xp[i - 1]) / (xp[i] - xp[i - 1]).clamp_min(1e-12)).clamp(0, 1)
    return fp[i - 1] + t * (fp[i] - fp[i - 1])


def _others(front_end: MelFrontEnd) -> list[MelFrontEnd]:
    seen: list[MelFrontEnd] = []
    for other in FRONT_END_PRESETS.values():
        if other != front_end and other not in seen:
            seen.append(other)
    return seen


def _message(front_end: MelFrontEnd, other: MelFrontEnd, evidence: str) -> str:
    return (f"the input mels look made by the {other.describe()} front end ({evidence}), but this vocoder's front end "
            f"is {front_end.describe()}. Make them with voc.mel(audio) or the same front end "
            "(voc.config['front_end'], voc.config['mel'])")


def _matrix(mel: Tensor, n_mels: int) -> Optional[Tensor]:
    x = mel.detach().float().cpu()
    if x.dim() == 3:
        x = x.transpose(0, 1).reshape(x.shape[1], -1)
    return x if x.dim() == 2 and x.shape[0] == n_mels and x.numel() else None


def floor_evidence(mel: Tensor, front_end: MelFrontEnd, settings: Mapping[str, Any]) -> Optional[str]:
    """The message when ``mel``'s minimum is another published front end's log floor below ours, or values pile up
    exactly at another's floor above ours; else ``None``."""
    x = _matrix(mel, int(settings["n_mels"]))
    if x is None:
        return None
    low, own_floor = float(x.min()), math.log(front_end.log_floor)
    for other in _others(front_end):
        floor = math.log(other.log_floor)
        if low < own_floor - 1e-3 and abs(low - floor) < 1e-3:
            return _message(front_end, other, f"values down to {low:.2f} = log({other.log_floor:g}), that front "
                                              f"end's log floor, below this one's log({front_end.log_floor:g}) = "
                                              f"{own_floor:.2f}")
        share = float(((x - floor).abs() < 1e-4).float().mean())
        if floor > own_floor + 0.01 and share >= PILE_UP:
            return _message(front_end, other, f"{share:.1%} of the values sit exactly at {floor:.2f} = "
                                              f"log({other.log_floor:g}), that front end's log floor")
    return None


def level_evidence(mel: Tensor, front_end: MelFrontEnd, settings: Mapping[str, Any],
                   stats: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The message when ``mel`` exceeds the most our filterbank can give audio in [-1, 1] and another published front
    end's range holds it, or (with the training ``stats``, 32 frames or more) when its band means are the training
    profile as another front end's filterbank would show it; else ``None``."""
    x = _matrix(mel, int(settings["n_mels"]))
    if x is None:
        return None
    key = _key(settings)
    low, high, ceiling = float(x.min()), float(x.max()), _ceiling(key, front_end)
    if high > ceiling + 0.5:
        for other in _others(front_end):
            if _ceiling(key, other) >= high and low >= math.log(other.log_floor) - 1e-3:
                return _message(front_end, other, f"values up to {high:.2f}, above {ceiling:.2f}, the most audio in "
                                                  "[-1, 1] can give this front end's filterbank")
    if not stats or x.shape[1] < MIN_FRAMES:
        return None
    trained = torch.tensor(stats["mean"], dtype=torch.float64)
    diff = x.mean(1).double() - trained
    off = float((diff - diff.mean()).abs().mean())
    if off <= PROFILE_OFF:
        return None
    own_area, own_centre = _bands(key, front_end)
    for other in _others(front_end):
        area, centre = _bands(key, other)
        expected = _interp(centre, own_centre, trained) + area - own_area
        rest = x.mean(1).double() - expected
        left = float((rest - rest.mean()).abs().mean())
        if left <= PROFILE_LEFT and left <= PROFILE_GAIN * off:
            return _message(front_end, other, f"its band means differ from the training mels' by {off:.2f} on average "
                                              f"after removing loudness; the training mels as that front end's "
                                              f"filterbank shows them differ by {left:.2f}")
    return None


def diagnose_front_end(mel: Tensor, front_end: MelFrontEnd, settings: Mapping[str, Any],
                       stats: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Why log-mel ``mel`` (``[n_mels, frames]`` or ``[B, n_mels, frames]``) looks made by another published front end
    than ``front_end`` at the vocoder's ``mel`` ``settings``, or ``None``: :func:`floor_evidence`, then
    :func:`level_evidence` (``stats``: the training mels' statistics, for the band-profile test)."""
    return floor_evidence(mel, front_end, settings) or level_evidence(mel, front_end, settings, stats)
