"""Bootstrapped 95 % intervals of a mean over clips (percentile bootstrap, fixed seed: the same clips give the same
interval)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["bootstrap_interval", "mean_and_interval"]


def bootstrap_interval(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (NaNs dropped); ``(nan, nan)`` when none is left,
    ``(v, v)`` for a single value."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"bootstrap_interval: level must be in (0, 1), got {level}")
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(int(resamples), x.size))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def mean_and_interval(values: Sequence[float], **kwargs) -> tuple[float, tuple[float, float]]:
    """The NaN-ignoring mean of ``values`` and its :func:`bootstrap_interval`."""
    x = [v for v in values if v is not None and not math.isnan(v)]
    return (float(np.mean(x)) if x else math.nan), bootstrap_interval(x, **kwargs)
