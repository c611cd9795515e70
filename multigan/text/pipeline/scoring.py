"""Scoring a text generator during the pipeline: BLEU / self-BLEU / NLL_gen and the model-selection score."""
from __future__ import annotations

from typing import Callable

from ...trainer import ValidationContext
from ..evaluation import evaluate_generator
from ..generator import TextGenerator
from .config import EvalConfig
from .corpus import Corpus

__all__ = ["TextEvaluator", "log_samples", "selection_score", "short_metrics"]

#: The metrics :func:`short_metrics` keeps (the console view of a stage).
SHORT_KEYS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "nll_gen", "nll_gen_sentence", "nll_self", "score")


def selection_score(metrics: dict, cap: float) -> float:
    """mean(BLEU-3..5) minus 5 x (self-BLEU-2 above ``cap``): what the best checkpoint is chosen by."""
    quality = (metrics["bleu3"] + metrics["bleu4"] + metrics["bleu5"]) / 3
    return quality - 5.0 * max(0.0, metrics["self_bleu2"] - cap)


def log_samples(writer, tag: str, sentences: list[list[str]], step: int, k: int) -> None:
    """The first ``k`` sentences as one TensorBoard text entry (nothing without a writer or with ``k`` = 0)."""
    if writer is not None and k > 0:
        writer.add_text(tag, "\n".join(f"    {' '.join(s)}" for s in sentences[:k]), step)


def short_metrics(metrics: dict) -> dict:
    """The headline metrics (:data:`SHORT_KEYS` that are present), rounded to 4 places."""
    return {k: round(metrics[k], 4) for k in SHORT_KEYS if k in metrics}


class TextEvaluator:
    """BLEU / self-BLEU / NLL_gen of a generator's samples, plus the model-selection ``score``."""

    def __init__(self, corpus: Corpus, cfg: EvalConfig):
        self.corpus, self.cfg = corpus, cfg

    def __call__(self, g: TextGenerator, seed: int = 0) -> tuple[dict, list[list[str]]]:
        e = self.cfg
        metrics, hyps = evaluate_generator(
            g, self.corpus.references, e.samples, seed=seed, temperature=e.temperature, nll_ids=self.corpus.val_ids,
            self_bleu_samples=e.self_bleu_samples or None, fixed_self_bleu=e.fixed_self_bleu)
        metrics["score"] = selection_score(metrics, e.self_bleu_cap)
        return metrics, hyps

    def validation(self, generator: TextGenerator) -> Callable[[ValidationContext], dict]:
        """The trainer's validation callback: metrics of the EMA generator, G's inverse temperature, samples."""
        def validate(ctx: ValidationContext) -> dict:
            metrics, hyps = self(ctx.generator)
            metrics["inv_temperature"] = float(generator.inv_temperature)
            log_samples(ctx.writer, "samples/adversarial", hyps, ctx.step, self.cfg.text_samples)
            return metrics
        return validate
