"""Text sub-commands of the ``multigan`` command line.

    multigan eval-text RUN_DIR --references FILE --temperatures 0.8,1.0,1.2 [-n 1000] [--out eval.json]

samples the exported generator at each temperature and writes BLEU-2..5, self-BLEU-2..5 and NLL figures
as JSON, plus a PNG of BLEU against self-BLEU (the quality-diversity curve: lower temperatures trade
diversity for BLEU, so one BLEU figure alone says little).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MultiganError


def parse_temperatures(text: str) -> list[float]:
    """``"0.8,1.0,1.2"`` -> ``[0.8, 1.0, 1.2]`` (each > 0)."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MultiganError(f"--temperatures: expected comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise MultiganError(f"--temperatures: expected positive numbers, got {text!r}")
    return values


def evaluate_temperatures(run: str | Path, references: str | Path, temperatures: list[float], n: int = 1000,
                          seed: int = 0, device: str = "cpu", self_bleu_samples: int | None = None) -> dict:
    """Metrics of the run's exported generator at every temperature, against the reference file."""
    from ..generator import load
    from .data import read_lines
    from .evaluation import evaluate_generator, nll_gen
    from .generator import TextGenerator
    from .metrics import BleuReferences

    gen = load(run, device=device)
    if not isinstance(gen, TextGenerator) or gen.tokenizer is None:
        raise MultiganError(f"{run}: the exported generator is not a text generator with a tokenizer")
    lines = read_lines(references)
    refs = BleuReferences([gen.tokenizer.split(s) for s in lines], max_order=5)
    results = []
    for t in temperatures:
        metrics, hyps = evaluate_generator(gen, refs, n, seed=seed, temperature=t,
                                           self_bleu_samples=self_bleu_samples)
        results.append({"temperature": t, **metrics, "examples": [" ".join(h) for h in hyps[:5]]})
    return {"run": str(run), "references": str(references), "num_references": len(lines), "samples": n,
            "seed": seed, "export_step": gen.export_meta.get("step"),
            **nll_gen(gen, gen.tokenizer.encode_batch(lines)), "results": results}


def plot_quality_diversity(report: dict, path: str | Path, orders: tuple[int, ...] = (2, 3, 4, 5)) -> Path:
    """BLEU-n against self-BLEU-n, one line per n, points labelled by temperature."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    for n in orders:
        xs = [r[f"self_bleu{n}"] for r in report["results"]]
        ys = [r[f"bleu{n}"] for r in report["results"]]
        ax.plot(xs, ys, marker="o", label=f"BLEU-{n}")
        for r, x, y in zip(report["results"], xs, ys):
            ax.annotate(f"T={r['temperature']:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("self-BLEU (leave-one-out; lower = more diverse)")
    ax.set_ylabel("BLEU against the references (higher = better quality)")
    ax.set_title(f"{Path(report['run']).name}: quality vs diversity ({report['samples']} samples)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _cmd_eval_text(args: argparse.Namespace) -> None:
    temps = parse_temperatures(args.temperatures)
    if args.n < 2:
        raise MultiganError(f"-n must be >= 2 (self-BLEU needs two sentences), got {args.n}")
    report = evaluate_temperatures(args.run, args.references, temps, args.n, args.seed, args.device,
                                   args.self_bleu_samples)
    out = Path(args.out) if args.out else Path(args.run) / "eval_text.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    png = plot_quality_diversity(report, out.with_suffix(".png"))
    for r in report["results"]:
        print(f"T={r['temperature']:g}: " + " ".join(f"{k}={r[k]:.4f}" for k in
                                                     ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "nll_self")))
    print(f"wrote {out} and {png}")


def register(subparsers) -> None:
    """Add the text sub-commands to ``multigan``'s sub-parsers."""
    p = subparsers.add_parser("eval-text", help="BLEU / self-BLEU of a text run at several temperatures")
    p.add_argument("run", help="run directory or export directory")
    p.add_argument("--references", required=True, help="reference sentences, one per line (e.g. a test split)")
    p.add_argument("--temperatures", default="1.0", help="comma-separated sampling temperatures")
    p.add_argument("-n", type=int, default=1000, help="sentences generated per temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--self-bleu-samples", type=int, default=None,
                   help="cap on the set used for self-BLEU (default: all n)")
    p.add_argument("--out", help="JSON report (default RUN/eval_text.json); the PNG goes beside it")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_eval_text)
