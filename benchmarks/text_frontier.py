"""The quality-diversity frontier of finished text runs, with its sampling noise and the runs' compute.

For each run of ``recipes/coco_relgan.py`` given, the GAN export and the MLE generators are swept over the
temperatures (:mod:`multigan.text.frontier`, the same as ``multigan eval-text``) at two sampling seeds; the
largest difference between the seeds at any point (``seed_spread``), and between the gaps that each seed
measures between two curves (``gap_seed_spread``), say how large a gap must be to mean something. The runs'
compute (MLE, adversarial and matched-MLE seconds, from their ``metrics.json``) goes into the result, which
is written as JSON with the frontier plot (seed 0) beside it.

Usage::

    .venv/bin/python benchmarks/text_frontier.py runs/coco_cpu [runs/other ...] \\
        [--references runs/coco_cpu/references.txt] [--real ../shared/data/coco-captions/image_coco.txt] \\
        [-n 2000] [--temperatures 0.6,...,1.3] [--out benchmarks/results/text_frontier.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from multigan.text.cli import parse_temperatures  # noqa: E402
from multigan.text.data import read_lines  # noqa: E402
from multigan.text.frontier import evaluate_frontier, run_contenders, summary_rows  # noqa: E402
from multigan.text.frontier_plot import write_report  # noqa: E402

NOISE_KEYS = ("bleu4", "self_bleu4", "nll_gen")


def seed_spread(a: dict, b: dict) -> dict[str, float]:
    """Largest absolute difference of each :data:`NOISE_KEYS` metric between two reports' matching points."""
    spread = {k: 0.0 for k in NOISE_KEYS}
    for ca, cb in zip(a["curves"], b["curves"]):
        for pa, pb in zip(ca["points"], cb["points"]):
            for k in NOISE_KEYS:
                spread[k] = max(spread[k], abs(pa[k] - pb[k]))
    return spread


def gap_spread(a: dict, b: dict) -> dict[str, dict[str, float]]:
    """Per curve pair: the largest difference of the BLEU-4 and NLL_gen gaps between two reports' seeds."""
    out = {}
    for pair, ga in a["gaps"].items():
        gb = b["gaps"][pair]
        out[pair] = {key: max((abs(x["gap"] - y["gap"]) for x, y in zip(ga[key], gb[key])
                               if x["temperature"] == y["temperature"]), default=None)
                     for key in ("bleu4_at_equal_self_bleu4", "nll_gen_at_equal_self_bleu4")}
    return out


def run_compute(run: Path) -> dict:
    """The compute figures a recipe run recorded in ``metrics.json`` (empty when absent)."""
    path = run / "metrics.json"
    return json.loads(path.read_text()).get("compute", {}) if path.is_file() else {}


def main(argv=None) -> dict:
    """Evaluate, write and print the result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--references", type=Path, help="default: FIRST_RUN/references.txt")
    p.add_argument("--real", default=str(REPO.parent / "shared/data/coco-captions/image_coco.txt"))
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--temperatures", default="0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3")
    p.add_argument("--seeds", default="0,1", help="two sampling seeds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/text_frontier.json")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    refs = args.references or args.runs[0] / "references.txt"
    prefix = len(args.runs) > 1
    contenders = [c for run in args.runs for c in run_contenders(run, prefix=f"{run.name}: " if prefix else "")]
    temps, seeds = parse_temperatures(args.temperatures), [int(s) for s in args.seeds.split(",")]
    start, cpu = time.perf_counter(), time.process_time()
    reports = [evaluate_frontier(contenders, read_lines(refs), temps, args.n, seed, read_lines(args.real),
                                 references_name=str(refs), real_name=args.real) for seed in seeds]
    two = len(reports) > 1
    report = {**reports[0], "seed_spread": seed_spread(*reports[:2]) if two else None,
              "gap_seed_spread": gap_spread(*reports[:2]) if two else None,
              "seeds": seeds, "compute": {str(run): run_compute(run) for run in args.runs},
              "evaluation_seconds": round(time.perf_counter() - start, 1),
              "evaluation_cpu_seconds": round(time.process_time() - cpu, 1), "threads": args.threads}
    out, png = write_report(report, args.out)
    print("\n".join(summary_rows(report)))
    gaps = {k: {g: v[g] for g in ("max_bleu4_gap", "max_nll_gen_gap", "above")} for k, v in report["gaps"].items()}
    print(json.dumps({"seed_spread": report["seed_spread"], "gap_seed_spread": report["gap_seed_spread"],
                      "gaps": gaps}, indent=2))
    print(f"wrote {out} and {png}")
    return report


if __name__ == "__main__":
    main()
