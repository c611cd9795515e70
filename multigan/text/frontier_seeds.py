"""Frontiers over training seeds: every point as a mean with a 95 % t-interval, and the verdict against MLE.

Each input report (:func:`multigan.text.frontier.evaluate_frontier`) scores one training run; the runs are the
same configuration trained with different ``train.seed`` values. A point (curve label, temperature or top-p)
becomes the mean over the runs of each metric with the half-width of Student's t 95 % interval,
``t(0.975, n - 1) * std / sqrt(n)`` (sample std, n = number of runs): with 3 seeds t = 4.30, so the interval is
wide on purpose. The aggregate has the shape of one report (means in place of values, ``ci95`` beside them),
so :func:`multigan.text.frontier_plot.write_report` plots it, with error bars.

The verdict is paired by seed: for each seed, the GAN point's gap to that seed's MLE curve at equal diversity
(:func:`multigan.text.frontier.frontier_gaps`: BLEU-4 / BLEU-5 at equal self-BLEU-4 / -5, NLL_gen and reverse-LM
at equal self-BLEU-4; positive = the GAN is better), then the t-interval of those gaps. A GAN point lies above
the MLE frontier "by more than the seed spread" when the whole interval is above 0.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

from ..errors import MultiganError
from .frontier import GAP_AXES, REAL, evaluate_frontier, point_name, real_text_pool, run_contenders, summary_rows
from .lm_scores import LMScorer

__all__ = ["T_975", "aggregate_reports", "check_training_seeds", "interval", "score_runs", "seed_verdict", "verdict_lines"]

#: Student's t quantile 0.975 by degrees of freedom (1..30); 1.96 beyond.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def interval(values: Sequence[float]) -> dict:
    """Mean, sample std, n and the 95 % t-interval's half-width (None for a single value)."""
    vals = [float(v) for v in values]
    if not vals:
        raise MultiganError("an interval needs at least one value")
    n, mean = len(vals), sum(vals) / len(vals)
    if n == 1:
        return {"mean": mean, "std": None, "n": 1, "half_width": None, "low": None, "high": None}
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = (T_975[n - 2] if n - 1 <= len(T_975) else 1.96) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "n": n, "half_width": half, "low": mean - half, "high": mean + half}


def _numeric(point: dict) -> list[str]:
    return [k for k, v in point.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("temperature", "top_p", "samples")]


def _mean_point(points: list[dict]) -> dict:
    """One point: the first run's settings, each metric's mean, and ``ci95`` half-widths (None with one run)."""
    out = {k: points[0].get(k) for k in ("temperature", "top_p")}
    out["seeds"], out["ci95"] = len(points), {}
    for key in _numeric(points[0]):
        values = [p[key] for p in points if p.get(key) is not None and math.isfinite(p[key])]
        if values:
            iv = interval(values)
            out[key], out["ci95"][key] = iv["mean"], iv["half_width"]
    return out


def _check_same_labels(reports: Sequence[dict]) -> None:
    first = [c["label"] for c in reports[0]["curves"]]
    for i, r in enumerate(reports[1:], 1):
        labels = [c["label"] for c in r["curves"]]
        if labels != first:
            raise MultiganError(f"run {i} has the curves {labels}, run 0 {first}: seeds of one configuration "
                                "must be scored alike (same generators, temperatures and top-p values)")


def aggregate_reports(reports: Sequence[dict], names: Sequence[str] = ()) -> dict:
    """The mean report over ``reports`` (one per training seed; see the module docstring)."""
    if not reports:
        raise MultiganError("no report to aggregate")
    _check_same_labels(reports)
    curves = []
    for idx, c in enumerate(reports[0]["curves"]):
        by_name = {}
        for r in reports:
            for p in r["curves"][idx]["points"]:
                by_name.setdefault(point_name(p), []).append(p)
        curves.append({k: c[k] for k in ("label", "kind", "sampler") if k in c}
                      | {"points": [_mean_point(ps) for ps in by_name.values()]})
    out = {k: reports[0].get(k) for k in ("references", "num_references", "samples", "temperatures", "top_ps",
                                          "lm_scores", "nll_gen")}
    out.update({"runs": list(names), "seeds": len(reports), "interval": "95 % Student t over training seeds "
                "(half-width t(0.975, n-1) * std / sqrt(n))", "curves": curves})
    reals = [r["real"] for r in reports if "real" in r]
    if reals:
        out["real"] = {"label": REAL, **_mean_point(reals)}
    out["verdict"] = seed_verdict(reports)
    return out


