"""Time nltk's sentence BLEU against multigan.text.metrics on COCO captions.

Protocol (Texygen / RelGAN): N hypotheses, each scored against the whole COCO caption
file, BLEU-n for each order n with nltk's ``sentence_bleu(..., weights=(1/n,)*n,
smoothing_function=SmoothingFunction().method1)``, averaged over hypotheses.

The hypotheses are N captions drawn with a fixed seed whose words are shuffled, so they
are not verbatim copies of a reference (like generator output, partly matching).

Usage::

    .venv/bin/python benchmarks/bleu.py [--n 200] [--data PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory, without installing

from multigan.text.metrics import BleuReferences  # noqa: E402

DEFAULT_DATA = "../shared/data/coco-captions/image_coco.txt"
DEFAULT_OUT = "benchmarks/results/bleu.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; relative paths are taken from the repository root."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="captions, one per line")
    parser.add_argument("--n", type=int, default=200, help="number of hypotheses")
    parser.add_argument("--orders", default="2,3,4,5", help="comma-separated n-gram orders")
    parser.add_argument("--seed", type=int, default=0, help="seed for picking hypotheses")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs of ours (the median is kept)"
    )
    parser.add_argument(
        "--nltk-multi",
        action="store_true",
        help="also time nltk with all orders in one sentence_bleu call (list of weights)",
    )
    return parser.parse_args(argv)


def resolve(path: str) -> Path:
    """``path`` as given if absolute, else relative to the repository root."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else REPO / candidate


def load_captions(path: Path) -> List[List[str]]:
    """Space-tokenised captions, one per non-empty line."""
    with path.open(encoding="utf-8") as handle:
        return [line.split() for line in handle if line.strip()]


def make_hypotheses(captions: List[List[str]], n: int, seed: int) -> List[List[str]]:
    """``n`` captions picked with ``seed``, each with its words shuffled."""
    rng = random.Random(seed)
    picked = rng.sample(captions, min(n, len(captions)))
    return [rng.sample(words, len(words)) for words in picked]


def time_nltk_per_order(
    references: List[List[str]], hypotheses: List[List[str]], orders: Sequence[int]
) -> tuple[float, Dict[int, List[float]]]:
    """nltk as the protocol calls it: one sentence_bleu call per hypothesis and order."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    scores: Dict[int, List[float]] = {n: [] for n in orders}
    start = time.perf_counter()
    for index, hyp in enumerate(hypotheses, 1):
        for n in orders:
            weights = (1 / n,) * n
            scores[n].append(sentence_bleu(references, hyp, weights, smoothing_function=smooth))
        if index % 25 == 0:
            print(f"  nltk: {index}/{len(hypotheses)} ({time.perf_counter() - start:.0f} s)", flush=True)
    return time.perf_counter() - start, scores


def time_nltk_multi(
    references: List[List[str]], hypotheses: List[List[str]], orders: Sequence[int]
) -> tuple[float, Dict[int, List[float]]]:
    """nltk with every order in one call per hypothesis (a list of weight tuples)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    weights = [(1 / n,) * n for n in orders]
    scores: Dict[int, List[float]] = {n: [] for n in orders}
    start = time.perf_counter()
    for hyp in hypotheses:
        for n, value in zip(orders, sentence_bleu(references, hyp, weights, smoothing_function=smooth)):
            scores[n].append(value)
    return time.perf_counter() - start, scores


def time_ours(
    references: List[List[str]], hypotheses: List[List[str]], orders: Sequence[int], repeat: int
) -> tuple[float, float, Dict[int, List[float]]]:
    """Median seconds to summarise the references and to score, and the scores.

    nltk is timed once (it takes minutes); ours runs ``repeat`` times and the median is
    kept, which damps the noise of a shared machine without picking the best run.
    """
    build_times, score_times = [], []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        refs = BleuReferences(references, max(orders))
        built = time.perf_counter()
        scores = refs.sentence_scores(hypotheses, orders)
        build_times.append(built - start)
        score_times.append(time.perf_counter() - built)
    return statistics.median(build_times), statistics.median(score_times), scores


def max_abs_diff(a: Dict[int, List[float]], b: Dict[int, List[float]]) -> float:
    """Largest per-sentence, per-order absolute difference."""
    return max(abs(x - y) for n in a for x, y in zip(a[n], b[n]))


def mean(values: List[float]) -> float:
    """Plain arithmetic mean."""
    return sum(values) / len(values)


def print_table(orders: Sequence[int], ours: Dict[int, List[float]], nltk: Dict[int, List[float]]) -> None:
    """Per-order mean scores and differences."""
    print(f"{'order':>5} {'nltk mean':>14} {'ours mean':>14} {'max |diff|':>11}")
    for n in orders:
        diff = max(abs(x - y) for x, y in zip(ours[n], nltk[n]))
        print(f"BLEU-{n} {mean(nltk[n]):14.10f} {mean(ours[n]):14.10f} {diff:11.2e}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print a table and write the JSON results."""
    args = parse_args(argv)
    orders = tuple(int(o) for o in args.orders.split(","))
    references = load_captions(resolve(args.data))
    hypotheses = make_hypotheses(references, args.n, args.seed)
    print(f"{len(hypotheses)} hypotheses x {len(references)} references, orders {orders}")

    precompute_s, scoring_s, ours = time_ours(references, hypotheses, orders, args.repeat)
    ours_s = precompute_s + scoring_s
    print(
        f"ours (median of {args.repeat}): {ours_s:.4f} s "
        f"(references {precompute_s:.4f} s + scoring {scoring_s:.4f} s)"
    )
    nltk_s, nltk = time_nltk_per_order(references, hypotheses, orders)
    print(f"nltk (one call per order): {nltk_s:.1f} s")

    result = {
        "n_hypotheses": len(hypotheses),
        "n_references": len(references),
        "orders": list(orders),
        "nltk_seconds": nltk_s,
        "ours_seconds": ours_s,
        "ours_precompute_seconds": precompute_s,
        "ours_scoring_seconds": scoring_s,
        "ours_timing": f"median of {args.repeat} runs; nltk timed once",
        "speedup": nltk_s / ours_s,
        "speedup_scoring_only": nltk_s / scoring_s,
        "max_abs_diff": max_abs_diff(ours, nltk),
        "mean_bleu": {str(n): {"nltk": mean(nltk[n]), "ours": mean(ours[n])} for n in orders},
        "environment": {
            "python": platform.python_version(),
            "nltk": __import__("nltk").__version__,
            "cpu_count": os.cpu_count(),
        },
    }
    if args.nltk_multi:
        multi_s, multi = time_nltk_multi(references, hypotheses, orders)
        print(f"nltk (all orders in one call): {multi_s:.1f} s")
        result.update(
            nltk_multi_seconds=multi_s,
            speedup_vs_nltk_multi=multi_s / ours_s,
            max_abs_diff_nltk_multi=max_abs_diff(ours, multi),
        )

    print_table(orders, ours, nltk)
    print(f"speed-up: {result['speedup']:.0f}x overall, {result['speedup_scoring_only']:.0f}x scoring only")
    if args.nltk_multi:
        print(f"speed-up vs nltk multi-weight call: {result['speedup_vs_nltk_multi']:.0f}x")
    out = resolve(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
