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
* ``MLE, NAME (matched compute)`` -- an MLE baseline of another architecture trained for the run's compute
  (``RUN/mle_NAME/export``, :mod:`multigan.text.baselines`, e.g. GPT-2-shaped);
* ``real text`` -- a point, not a curve: real sentences that are not references, scored the same way;
* ``MLE, top-p`` (and ``MLE, matched compute, top-p``) -- with ``top_ps``, each MLE generator again at
  temperature 1 swept over the nucleus threshold (Holtzman et al. 2020), a curve of its own (no NLL_gen: the
  truncated distribution gives held-out words probability 0; the reverse-LM score takes its place).

Every point holds BLEU-2..5 against the references, both self-BLEU variants (leave-one-out ``self_bleuN``
and against a second sample ``self_bleu_fixedN``), NLL_gen of the references under the tempered model (per
token and per sentence, padding excluded), ``nll_self``, distinct-1..4, the share of distinct sentences and
the mean length; with an :class:`~multigan.text.lm_scores.LMScorer`, also ``lm_score`` and ``reverse_lm``.
:func:`frontier_gaps` tells whether one curve lies above another anywhere.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..errors import MultiganError
from .evaluation import DEFAULT_ORDERS, evaluate_generator, text_set_metrics
from .baselines import baseline_folders
from .generator import TextGenerator
from .lm_scores import LMScorer
from .metrics import BleuReferences, self_bleu_fixed
from .mle import is_done, load_pretrained

GAN, MLE, MLE_MATCHED, REAL = "GAN", "MLE", "MLE, matched compute", "real text"
TOP_P_SUFFIX = ", top-p"  # label of a contender's nucleus-sampling curve
#: label -> folder of a run directory holding MLE weights (see :mod:`multigan.text.mle`)
MLE_FOLDERS = {MLE: "mle", MLE_MATCHED: "mle_matched"}
BASELINE_KIND = "mle_baseline"  # a contender from RUN/mle_NAME/export (another architecture)


def is_baseline(curve: dict) -> bool:
    """Whether a curve is an MLE baseline (what GAN curves are compared against)."""
    return curve["kind"] in MLE_FOLDERS.values() or curve["kind"] == BASELINE_KIND
EXAMPLES = 3  # sentences kept per point in the report


@dataclass
class Contender:
    """A generator on the frontier: its label, the model and where it came from."""

    label: str
    generator: TextGenerator
    source: str
    kind: str = "gan"  # "gan", one of MLE_FOLDERS' folders ("mle", "mle_matched") or BASELINE_KIND: see is_baseline
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
    for folder in baseline_folders(run):
        base = load_text_generator(folder / "export", device).eval()
        meta = dict(base.export_meta)
        found.append(Contender(prefix + meta.pop("label", folder.name), base, str(folder), BASELINE_KIND, meta))
    return found


def real_text_pool(lines: Sequence[str], references: Sequence[str]) -> list[str]:
    """Real sentences that are not references (compared as stripped text)."""
    held_out = {r.strip() for r in references}
    return [line for line in lines if line.strip() not in held_out]


def real_point(pool: Sequence[str], split, references: BleuReferences, n: int, seed: int = 0,
               self_bleu_samples: int | None = None, lm: LMScorer | None = None) -> dict:
    """The frontier's metrics of ``n`` real sentences drawn from ``pool`` (``split`` tokenises a sentence).

    ``self_bleu_fixed`` uses ``n`` further sentences when the pool has them.
    """
    if len(pool) < 2:
        raise MultiganError(f"the real-text point needs at least 2 sentences that are not references, got {len(pool)}")
    drawn = random.Random(seed).sample(list(pool), min(len(pool), 2 * n))
    hyps, other = [split(s) for s in drawn[:n]], [split(s) for s in drawn[n:]]
    point = {"temperature": None, "samples": len(hyps),
             **text_set_metrics(hyps, references, DEFAULT_ORDERS, self_bleu_samples, seed), **(lm(hyps) if lm else {})}
    if len(other) == len(hyps):
        point.update({f"self_bleu_fixed{k}": v for k, v in self_bleu_fixed(hyps, other, DEFAULT_ORDERS).items()})
    return point


@torch.no_grad()
def curve(contender: Contender, references: BleuReferences, reference_lines: Sequence[str],
          temperatures: Sequence[float], n: int, seed: int = 0, self_bleu_samples: int | None = None,
          top_ps: Sequence[float] = (), lm: LMScorer | None = None) -> dict:
    """One contender at every temperature (the same seeds at each, so the points differ only by T), or, with
    ``top_ps``, at temperature 1 over those nucleus thresholds (the ``sampler`` is then ``top_p``)."""
    gen = contender.generator
    nll_ids = gen.tokenizer.encode_batch(list(reference_lines))
    settings = [(1.0, p) for p in top_ps] if top_ps else [(t, 1.0) for t in temperatures]
    points = []
    for t, p in settings:
        metrics, hyps = evaluate_generator(gen, references, n, seed=seed, temperature=t, nll_ids=nll_ids,
                                           self_bleu_samples=self_bleu_samples, fixed_self_bleu=True, top_p=p)
        metrics.update(lm(hyps) if lm else {})
        points.append({"temperature": t, "top_p": p, **metrics,
                       "examples": [" ".join(h) for h in hyps[:EXAMPLES]]})
    label = contender.label + (TOP_P_SUFFIX if top_ps else "")
    return {"label": label, "kind": contender.kind, "sampler": "top_p" if top_ps else "temperature",
            "source": contender.source, **contender.info, "points": points}