def seed_verdict(reports: Sequence[dict]) -> dict:
    """For each (GAN vs MLE curve) pair and each gap axis, the paired per-seed gaps at every GAN point and
    whether their 95 % interval lies above 0 (``beats``)."""
    out = {}
    for pair in reports[0].get("gaps", {}):
        entry = {}
        for name, _, diversity, _ in GAP_AXES:
            key = f"{name}_at_equal_{diversity}"
            gaps: dict[float, list[float]] = {}
            for r in reports:
                for g in r.get("gaps", {}).get(pair, {}).get(key, []):
                    gaps.setdefault(g["temperature"], []).append(g["gap"])
            points = []
            for t, values in sorted(gaps.items()):
                iv = interval(values)
                points.append({"temperature": t, "gap": iv["mean"], "low": iv["low"], "high": iv["high"],
                               "seeds": iv["n"], "beats": iv["low"] is not None and iv["low"] > 0,
                               "loses": iv["high"] is not None and iv["high"] < 0})
            entry[name] = points
        out[pair] = entry
    return out


AXIS_NAMES = {"bleu4": "BLEU-4 at equal self-BLEU-4", "bleu5": "BLEU-5 at equal self-BLEU-5",
              "nll_gen": "NLL_gen at equal self-BLEU-4", "reverse_lm": "reverse-LM at equal self-BLEU-4"}


def _where(points: list[dict], flag: str) -> str:
    hits = [p for p in points if p[flag]]
    return ", ".join(f"T={p['temperature']:g} ({p['gap']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}])"
                     for p in hits) or "nowhere"


def verdict_lines(verdict: dict) -> list[str]:
    """One line per pair and axis: where the GAN is above (below) the MLE curve beyond the seed interval."""
    lines = []
    for pair, entry in verdict.items():
        for name, points in entry.items():
            if not points:
                lines.append(f"{pair}, {AXIS_NAMES[name]}: no GAN point within the MLE curve's range")
                continue
            n = max(p["seeds"] for p in points)
            lines.append(f"{pair}, {AXIS_NAMES[name]} ({n} seeds): GAN better beyond the 95 % interval at "
                         f"{_where(points, 'beats')}; worse beyond it at {_where(points, 'loses')}; "
                         f"{sum(not p['beats'] and not p['loses'] for p in points)} of {len(points)} within it")
    return lines


def check_training_seeds(runs: Sequence, training_seeds: bool) -> None:
    """Seeds of one configuration need at least two runs (one clear error naming ``--training-seeds``)."""
    if training_seeds and len(runs) < 2:
        raise MultiganError("--training-seeds: give at least 2 runs (the same configuration, different train.seed)")


def score_runs(runs: Sequence[str | Path], reference_lines: Sequence[str], temperatures: Sequence[float], n: int,
               seed: int = 0, real_lines: Sequence[str] | None = None, self_bleu_samples: int | None = None,
               top_ps: Sequence[float] = (), lm_scores: bool = False, training_seeds: bool = False,
               device: str = "cpu", references_name: str = "", real_name: str = "",
               echo: Callable[[str], None] | None = None, top_p_kinds: Sequence[str] | None = None) -> dict:
    """What ``multigan eval-text`` computes: one frontier report over every run's generators (labels prefixed
    by the run's name when there are several), or, with ``training_seeds``, one report per run aggregated by
    :func:`aggregate_reports` (``per_run`` holds them). ``lm_scores`` adds the LM score (an LSTM trained on
    ``real_lines`` minus the references) and the reverse-LM score to every point; one scorer, the first run's
    tokenizer, serves all runs. ``echo`` receives each report's summary rows; ``top_p_kinds`` limits the top-p
    curves to those contender kinds (default: every MLE generator)."""
    check_training_seeds(runs, training_seeds)
    groups = [[run] for run in runs] if training_seeds else [list(runs)]
    prefix = len(runs) > 1 and not training_seeds
    scorer, reports = None, []
    for group in groups:
        contenders = [c for run in group for c in run_contenders(run, device, f"{Path(run).name}: " if prefix else "")]
        if lm_scores and scorer is None:
            train = real_text_pool(real_lines, reference_lines) if real_lines else []
            scorer = LMScorer(contenders[0].generator.tokenizer, train, reference_lines)
        reports.append(evaluate_frontier(contenders, reference_lines, temperatures, n, seed, real_lines,
                                         self_bleu_samples, references_name, real_name, top_ps, scorer,
                                         top_p_kinds))
        if echo is not None:
            echo("\n".join(summary_rows(reports[-1])))
    if not training_seeds:
        return reports[0]
    return {**aggregate_reports(reports, [str(r) for r in runs]), "per_run": reports}
