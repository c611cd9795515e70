"""Text sub-commands of the ``multigan`` command line.

    multigan eval-text RUN [RUN ...] --references FILE --temperatures 0.7,0.85,1.0,1.2 \
        [--real FILE] [-n 1000] [--out FILE.json] [--top-p 0.8,0.9,0.95,1.0] [--lm-scores] [--training-seeds]

scores every run's adversarial export and its MLE generators (``RUN/mle``, and ``RUN/mle_matched`` when the
recipe trained the matched-compute baseline) over the same temperature sweep, plus a real-text point drawn
from ``--real`` (its sentences that are not references), and writes the frontier report as JSON with a PNG
beside it (:mod:`multigan.text.frontier`): BLEU-4 against self-BLEU-4, NLL_gen against self-BLEU-4.
``--top-p`` adds a nucleus-sampling curve per MLE generator, ``--lm-scores`` the LM and reverse-LM scores
(:mod:`multigan.text.lm_scores`), ``--training-seeds`` the mean over the runs with 95 % t-intervals and the
verdict against the seed spread (:mod:`multigan.text.frontier_seeds`).

    multigan eval-oracle RUN [RUN ...] [--temperatures 0.8,0.9,1.0,1.1] [--seeds 0,1,2] [-n 2000] [--out FILE]

scores synthetic-oracle runs (:mod:`multigan.text.oracle_eval`): mean, spread and range of NLL_oracle and
NLL_gen per temperature over sampling seeds and the runs of the same kind (training seeds), and prints for each
GAN point whether it beats the MLE curve at equal NLL_gen by more than the seed spread.
"""
from __future__ import annotations

import argparse
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


def parse_top_ps(text: str | None) -> list[float]:
    """``"0.8,0.9,1.0"`` -> ``[0.8, 0.9, 1.0]`` (each in (0, 1]); None or "" -> ``[]`` (no top-p curves)."""
    if not text:
        return []
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MultiganError(f"--top-p: expected comma-separated numbers, got {text!r}") from None
    if not values or not all(0 < v <= 1 for v in values):
        raise MultiganError(f"--top-p: expected numbers in (0, 1], got {text!r}")
    return values


def _cmd_eval_text(args: argparse.Namespace) -> None:
    from .data import read_lines
    from .frontier_plot import write_report
    from .frontier_seeds import check_training_seeds, score_runs, verdict_lines

    temps, top_ps = parse_temperatures(args.temperatures), parse_top_ps(args.top_p)
    if args.n < 2:
        raise MultiganError(f"-n: at least 2 sentences per temperature are needed for self-BLEU, got {args.n}")
    if args.self_bleu_samples is not None and args.self_bleu_samples < 2:
        raise MultiganError(f"--self-bleu-samples: self-BLEU compares each sentence with the others, so at least 2 "
                            f"are needed, got {args.self_bleu_samples}")
    if args.training_seeds and len(args.run) < 2:
        raise MultiganError("--training-seeds: give at least 2 runs (the same configuration, different train.seed)")
    check_training_seeds(args.run, args.training_seeds)
    report = score_runs(args.run, read_lines(args.references), temps, args.n, args.seed,
                        read_lines(args.real) if args.real else None, args.self_bleu_samples, top_ps,
                        args.lm_scores, args.training_seeds, args.device, str(args.references), str(args.real or ""),
                        echo=print)
    if args.training_seeds:
        print("\n".join(verdict_lines(report["verdict"])))
    out, png = write_report(report, args.out or Path(args.run[0]) / "frontier.json")
    print(f"wrote {out} and {png}")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MultiganError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise MultiganError("--seeds: at least one seed is needed")
    return values


def _cmd_eval_oracle(args: argparse.Namespace) -> None:
    from .oracle_eval import evaluate_runs, verdict_lines, write

    if args.n < 1:
        raise MultiganError(f"-n: at least 1 sample per point is needed, got {args.n}")
    rows = evaluate_runs(args.run, parse_temperatures(args.temperatures), args.n, parse_seeds(args.seeds),
                         args.device)
    out = Path(args.out or Path(args.run[0]) / "oracle_frontier.json")
    report = write(rows, out)
    for label, entry in report["aggregate"].items():
        for p in entry["points"]:
            o, g = p["nll_oracle"], p["nll_gen"]
            print(f"{label:>28} T={p['temperature']:g}: NLL_oracle {o['mean']:.3f} +- {o['std']:.3f} "
                  f"[{o['min']:.3f}, {o['max']:.3f}], NLL_gen {g['mean']:.3f} +- {g['std']:.3f} "
                  f"({p['runs']} run(s) x {o['n'] // max(p['runs'], 1)} seed(s))")
    print("\n".join(verdict_lines(report["verdict"])))
    print(f"wrote {out}")


def register(subparsers) -> None:
    """Add the text sub-commands to ``multigan``'s sub-parsers."""
    p = subparsers.add_parser("eval-text", help="quality-diversity frontiers of text runs (GAN vs MLE vs real text)")
    p.add_argument("run", nargs="+", help="run directories (or export directories: then no MLE curve)")
    p.add_argument("--references", required=True, help="held-out sentences, one per line: BLEU references and "
                                                      "the text NLL_gen is measured on")
    p.add_argument("--temperatures", default="0.7,0.85,1.0,1.2", help="comma-separated sampling temperatures")
    p.add_argument("--real", help="real sentences for the real-text point (those that are references are left out)")
    p.add_argument("-n", type=int, default=1000, help="sentences generated per temperature (and real sentences)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--self-bleu-samples", type=int, default=None,
                   help="cap on the set used for self-BLEU (default: all n)")
    p.add_argument("--top-p", help="comma-separated nucleus thresholds, e.g. 0.8,0.9,0.95,1.0: each MLE generator "
                                   "also swept over them at temperature 1, as a curve of its own")
    p.add_argument("--lm-scores", action="store_true",
                   help="add the LM score (samples under an LSTM trained on --real) and the reverse-LM score "
                        "(the references under an LSTM trained on each point's samples: one small training per "
                        "point, the slow part)")
    p.add_argument("--training-seeds", action="store_true",
                   help="the runs are one configuration trained with different seeds: score each, then report "
                        "every point as the mean with a 95 %% t-interval and whether the GAN beats MLE beyond it")
    p.add_argument("--out", help="JSON report (default FIRST_RUN/frontier.json); the PNG goes beside it")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_eval_text)

    p = subparsers.add_parser("eval-oracle", help="synthetic-oracle runs: NLL_oracle / NLL_gen over temperatures "
                                                  "and seeds, and whether a GAN beats MLE beyond the seed spread")
    p.add_argument("run", nargs="+", help="oracle run directories (recipes/oracle_relgan.py); runs of the same "
                                          "objective and generator are pooled as training seeds")
    p.add_argument("--temperatures", default="0.8,0.9,1.0,1.1,1.2", help="comma-separated sampling temperatures")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated sampling seeds")
    p.add_argument("-n", type=int, default=2000, help="samples per point")
    p.add_argument("--out", help="JSON report (default FIRST_RUN/oracle_frontier.json)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_eval_oracle)
