"""Frontiers over training seeds: the t-interval by hand, the mean report, and the paired verdict that calls a
GAN point better only when the interval of its per-seed gaps lies above 0."""
from __future__ import annotations

import math

import pytest

from multigan.errors import MultiganError
from multigan.text.frontier import frontier_gaps
from multigan.text.frontier_seeds import aggregate_reports, interval, verdict_lines


def test_t_interval_by_hand():
    iv = interval([1.0, 2.0, 3.0])
    assert iv["mean"] == 2.0 and iv["std"] == pytest.approx(1.0)
    assert iv["half_width"] == pytest.approx(4.303 / math.sqrt(3))
    assert interval([5.0, 5.0])["half_width"] == 0.0
    assert interval([0.3])["half_width"] is None
    with pytest.raises(MultiganError):
        interval([])


def _curve(label: str, kind: str, pts: list[tuple[float, float, float, float]]) -> dict:
    """Points (temperature, self-BLEU-4, BLEU-4, NLL_gen); self-BLEU-5 / BLEU-5 follow at fixed offsets."""
    return {"label": label, "kind": kind, "sampler": "temperature", "points": [
        {"temperature": t, "top_p": 1.0, "self_bleu4": s, "bleu4": b, "self_bleu5": s - 0.1, "bleu5": b - 0.1,
         "nll_gen": n} for t, s, b, n in pts]}


def _report(gan_bleu_shift: float, gan_nll_shift: float) -> dict:
    mle = _curve("MLE", "mle", [(1.2, 0.2, 0.10, 3.5), (1.0, 0.4, 0.20, 3.4), (0.7, 0.6, 0.40, 3.9)])
    gan = _curve("GAN", "gan", [(1.0, 0.3, 0.15 + gan_bleu_shift, 3.45 - gan_nll_shift),
                                (0.8, 0.5, 0.30 + gan_bleu_shift, 3.65 - gan_nll_shift)])
    report = {"samples": 10, "num_references": 5, "curves": [gan, mle],
              "real": {"temperature": None, "bleu4": 0.3, "self_bleu4": 0.4}}
    report["gaps"] = frontier_gaps(report)
    return report


def test_aggregate_means_and_intervals():
    reports = [_report(0.01, 0.0), _report(0.02, 0.0), _report(0.03, 0.0)]
    agg = aggregate_reports(reports, ["s0", "s1", "s2"])
    gan = agg["curves"][0]
    assert agg["seeds"] == 3 and agg["runs"] == ["s0", "s1", "s2"] and gan["label"] == "GAN"
    p = gan["points"][0]
    assert p["temperature"] == 1.0 and p["seeds"] == 3
    assert p["bleu4"] == pytest.approx(0.17) and p["ci95"]["bleu4"] == pytest.approx(4.303 * 0.01 / math.sqrt(3))
    assert p["ci95"]["self_bleu4"] == 0.0
    assert agg["real"]["bleu4"] == 0.3


def test_verdict_needs_the_whole_interval_above_zero():
    # consistent +0.018..+0.022 BLEU-4 over the MLE at equal self-BLEU-4: better beyond the spread
    agg = aggregate_reports([_report(0.018, 0.0), _report(0.02, 0.0), _report(0.022, 0.0)])
    bleu = agg["verdict"]["GAN vs MLE"]["bleu4"]
    assert [g["temperature"] for g in bleu] == [0.8, 1.0]
    assert all(g["beats"] and not g["loses"] for g in bleu)
    assert bleu[0]["gap"] == pytest.approx(0.02) and bleu[0]["low"] > 0
    # the same mean gap with a wider spread (+0.01..+0.03: half-width 0.025 with 3 seeds): not a win
    noisy = aggregate_reports([_report(0.01, 0.0), _report(0.02, 0.0), _report(0.03, 0.0)])
    assert not any(g["beats"] for g in noisy["verdict"]["GAN vs MLE"]["bleu4"])
    # NLL_gen: lower is better, so a GAN consistently 0.1 nats above the MLE curve loses
    worse = aggregate_reports([_report(0.0, -0.1), _report(0.0, -0.12), _report(0.0, -0.08)])
    nll = worse["verdict"]["GAN vs MLE"]["nll_gen"]
    assert all(g["loses"] and not g["beats"] for g in nll)
    lines = verdict_lines(agg["verdict"])
    assert any(line.startswith("GAN vs MLE, BLEU-4 at equal self-BLEU-4 (3 seeds): GAN better beyond the 95 % "
                               "interval at T=0.8 (+0.020") for line in lines)
    assert any("reverse-LM" in line and "no GAN point" in line for line in lines)


def test_runs_scored_differently_are_refused():
    a, b = _report(0.0, 0.0), _report(0.0, 0.0)
    b["curves"] = b["curves"][:1]
    with pytest.raises(MultiganError, match="scored alike"):
        aggregate_reports([a, b])
