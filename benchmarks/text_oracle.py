"""The synthetic-oracle table: RelGAN, ScratchGAN-style and MLE runs beside the RelGAN paper's figures.

    python benchmarks/text_oracle.py --train            # trains both cpu presets one after the other, then reports
    python benchmarks/text_oracle.py                    # reports existing runs (runs/oracle_cpu, runs/oracle_scratchgan_cpu)
    python benchmarks/text_oracle.py --preset gpu --relgan runs/oracle_gpu --scratchgan runs/oracle_scratchgan_gpu \
        --out benchmarks/results/oracle_gpu.json --train
    python benchmarks/text_oracle.py --merge benchmarks/results/oracle_cpu.json --relgan runs/oracle_cpu_s2 \
        --scratchgan "" --lstm-mle-seeds 1,2      # one more training seed pooled into a stored table

Each run's ``oracle_report.json`` gives NLL_oracle (of the generator's samples, under the run's stored oracle) and
NLL_gen (of held-out oracle sentences, under the generator) for the exported GAN, the MLE it started from and
the matched-compute MLE. An LSTM trained by MLE alone with SeqGAN's generator size (embedding and hidden 32,
the "MLE" row of the SeqGAN/RelGAN tables) is trained here on the same oracle data (``--lstm-mle-epochs``).
``--merge`` pools the runs given here (and ``--lstm-mle-seeds``) into a stored result whose runs are gone:
the aggregate statistics combine exactly (:func:`multigan.text.oracle_eval.merge_aggregates`). Writes one JSON
(default ``benchmarks/results/oracle_cpu.json``).
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

from multigan.text.architectures import GeneratorConfig, LSTMGeneratorConfig, build_sized_generator  # noqa: E402
from multigan.text.mle import pretrain_mle  # noqa: E402
from multigan.text.oracle_eval import (aggregate, evaluate_runs, merge_aggregates, run_task, verdict,  # noqa: E402
                                       verdict_lines)
from multigan.text.pipeline.oracle_run import score_generator  # noqa: E402

#: RelGAN (Nie et al., ICLR 2019), Table 1, synthetic data, NLL_oracle (lower is better), sequence length 20.
#: RelGAN(100) 6.680 and the length-40 6.765 are confirmed by the RelGAN authors' issue thread
#: (github.com/weilinie/RelGAN/issues/22); the other rows are quoted from memory of the table and not checked
#: against the paper here. Real data (the SeqGAN oracle's own entropy) is given there as 5.750.
PAPER = {
    "source": "RelGAN (Nie, Narodytska, Patel, ICLR 2019), Table 1, synthetic data, length 20",
    "nll_oracle": {"MLE": 9.038, "SeqGAN": 8.736, "RankGAN": 8.247, "LeakGAN": 7.038, "RelGAN(100)": 6.680,
                   "RelGAN(1000)": 6.765, "real data": 5.750},
    "checked": {"RelGAN(100)": "weilinie/RelGAN#22 (6.680 at length 20, 6.765 at length 40)"},
    "unchecked": "MLE, SeqGAN, RankGAN, LeakGAN, RelGAN(1000), real data: from memory of the table",
    "reported_reproductions": {"weilinie/RelGAN#22, default settings": {"final": 7.7672, "minimum": 7.4066},
                               "weilinie/RelGAN#22, the authors' length-20 settings": {"final": 8.3460,
                                                                                     "minimum": 7.1345}},
    "protocol_differences": [
        "the paper's oracle is SeqGAN's stored random LSTM; this one is drawn from its seed with the same shape "
        "and N(0, 1) weights, so only the gap to each oracle's own entropy (nll_oracle_real) compares",
        "NLL_gen here is on held-out oracle sentences; Texygen/RelGAN score the training sentences",
    ],
}


def _run(cmd: list[str], log: Path) -> float:
    start = time.time()
    with log.open("w") as fh:
        subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, check=True)
    return time.time() - start


def _trajectory(run: Path) -> list[dict]:
    path = run / "validation.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    return [{k: round(r[k], 4) if isinstance(r[k], float) else r[k] for k in ("step", "nll_oracle", "nll_gen")}
            for r in rows]


LSTM_MLE = "MLE (LSTM 32, SeqGAN's size)"


def _lstm_mle(run: Path, epochs: int, out: Path, temps: list[float], n: int, seeds: list[int],
              train_seed: int = 0) -> dict:
    """SeqGAN's MLE baseline (LSTM 32/32) on the run's stored oracle and data, scored like the runs."""
    torch.set_num_threads(1)
    task = run_task(run)
    torch.manual_seed(train_seed)
    g = build_sized_generator(GeneratorConfig(arch="lstm", lstm=LSTMGeneratorConfig(32, 32, 1)),
                              **task.generator_kwargs())
    r = pretrain_mle(g, task.train_ids, task.val_ids, out, epochs, 64, 1e-2, patience=3, seed=train_seed)
    rows = [{"run": str(out), "label": LSTM_MLE, "is_mle": True, "temperature": t, "seed": s, **{
        k: v for k, v in score_generator(g, task, n, s, t).items() if k in ("nll_oracle", "nll_gen")}}
        for t in temps for s in seeds]
    return {"train_seed": train_seed, "epochs": r.epochs, "best_epoch": r.best_epoch, "val_nll_gen": r.best_nll,
            "cpu_seconds": round(r.cpu_seconds, 1)}, rows


def _summary(run: Path) -> dict:
    report = json.loads((run / "oracle_report.json").read_text())
    return {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run), "objective": report["objective"], "export_step": report["export_step"],
            "steps": report["steps"], "compute": report["compute"], "points": report["points"],
            "validation": _trajectory(run), "task": report["task"]}


def _runs(text: str) -> list[Path]:
    """Comma-separated run directories; those without a finished report are left out (and named)."""
    found = []
    for name in (x for x in text.split(",") if x):
        run = ROOT / name
        if (run / "oracle_report.json").is_file():
            found.append(run)
        else:
            print(f"skipping {name}: no oracle_report.json (not run or not finished)")
    return found


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--relgan", default="runs/oracle_cpu,runs/oracle_cpu_s1,runs/oracle_cpu_s2",
                   help="comma-separated RelGAN runs (training seeds)")
    p.add_argument("--scratchgan", default="runs/oracle_scratchgan_cpu,runs/oracle_scratchgan_cpu_s1,"
                                           "runs/oracle_scratchgan_cpu_s2", help="comma-separated ScratchGAN-style runs")
    p.add_argument("--preset", default="cpu", help="cpu or gpu: the RelGAN preset; ScratchGAN's is scratchgan-PRESET")
    p.add_argument("--train", action="store_true", help="train the runs first (one after the other; train.seed = "
                                                        "the run's position in its list)")
    p.add_argument("--lstm-mle-epochs", type=int, default=10)
    p.add_argument("--samples", type=int, default=2000, help="samples per frontier point")
    p.add_argument("--seeds", default="0,1,2", help="sampling seeds of the frontier")
    p.add_argument("--lstm-mle-seeds", default="0", help="training seeds of the LSTM-32 MLE baseline")
    p.add_argument("--merge", help="a stored result JSON to pool the runs given here into (its runs may be gone)")
    p.add_argument("--out", default="benchmarks/results/oracle_cpu.json")
    args = p.parse_args(argv)
    wall = {}
    if args.train:
        for runs, preset in ((args.relgan, args.preset), (args.scratchgan, f"scratchgan-{args.preset}")):
            for seed, name in enumerate(x for x in runs.split(",") if x):
                run = ROOT / name
                wall[name] = round(_run([sys.executable, "recipes/oracle_relgan.py", "--preset", preset, "--out",
                                         str(run), "--overwrite", f"train.seed={seed}"], run.with_suffix(".log")), 1)
    relgan, scratch = _runs(args.relgan), _runs(args.scratchgan)
    old = json.loads((ROOT / args.merge).read_text()) if args.merge else None
    if old:
        temps, seeds = old["frontier"]["temperatures"], old["frontier"]["sampling_seeds"]
    else:
        temps = [q["temperature"]
                 for q in json.loads((relgan[0] / "oracle_report.json").read_text())["points"]["gan"]]
        seeds = [int(x) for x in args.seeds.split(",")]
    cpu0 = time.process_time()
    rows = evaluate_runs([*relgan, *scratch], temps, args.samples, seeds)
    frontier_cpu = round(time.process_time() - cpu0, 1)
    lstm_info, lstm_rows = [], []
    for train_seed in (int(x) for x in args.lstm_mle_seeds.split(",") if x):
        name = f"{relgan[0].name}_lstm_mle" + (f"_s{train_seed}" if train_seed else "")
        info, more = _lstm_mle(relgan[0], args.lstm_mle_epochs, relgan[0].parent / name, temps, args.samples, seeds,
                               train_seed)
        lstm_info.append(info)
        lstm_rows += more
    agg = aggregate(rows + lstm_rows)
    runs = {"relgan": [_summary(r) for r in relgan], "scratchgan": [_summary(r) for r in scratch]}
    if old:
        stored = old["runs"]["relgan"][0]["task"]
        for summary in runs["relgan"] + runs["scratchgan"]:
            if summary["task"]["oracle"] != stored["oracle"] or summary["task"]["data_seed"] != stored["data_seed"]:
                raise SystemExit(f"--merge: {summary['run']} has another oracle or data than {args.merge} "
                                 f"({summary['task']['oracle']} vs {stored['oracle']}): its figures do not pool")
        agg = merge_aggregates(old["frontier"]["aggregate"], agg)
        runs = {k: old["runs"].get(k, []) + v for k, v in runs.items()}
        old_lstm = old.get("mle_lstm") or []
        lstm_info = (old_lstm if isinstance(old_lstm, list) else [{"train_seed": 0, **old_lstm}]) + lstm_info
        frontier_cpu = {"merged_from": old["frontier"]["cpu_seconds"], "this_invocation": frontier_cpu}
        wall = {**old.get("wall_seconds", {}), **wall}
    command = " ".join(["python", "benchmarks/text_oracle.py", *(argv if argv is not None else sys.argv[1:])])
    result = {"command": command if not old else [*([old["command"]] if isinstance(old["command"], str)
                                                    else old["command"]), command],
              "threads": 1, "wall_seconds": wall, "paper": PAPER,
              "frontier": {"samples": args.samples, "sampling_seeds": seeds, "temperatures": temps,
                           "cpu_seconds": frontier_cpu, "aggregate": agg, "verdict": verdict(agg)},
              "runs": runs, "mle_lstm": lstm_info}
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for label, entry in agg.items():
        for q in entry["points"]:
            print(f"{label:>28} T={q['temperature']:g}: NLL_oracle {q['nll_oracle']['mean']:.3f} "
                  f"[{q['nll_oracle']['min']:.3f}, {q['nll_oracle']['max']:.3f}] NLL_gen {q['nll_gen']['mean']:.3f} "
                  f"[{q['nll_gen']['min']:.3f}, {q['nll_gen']['max']:.3f}] ({q['runs']} runs)")
    print("\n".join(verdict_lines(result["frontier"]["verdict"])))
    print(f"oracle's own test sentences: NLL_oracle {result['runs']['relgan'][0]['task']['nll_oracle_real']:.3f}")
    return result


if __name__ == "__main__":
    main()
