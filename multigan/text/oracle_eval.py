"""Oracle-task frontiers with seed statistics, and whether a GAN beats MLE by more than the seed spread.

Each run directory of :mod:`multigan.text.pipeline.oracle_run` holds its oracle, a GAN export and its MLE
generators (``mle/``, ``mle_matched/``). :func:`evaluate_runs` scores every generator of every run at every
temperature with every sampling seed: ``nll_oracle`` (quality; lower is better) depends on the samples,
``nll_gen`` (coverage; lower is better) on the model only. :func:`aggregate` pools the runs that share a
label (training seeds) and the sampling seeds into mean, standard deviation, min and max per temperature,
and :func:`verdict` tells, for each GAN point, whether its ``nll_oracle`` lies below the MLE curve's
(interpolated along the MLE's Pareto front at the GAN's ``nll_gen``) by more than the seed spread (the larger of
the points' max - min).
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Sequence

import yaml

from ..errors import MultiganError
from .evaluation import nll_gen
from .mle import is_done, load_pretrained
from .oracle import LSTMOracle, OracleTask

__all__ = ["aggregate", "evaluate_runs", "run_generators", "verdict", "verdict_lines"]

LABELS = {"gan": "GAN", "mle": "MLE", "mle_matched": "MLE, matched compute"}


def run_task(run: str | Path) -> OracleTask:
    """The run's stored oracle and the data drawn from it (sizes and seed from the run's ``config.yaml``)."""
    run = Path(run)
    cfg_file = run / "config.yaml"
    if not (run / "oracle" / "oracle.json").is_file() or not cfg_file.is_file():
        raise MultiganError(f"{run}: not an oracle run (no oracle/oracle.json or config.yaml)")
    o = yaml.safe_load(cfg_file.read_text())["oracle"]
    return OracleTask(LSTMOracle.load(run / "oracle"), o["n_train"], o["n_val"], o["n_test"], o["data_seed"])


def run_generators(run: str | Path, device: str = "cpu") -> dict:
    """``{"gan": export, "mle": ..., "mle_matched": ...}`` (the MLE ones when the run holds them)."""
    from ..export import load

    run = Path(run)
    found = {"gan": load(run, device=device)}
    for name in ("mle", "mle_matched"):
        if is_done(run / name):
            g = load(run, device=device)
            load_pretrained(g, run / name)
            found[name] = g.eval()
    return found


def run_kind(run: str | Path) -> tuple[str, str]:
    """The names a run's GAN and its MLE generators go by: ``("RelGAN", "relgan")`` for a Gumbel-softmax run with
    a relational-memory generator, ``("ScratchGAN-style", "lstm")`` for a REINFORCE run, from ``config.yaml``."""
    cfg = yaml.safe_load((Path(run) / "config.yaml").read_text())
    objective = (cfg.get("objective") or {}).get("kind", "gumbel")
    arch = (cfg.get("generator") or {}).get("arch", "relgan")
    if objective == "reinforce":
        return "ScratchGAN-style", arch
    return ("RelGAN" if arch == "relgan" else f"Gumbel GAN ({arch})"), arch


def evaluate_runs(runs: Sequence[str | Path], temperatures: Sequence[float], n: int, seeds: Sequence[int],
                  device: str = "cpu") -> list[dict]:
    """One record per (run, generator, temperature, sampling seed): ``nll_oracle`` and ``nll_gen``.

    Runs of the same kind (:func:`run_kind`: objective and generator architecture) share labels, so
    :func:`aggregate` pools them as training seeds.
    """
    rows = []
    for run in runs:
        task = run_task(run)
        kind, arch = run_kind(run)
        real = task.nll_oracle(task.test_ids)
        for name, g in run_generators(run, device).items():
            label = kind if name == "gan" else f"{LABELS[name]} ({arch} G)"
            g.eval()
            for t in temperatures:
                gen_nll = nll_gen(g, task.test_ids, temperature=t)["nll_gen"]
                for s in seeds:
                    ids = g.sample_ids(n, seed=s, temperature=t)
                    rows.append({"run": str(run), "label": label, "is_mle": name != "gan", "temperature": t,
                                 "seed": s, "nll_oracle": task.nll_oracle(ids), "nll_gen": gen_nll,
                                 "nll_oracle_real": real})
    return rows


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def aggregate(rows: list[dict]) -> dict:
    """``{label: {"is_mle": bool, "points": [{temperature, nll_oracle: stats, nll_gen: stats}]}}`` pooling runs
    (training seeds) and sampling seeds of the same label."""
    out: dict = {}
    for r in rows:
        entry = out.setdefault(r["label"], {"is_mle": r["is_mle"], "by_t": {}})
        cell = entry["by_t"].setdefault(r["temperature"], {"nll_oracle": [], "nll_gen": [], "runs": set()})
        cell["nll_oracle"].append(r["nll_oracle"])
        if r["run"] not in cell["runs"]:
            cell["nll_gen"].append(r["nll_gen"])  # one per run: it does not depend on the sampling seed
            cell["runs"].add(r["run"])
    for entry in out.values():
        entry["points"] = [{"temperature": t, "runs": len(c["runs"]), "nll_oracle": _stats(c["nll_oracle"]),
                            "nll_gen": _stats(c["nll_gen"])} for t, c in sorted(entry.pop("by_t").items())]
    return out


def merge_stats(a: dict, b: dict) -> dict:
    """The :func:`_stats` of two pooled samples from their own stats alone (mean, sample std, min, max, n: exact)."""
    n = a["n"] + b["n"]
    mean = (a["n"] * a["mean"] + b["n"] * b["mean"]) / n
    squares = sum((s["n"] - 1) * s["std"] ** 2 + s["n"] * s["mean"] ** 2 for s in (a, b)) - n * mean ** 2
    return {"mean": mean, "std": math.sqrt(max(squares, 0.0) / (n - 1)) if n > 1 else 0.0,
            "min": min(a["min"], b["min"]), "max": max(a["max"], b["max"]), "n": n}


def merge_aggregates(old: dict, new: dict) -> dict:
    """Two :func:`aggregate` results of disjoint runs pooled into one (e.g. a stored table and a new seed)."""
    out = {label: {"is_mle": e["is_mle"], "points": [dict(p) for p in e["points"]]} for label, e in old.items()}
    for label, entry in new.items():
        mine = out.setdefault(label, {"is_mle": entry["is_mle"], "points": []})
        by_t = {p["temperature"]: p for p in mine["points"]}
        for p in entry["points"]:
            q = by_t.get(p["temperature"])
            if q is None:
                mine["points"].append(dict(p))
                continue
            q.update(runs=q["runs"] + p["runs"], nll_oracle=merge_stats(q["nll_oracle"], p["nll_oracle"]),
                     nll_gen=merge_stats(q["nll_gen"], p["nll_gen"]))
        mine["points"].sort(key=lambda p: p["temperature"])
    return out


def _interpolate(points: list[dict], x: float) -> tuple[float, float] | None:
    """The MLE frontier's mean nll_oracle and its spread at nll_gen ``x`` (None outside its range).

    The frontier is the curve's Pareto front: NLL_gen is lowest near T = 1 and rises on both sides, so only the
    points that no other point beats on both axes are kept (sorted by NLL_gen, NLL_oracle falling).
    """
    pts = []
    for p in sorted(points, key=lambda p: p["nll_gen"]["mean"]):
        if not pts or p["nll_oracle"]["mean"] < pts[-1]["nll_oracle"]["mean"]:
            pts.append(p)
    for a, b in zip(pts, pts[1:]):
        x0, x1 = a["nll_gen"]["mean"], b["nll_gen"]["mean"]
        if x0 <= x <= x1:
            w = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            spread = max(p["nll_oracle"]["max"] - p["nll_oracle"]["min"] for p in (a, b))
            return a["nll_oracle"]["mean"] * (1 - w) + b["nll_oracle"]["mean"] * w, spread
    return None


def verdict(agg: dict) -> list[dict]:
    """For every GAN point and MLE curve: the NLL_oracle gap at equal NLL_gen (positive = the GAN is better) and
    whether it exceeds the seed spread; points outside the MLE curve's NLL_gen range are reported as such."""
    out = []
    for label, entry in agg.items():
        if entry["is_mle"]:
            continue
        for base_label, base in agg.items():
            if not base["is_mle"]:
                continue
            for p in entry["points"]:
                at = _interpolate(base["points"], p["nll_gen"]["mean"])
                own = p["nll_oracle"]["max"] - p["nll_oracle"]["min"]
                row = {"gan": label, "mle": base_label, "temperature": p["temperature"],
                       "nll_gen": p["nll_gen"]["mean"], "nll_oracle": p["nll_oracle"]["mean"]}
                if at is None:
                    lowest = min(q["nll_gen"]["mean"] for q in base["points"])
                    side = "below (better coverage than)" if p["nll_gen"]["mean"] < lowest else "above"
                    row.update(gap=None, spread=own, beyond_spread=False,
                               note=f"{side} the MLE frontier's NLL_gen range")
                else:
                    gap, spread = at[0] - p["nll_oracle"]["mean"], max(own, at[1])
                    row.update(gap=gap, spread=spread, beyond_spread=gap > spread)
                out.append(row)
    return out


