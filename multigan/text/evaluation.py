"""Evaluate a text generator: BLEU against references, self-BLEU, and likelihoods.

* ``bleuN`` -- mean nltk-exact BLEU-N of generated sentences against the whole reference set
  (:mod:`multigan.text.metrics`);
* ``self_bleuN`` -- Texygen's leave-one-out self-BLEU of the generated set (higher = less diverse);
  ``self_bleu_fixedN`` (optional) -- TextGAN-PyTorch's variant, against a second, independent generated set;
* ``nll_gen`` -- NLL (nats per position, padding included, as in the text-GAN literature) of held-out real
  sentences under the generator; ``nll_gen_token`` -- the same per real token (words and the ``<eos>``);
* ``nll_self`` -- NLL of the generator's own samples under itself (an entropy estimate: low means peaked).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .generator import TextGenerator
from .metrics import BleuReferences, self_bleu_fixed, self_bleu_leave_one_out

DEFAULT_ORDERS = (2, 3, 4, 5)


@torch.no_grad()
def nll_gen(generator: TextGenerator, ids: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """NLL of real sentences ``ids [N, L]`` under the generator: per position and per real token."""
    was_training = generator.training
    generator.eval()
    total, total_tokens, count, tokens = 0.0, 0.0, 0, 0
    try:
        for start in range(0, ids.shape[0], batch_size):
            batch = ids[start:start + batch_size].to(generator.device)
            nll = generator.token_nll(batch).double()
            mask = batch != generator.pad_id
            total += float(nll.sum())
            count += nll.numel()
            total_tokens += float((nll * mask).sum())
            tokens += int(mask.sum())
    finally:
        generator.train(was_training)
    return {"nll_gen": total / count, "nll_gen_token": total_tokens / max(tokens, 1)}


@torch.no_grad()
def nll_self(generator: TextGenerator, n: int = 512, seed: int = 1, temperature: float = 1.0) -> float:
    """NLL per position of ``n`` of the generator's own samples under the generator (entropy estimate)."""
    ids = generator.sample_ids(n, seed=seed, temperature=temperature)
    return nll_gen(generator, ids)["nll_gen"]


def distinct_ratio(sentences: Sequence[Sequence[str]]) -> float:
    """Share of distinct sentences in a generated set."""
    return len({tuple(s) for s in sentences}) / max(len(sentences), 1)


def evaluate_generator(generator: TextGenerator, references: BleuReferences, n_samples: int = 1000, seed: int = 0,
                       temperature: float = 1.0, orders: Sequence[int] = DEFAULT_ORDERS,
                       nll_ids: torch.Tensor | None = None, self_bleu_samples: int | None = None,
                       fixed_self_bleu: bool = False, with_nll_self: bool = True) -> tuple[dict, list[list[str]]]:
    """All metrics of the module docstring for ``n_samples`` sentences; returns (metrics, generated tokens).

    ``references`` is built once (``BleuReferences(tokenised_sentences)``) and reused across calls.
    ``self_bleu_samples`` caps the set used for self-BLEU (self-BLEU grows with the set size: compare at
    equal sizes). ``nll_ids`` are held-out real sentences for ``nll_gen``.
    """
    hyps = generator.generate_tokens(n_samples, seed=seed, temperature=temperature)
    metrics: dict[str, float] = {}
    for n, value in references.corpus_mean(hyps, orders).items():
        metrics[f"bleu{n}"] = value
    for n, value in self_bleu_leave_one_out(hyps, orders, max_sentences=self_bleu_samples, seed=seed).items():
        metrics[f"self_bleu{n}"] = value
    if fixed_self_bleu:
        other = generator.generate_tokens(n_samples, seed=seed + 1_000_003, temperature=temperature)
        for n, value in self_bleu_fixed(hyps, other, orders).items():
            metrics[f"self_bleu_fixed{n}"] = value
    if nll_ids is not None:
        metrics.update(nll_gen(generator, nll_ids))
    if with_nll_self:
        metrics["nll_self"] = nll_self(generator, min(n_samples, 512), seed=seed + 1, temperature=temperature)
    metrics["mean_length"] = sum(len(h) for h in hyps) / len(hyps)
    metrics["distinct_sentences"] = distinct_ratio(hyps)
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in metrics.items()}, hyps
