"""COCO frontiers over training seeds: RelGAN against its MLE baselines, every point a mean with a 95 % interval.

    python benchmarks/text_seeds.py --train --gpt2 --lm-scores       # train what is missing, then score
    python benchmarks/text_seeds.py --lm-scores                      # score existing runs only

The runs (default ``runs/coco_small_s0,s1,s2``) are ``recipes/coco_relgan.py --preset PRESET`` with
``train.seed`` = the run's position in the list; the validation split (``data.split_seed=0``) is the same in all,
so every run is scored on the same 1,000 held-out captions. ``--gpt2`` trains in each run a GPT-2-shaped
generator (a transformers config, no download) by MLE for the CPU seconds the run spent on its generator
(:mod:`multigan.text.baselines`). The scoring is ``multigan eval-text RUN... --training-seeds``
(:func:`multigan.text.frontier_seeds.score_runs`): tempered curves for the GAN and every MLE generator, top-p
curves for the MLE generator the GAN started from and the GPT-2 baseline (``--top-p-kinds``; the matched-compute
MLE's is left out to save a third of the top-p points), the LM / reverse-LM scores with ``--lm-scores``, then
means with Student-t 95 % intervals over the seeds and the paired verdict. Writes the JSON (with each run's compute) and a PNG beside it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigan.text.architectures import GeneratorConfig, GPT2GeneratorConfig  # noqa: E402
from multigan.text.baselines import train_baseline  # noqa: E402
from multigan.text.cli import parse_temperatures, parse_top_ps  # noqa: E402
from multigan.text.data import read_lines  # noqa: E402
from multigan.text.frontier_plot import write_report  # noqa: E402
from multigan.text.frontier import BASELINE_KIND, point_name  # noqa: E402
from multigan.text.frontier_seeds import score_runs, verdict_lines  # noqa: E402

DEFAULT_DATA = "../shared/data/coco-captions/image_coco.txt"


def _train(runs: list[Path], preset: str, extra: list[str]) -> dict:
    """Run the recipe for every run without a ``metrics.json`` (one after the other); wall seconds by run."""
    wall = {}
    for seed, run in enumerate(runs):
        if (run / "metrics.json").is_file():
            continue
        start = time.time()
        with run.with_suffix(".log").open("w") as log:
            subprocess.run([sys.executable, "recipes/coco_relgan.py", "--preset", preset, "--out", str(run),
                            "--overwrite", f"train.seed={seed}", *extra], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, check=True)
        wall[run.name] = round(time.time() - start, 1)
    return wall


def _compute(run: Path) -> dict:
    """CPU seconds of the run's stages (from its metrics.json) and of its baselines."""
    m = json.loads((run / "metrics.json").read_text())
    c = m["compute"]
    out = {"mle_cpu_seconds": c["mle_cpu_seconds"], "adversarial_cpu_seconds": c["adversarial_cpu_seconds"],
           "mle_matched_cpu_seconds": (c.get("mle_matched") or {}).get("cpu_seconds"),
           "export_step": m.get("export_step"), "steps": m.get("steps")}
    for done in sorted(run.glob("mle_*/export/generator.json")):
        meta = json.loads(done.read_text())["meta"]
        out[f"{done.parent.parent.name}_cpu_seconds"] = meta.get("cpu_seconds")
        out[f"{done.parent.parent.name}"] = {k: meta.get(k) for k in ("epochs", "best_epoch", "best_nll", "parameters")}
    return out


TABLE_KEYS = ("bleu4", "bleu5", "self_bleu4", "self_bleu5", "nll_gen", "lm_score", "reverse_lm")