def verdict_lines(rows: list[dict]) -> list[str]:
    """The verdict as text: one line per GAN point, then one closing line per GAN and MLE curve."""
    lines = []
    for r in rows:
        if r["gap"] is None:
            lines.append(f"{r['gan']} T={r['temperature']:g} vs {r['mle']}: NLL_gen {r['nll_gen']:.3f} is "
                         f"{r['note']}")
        else:
            judged = ("BEYOND the spread" if r["beyond_spread"] else "within the spread" if r["gap"] > 0
                      else "MLE ahead")
            lines.append(f"{r['gan']} T={r['temperature']:g} vs {r['mle']}: NLL_oracle {r['nll_oracle']:.3f}, "
                         f"{'better' if r['gap'] > 0 else 'worse'} by {abs(r['gap']):.3f} at equal NLL_gen "
                         f"{r['nll_gen']:.3f} (seed spread {r['spread']:.3f}): {judged}")
    pairs = sorted({(r["gan"], r["mle"]) for r in rows})
    for gan, mle in pairs:
        wins = ", ".join(f"{r['temperature']:g}" for r in rows
                         if (r["gan"], r["mle"]) == (gan, mle) and r["beyond_spread"])
        lines.append(f"=> {gan} lies above the {mle} frontier by more than the seed spread "
                     + (f"at T = {wins}" if wins else "nowhere"))
    return lines


def write(rows: list[dict], path: str | Path) -> dict:
    """The records, the aggregate and the verdict as one JSON file; returns that report."""
    agg = aggregate(rows)
    report = {"rows": rows, "aggregate": agg, "verdict": verdict(agg)}
    Path(path).write_text(json.dumps(report, indent=2) + "\n")
    return report
