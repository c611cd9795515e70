"""Quality-diversity frontiers: a text run's generators swept over the sampling temperature, side by side.

Caccia et al. ("Language GANs Falling Short", ICLR 2020) showed that one BLEU figure says little: lowering
the sampling temperature buys BLEU with diversity, and an MLE model swept over the temperature dominated
every text GAN they measured. So every generator is scored here at several temperatures, and each one
gives a curve:

* ``GAN`` -- the run's adversarial export (``RUN/export``);
* ``MLE`` -- the MLE generator the adversarial stage started from (``RUN/mle/generator.safetensors``, a
  state dict of the same architecture, rebuilt from ``RUN/export/generator.json``);
* ``MLE, matched compute`` -- MLE training continued for as long as the adversarial stage ran
  (``RUN/mle_matched/``, written by the recipe when ``mle.matched_compute`` is on);
* ``real text`` -- a point, not a curve: real sentences that are not references, scored the same way.

Every point holds BLEU-2..5 against the references, both self-BLEU variants (leave-one-out ``self_bleuN``
and against a second sample ``self_bleu_fixedN``), NLL_gen of the references under the tempered model (per
token and per sentence, padding excluded), ``nll_self``, distinct-1..4, the share of distinct sentences and
the mean length. :func:`frontier_gaps` tells whether one curve lies above another anywhere.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..errors import MultiganError
from .evaluation import DEFAULT_ORDERS, evaluate_generator, text_set_metrics
from .generator import TextGenerator
from .metrics import BleuReferences, self_bleu_fixed
from .mle import is_done, load_pretrained

GAN, MLE, MLE_MATCHED, REAL = "GAN", "MLE", "MLE, matched compute", "real text"
#: label -> folder of a run directory holding MLE weights (see :mod:`multigan.text.mle`)
MLE_FOLDERS = {MLE: "mle", MLE_MATCHED: "mle_matched"}
EXAMPLES = 3  # sentences kept per point in the report


@dataclass
class Contender:
    """A generator on the frontier: its label, the model and where it came from."""

    label: str
    generator: TextGenerator
    source: str
    kind: str = "gan"  # "gan" or one of MLE_FOLDERS' folders ("mle", "mle_matched"): MLE kinds are baselines
    info: dict = field(default_factory=dict)


def load_text_generator(path: str | Path, device: str = "cpu") -> TextGenerator:
    """The exported text generator of a run (or export) directory, with its tokenizer."""
    from ..export import load

    gen = load(path, device=device)
    if not isinstance(gen, TextGenerator) or gen.tokenizer is None:
        raise MultiganError(f"{path}: the exported generator is not a text generator with a tokenizer")
    return gen


def load_mle_generator(run: str | Path, folder: str = "mle", device: str = "cpu") -> TextGenerator:
    """The MLE weights in ``run/folder`` in the architecture of ``run/export`` (same tokenizer)."""
    gen = load_text_generator(run, device)
    result = load_pretrained(gen, Path(run) / folder)
    gen.export_meta = {"mle_epoch": result.best_epoch, "mle_epochs": result.epochs, "seconds": result.seconds,
                       "cpu_seconds": result.cpu_seconds}
    return gen.eval()


def run_contenders(run: str | Path, device: str = "cpu", prefix: str = "") -> list[Contender]:
    """The GAN export of ``run`` and whichever MLE generators it holds (``prefix`` goes before each label)."""
    run = Path(run)
    gan = load_text_generator(run, device)
    found = [Contender(prefix + GAN, gan, str(run), "gan", {"export_step": gan.export_meta.get("step")})]
    for label, folder in MLE_FOLDERS.items():
        if is_done(run / folder):
            mle = load_mle_generator(run, folder, device)
            found.append(Contender(prefix + label, mle, str(run / folder), folder, dict(mle.export_meta)))
    return found


def real_text_pool(lines: Sequence[str], references: Sequence[str]) -> list[str]:
    """Real sentences that are not references (compared as stripped text)."""
    held_out = {r.strip() for r in references}
    return [line for line in lines if line.strip() not in held_out]


def real_point(pool: Sequence[str], split, references: BleuReferences, n: int, seed: int = 0,
               self_bleu_samples: int | None = None) -> dict:
    """The frontier's metrics of ``n`` real sentences drawn from ``pool`` (``split`` tokenises a sentence).

    ``self_bleu_fixed`` uses ``n`` further sentences when the pool has them.
    """
    if len(pool) < 2:
        raise MultiganError(f"the real-text point needs at least 2 sentences that are not references, got {len(pool)}")
    drawn = random.Random(seed).sample(list(pool), min(len(pool), 2 * n))
    hyps, other = [split(s) for s in drawn[:n]], [split(s) for s in drawn[n:]]
    point = {"temperature": None, "samples": len(hyps),
             **text_set_metrics(hyps, references, DEFAULT_ORDERS, self_bleu_samples, seed)}
    if len(other) == len(hyps):
        point.update({f"self_bleu_fixed{k}": v for k, v in self_bleu_fixed(hyps, other, DEFAULT_ORDERS).items()})
    return point


@torch.no_grad()
def curve(contender: Contender, references: BleuReferences, reference_lines: Sequence[str],
          temperatures: Sequence[float], n: int, seed: int = 0, self_bleu_samples: int | None = None) -> dict:
    """One contender at every temperature (the same seeds at each, so the points differ only by T)."""
    gen = contender.generator
    nll_ids = gen.tokenizer.encode_batch(list(reference_lines))
    points = []
    for t in temperatures:
        metrics, hyps = evaluate_generator(gen, references, n, seed=seed, temperature=t, nll_ids=nll_ids,
                                           self_bleu_samples=self_bleu_samples, fixed_self_bleu=True)
        points.append({"temperature": t, **metrics, "examples": [" ".join(h) for h in hyps[:EXAMPLES]]})
    return {"label": contender.label, "kind": contender.kind, "source": contender.source, **contender.info,
            "points": points}


def evaluate_frontier(contenders: Sequence[Contender], reference_lines: Sequence[str],
                      temperatures: Sequence[float], n: int = 1000, seed: int = 0,
                      real_lines: Sequence[str] | None = None, self_bleu_samples: int | None = None,
                      references_name: str = "", real_name: str = "") -> dict:
    """The frontier report: one curve per contender, the real-text point, and the gaps between curves."""
    if not contenders:
        raise MultiganError("no generator to evaluate")
    if n < 2:
        raise MultiganError(f"the frontier needs at least 2 samples per temperature (self-BLEU), got {n}")
    split = contenders[0].generator.tokenizer.split  # the same word splitting in every WordTokenizer
    references = BleuReferences([split(s) for s in reference_lines], max_order=max(DEFAULT_ORDERS))
    report = {"references": references_name, "num_references": len(reference_lines), "samples": n, "seed": seed,
              "temperatures": list(temperatures), "self_bleu_samples": self_bleu_samples,
              "nll_gen": "nats per real token (words and <eos>, no <pad>) of the references under the model "
                         "sampling at that temperature; nll_gen_sentence: nats per reference sentence",
              "curves": [curve(c, references, reference_lines, temperatures, n, seed, self_bleu_samples)
                         for c in contenders]}
    if real_lines is not None:
        pool = real_text_pool(real_lines, reference_lines)
        report["real"] = {"label": REAL, "source": real_name, "pool": len(pool),
                          **real_point(pool, split, references, n, seed, self_bleu_samples)}
    report["gaps"] = frontier_gaps(report)
    return report


def _interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float | None:
    """Piecewise-linear ``y(x)`` through the points sorted by x; None outside their x range."""
    pts = sorted(zip(xs, ys))
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1] if len(pts) == 1 and pts[0][0] == x else None


def curve_gap(challenger: dict, baseline: dict, quality: str = "bleu4", diversity: str = "self_bleu4",
              higher_is_better: bool = True) -> list[dict]:
    """For each challenger point within the baseline's diversity range: its quality minus the baseline's
    (interpolated at the same diversity), signed so that positive means the challenger is better."""
    xs = [p[diversity] for p in baseline["points"]]
    ys = [p[quality] for p in baseline["points"]]
    gaps = []
    for p in challenger["points"]:
        base = _interpolate(xs, ys, p[diversity])
        if base is not None:
            gap = (p[quality] - base) * (1 if higher_is_better else -1)
            gaps.append({"temperature": p["temperature"], diversity: p[diversity], "gap": gap})
    return gaps


def frontier_gaps(report: dict) -> dict:
    """Every non-MLE curve against every MLE curve: BLEU-4 at equal self-BLEU-4 and NLL_gen at equal self-BLEU-4.

    Gaps are positive where the challenger is better (higher BLEU-4, lower NLL_gen); ``above`` is true when some
    point of the challenger beats the interpolated baseline, by any margin: compare the ``max_*_gap`` figures
    with the spread between sampling seeds before calling it a win.
    """
    curves = report["curves"]
    baselines = [c for c in curves if c["kind"] in MLE_FOLDERS.values()]
    out = {}
    for challenger in (c for c in curves if c not in baselines):
        for base in baselines:
            bleu = curve_gap(challenger, base, "bleu4", "self_bleu4", True)
            nll = curve_gap(challenger, base, "nll_gen", "self_bleu4", False)
            out[f"{challenger['label']} vs {base['label']}"] = {
                "bleu4_at_equal_self_bleu4": bleu, "nll_gen_at_equal_self_bleu4": nll,
                "max_bleu4_gap": max((g["gap"] for g in bleu), default=None),
                "max_nll_gen_gap": max((g["gap"] for g in nll), default=None),
                "above": any(g["gap"] > 0 for g in bleu + nll)}
    return out


def summary_rows(report: dict, keys: Sequence[str] = ("bleu2", "bleu4", "self_bleu2", "self_bleu4", "nll_gen",
                                                      "distinct4", "mean_length")) -> list[str]:
    """One text line per point (for logs and the console)."""
    rows = []
    for c in [*report["curves"], *([{"label": REAL, "points": [report["real"]]}] if "real" in report else [])]:
        for p in c["points"]:
            t = "-" if p["temperature"] is None else f"{p['temperature']:g}"
            rows.append(f"{c['label']:>22} T={t:>4}: " + " ".join(f"{k}={p[k]:.3f}" for k in keys if k in p))
    return rows