def markdown_table(report: dict) -> list[str]:
    """The aggregate as a markdown table: mean ± 95 % half-width per metric, one row per point."""
    def cell(p: dict, k: str) -> str:
        if p.get(k) is None:
            return "-"
        half = (p.get("ci95") or {}).get(k)
        return f"{p[k]:.3f}" + (f" ± {half:.3f}" if half is not None else "")
    rows = ["| generator | point | " + " | ".join(TABLE_KEYS) + " |", "|---|---|" + "---|" * len(TABLE_KEYS)]
    curves = [*report["curves"], *([{"label": "real text", "points": [report["real"]]}] if "real" in report else [])]
    for c in curves:
        for i, p in enumerate(c["points"]):
            rows.append(f"| {c['label'] if i == 0 else ''} | {point_name(p)} | "
                        + " | ".join(cell(p, k) for k in TABLE_KEYS) + " |")
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/coco_small_s0,runs/coco_small_s1,runs/coco_small_s2",
                   help="comma-separated run directories, one per training seed")
    p.add_argument("--preset", default="cpu-small", help="the recipe preset --train uses")
    p.add_argument("--train", action="store_true", help="train the runs that have no metrics.json first")
    p.add_argument("--set", nargs="*", default=[], help="extra recipe overrides for --train (key=value)")
    p.add_argument("--gpt2", action="store_true", help="train the GPT-2-shaped MLE baseline in each run (if missing)")
    p.add_argument("--gpt2-size", default="128,2,4", help="n_embd,n_layer,n_head of the GPT-2 config")
    p.add_argument("--gpt2-lr", type=float, default=5e-4)
    p.add_argument("--data", default=DEFAULT_DATA, help="the real text (the real-text point, the LM score's LM)")
    p.add_argument("--temperatures", default="0.7,0.85,1.0,1.2")
    p.add_argument("--top-p", default="0.8,0.9,0.95,1.0", help="nucleus thresholds of the MLE generators' curves")
    p.add_argument("--top-p-kinds", default=f"mle,{BASELINE_KIND}",
                   help="which MLE generators get a top-p curve (kinds: mle, mle_matched, mle_baseline)")
    p.add_argument("-n", type=int, default=1000, help="sentences per point")
    p.add_argument("--lm-scores", action="store_true", help="add the LM and reverse-LM scores (slow)")
    p.add_argument("--out", default="benchmarks/results/text_seeds_cpu.json")
    p.add_argument("--table", help="print the markdown table and verdict of an existing result JSON, and stop")
    args = p.parse_args(argv)
    if args.table:
        report = json.loads((ROOT / args.table).read_text())
        print("\n".join(markdown_table(report) + verdict_lines(report["verdict"])))
        return report
    torch.set_num_threads(1)
    runs = [ROOT / r for r in args.runs.split(",") if r]
    wall = _train(runs, args.preset, args.set) if args.train else {}
    if args.gpt2:
        n_embd, n_layer, n_head = (int(x) for x in args.gpt2_size.split(","))
        cfg = GeneratorConfig(arch="gpt2", gpt2=GPT2GeneratorConfig(n_embd=n_embd, n_layer=n_layer, n_head=n_head))
        for seed, run in enumerate(runs):
            train_baseline(run, "gpt2", cfg, lr=args.gpt2_lr, seed=seed, root=ROOT)
    cpu0 = time.process_time()
    report = score_runs(runs, read_lines(runs[0] / "references.txt"), parse_temperatures(args.temperatures), args.n,
                        real_lines=read_lines(ROOT / args.data), top_ps=parse_top_ps(args.top_p),
                        lm_scores=args.lm_scores, training_seeds=True, top_p_kinds=args.top_p_kinds.split(","),
                        references_name=f"{runs[0].name}/references.txt (held-out validation split)",
                        real_name=args.data, echo=print)
    report["command"] = " ".join(["python", "benchmarks/text_seeds.py", *(argv if argv is not None else sys.argv[1:])])
    report["threads"] = 1
    report["compute"] = {"runs": {r.name: _compute(r) for r in runs}, "train_wall_seconds": wall,
                         "eval_cpu_seconds": round(time.process_time() - cpu0, 1)}
    out, png = write_report(report, ROOT / args.out)
    print("\n".join(markdown_table(report) + verdict_lines(report["verdict"])))
    print(f"wrote {out} and {png}")
    return report


if __name__ == "__main__":
    main()