def evaluate_frontier(contenders: Sequence[Contender], reference_lines: Sequence[str],
                      temperatures: Sequence[float], n: int = 1000, seed: int = 0,
                      real_lines: Sequence[str] | None = None, self_bleu_samples: int | None = None,
                      references_name: str = "", real_name: str = "", top_ps: Sequence[float] = (),
                      lm: LMScorer | None = None, top_p_kinds: Sequence[str] | None = None) -> dict:
    """The frontier report: one curve per contender (and a top-p curve per MLE contender with ``top_ps``; only
    those whose kind is in ``top_p_kinds`` when given), the real-text point, and the gaps between curves.
    ``lm`` adds the LM and reverse-LM scores to every point."""
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
              "top_ps": list(top_ps), "lm_scores": lm.describe() if lm else None,
              "curves": [curve(c, references, reference_lines, temperatures, n, seed, self_bleu_samples, lm=lm)
                         for c in contenders]}
    if top_ps:
        report["curves"] += [curve(c, references, reference_lines, (), n, seed, self_bleu_samples, top_ps, lm)
                             for c in contenders if c.kind != "gan" and (top_p_kinds is None or c.kind in top_p_kinds)]
    if real_lines is not None:
        pool = real_text_pool(real_lines, reference_lines)
        report["real"] = {"label": REAL, "source": real_name, "pool": len(pool),
                          **real_point(pool, split, references, n, seed, self_bleu_samples, lm)}
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
    known = [p for p in baseline["points"] if p.get(quality) is not None]
    xs = [p[diversity] for p in known]
    ys = [p[quality] for p in known]
    gaps = []
    for p in challenger["points"]:
        if p.get(quality) is None or not known:
            continue
        base = _interpolate(xs, ys, p[diversity])
        if base is not None:
            gap = (p[quality] - base) * (1 if higher_is_better else -1)
            gaps.append({"temperature": p["temperature"], diversity: p[diversity], "gap": gap})
    return gaps


#: (name, quality key, diversity key, higher quality is better) of the comparisons :func:`frontier_gaps` makes
GAP_AXES = (("bleu4", "bleu4", "self_bleu4", True), ("bleu5", "bleu5", "self_bleu5", True),
            ("nll_gen", "nll_gen", "self_bleu4", False), ("reverse_lm", "reverse_lm", "self_bleu4", False))


def frontier_gaps(report: dict) -> dict:
    """Every non-MLE curve against every MLE curve: BLEU-4 at equal self-BLEU-4, BLEU-5 at equal self-BLEU-5,
    NLL_gen and (when scored) the reverse-LM score at equal self-BLEU-4 (:data:`GAP_AXES`).

    Gaps are positive where the challenger is better (higher BLEU, lower NLL_gen / reverse-LM); ``above`` is
    true when some point of the challenger beats the interpolated baseline, by any margin: compare the
    ``max_*_gap`` figures with the spread between seeds (:mod:`multigan.text.frontier_seeds`) before calling it
    a win. Axes a curve has no values for (NLL_gen of a top-p curve) give empty lists and ``None`` maxima.
    """
    curves = report["curves"]
    baselines = [c for c in curves if is_baseline(c)]
    out = {}
    for challenger in (c for c in curves if c not in baselines):
        for base in baselines:
            entry, every = {}, []
            for name, quality, diversity, higher in GAP_AXES:
                gaps = curve_gap(challenger, base, quality, diversity, higher)
                entry[f"{name}_at_equal_{diversity}"] = gaps
                entry[f"max_{name}_gap"] = max((g["gap"] for g in gaps), default=None)
                every += gaps
            out[f"{challenger['label']} vs {base['label']}"] = {**entry, "above": any(g["gap"] > 0 for g in every)}
    return out


def point_name(point: dict) -> str:
    """``T=0.8``, ``p=0.9`` (a top-p point) or ``-`` (the real-text point)."""
    if (point.get("top_p") or 1.0) < 1.0:
        return f"p={point['top_p']:g}"
    return "-" if point.get("temperature") is None else f"T={point['temperature']:g}"


def summary_rows(report: dict, keys: Sequence[str] = ("bleu2", "bleu4", "bleu5", "self_bleu4", "self_bleu5",
                                                      "nll_gen", "lm_score", "reverse_lm", "distinct4",
                                                      "mean_length")) -> list[str]:
    """One text line per point (for logs and the console)."""
    rows = []
    for c in [*report["curves"], *([{"label": REAL, "points": [report["real"]]}] if "real" in report else [])]:
        for p in c["points"]:
            rows.append(f"{c['label']:>30} {point_name(p):>7}: "
                        + " ".join(f"{k}={p[k]:.3f}" for k in keys if p.get(k) is not None))
    return rows
