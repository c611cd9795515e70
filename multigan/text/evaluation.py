"""Evaluate a text generator: BLEU against references, self-BLEU, likelihoods and diversity counts.

* ``bleuN`` -- mean nltk-exact BLEU-N of generated sentences against the whole reference set
  (:mod:`multigan.text.metrics`);
* ``self_bleuN`` -- Texygen's leave-one-out self-BLEU of the generated set (higher = less diverse);
  ``self_bleu_fixedN`` (optional) -- TextGAN-PyTorch's variant, against a second, independent generated set;
* ``nll_gen`` -- NLL of held-out real sentences under the generator, in nats **per real token** (the words and
  the ``<eos>``; ``<pad>`` positions are not counted); ``nll_gen_sentence`` -- the same summed over each
  sentence, averaged over sentences (nats per sentence). Both score the model that samples at the evaluation
  temperature. (Averaging over all ``seq_len`` positions instead, as text-GAN code that pads every sentence to
  the maximum length does, adds zero-NLL ``<pad>`` positions to the denominator: on COCO, 12.4 real tokens
  per 38 positions, it divides the figure by about 3, and in ``nll_self`` it flatters short samples.)
* ``nll_self`` -- NLL per token of the generator's own samples under itself (an entropy estimate: low means
  peaked);
* ``distinctN`` -- distinct N-grams over all N-grams of the generated set (1..4); ``distinct_sentences`` --
  the share of distinct sentences; ``mean_length`` -- words per sentence.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .generator import TextGenerator
from .metrics import BleuReferences, self_bleu_fixed, self_bleu_leave_one_out

DEFAULT_ORDERS = (2, 3, 4, 5)


@torch.no_grad()
def nll_gen(generator: TextGenerator, ids: torch.Tensor, batch_size: int = 256,
            temperature: float = 1.0) -> dict[str, float]:
    """NLL of real sentences ``ids [N, L]`` under the generator: per real token and per sentence (nats).

    ``<pad>`` positions are left out of both figures (the model emits them with probability 1).
    """
    was_training = generator.training
    generator.eval()
    total, tokens, sentences = 0.0, 0, 0
    try:
        for start in range(0, ids.shape[0], batch_size):
            batch = ids[start:start + batch_size].to(generator.device)
            total += float(generator.token_nll(batch, temperature=temperature).double().sum())
            tokens += int((batch != generator.pad_id).sum())
            sentences += batch.shape[0]
    finally:
        generator.train(was_training)
    return {"nll_gen": total / max(tokens, 1), "nll_gen_sentence": total / max(sentences, 1)}


@torch.no_grad()
def nll_self(generator: TextGenerator, n: int = 512, seed: int = 1, temperature: float = 1.0) -> float:
    """NLL per token of ``n`` of the generator's own samples (drawn and scored at ``temperature``)."""
    ids = generator.sample_ids(n, seed=seed, temperature=temperature)
    return nll_gen(generator, ids, temperature=temperature)["nll_gen"]


def distinct_ratio(sentences: Sequence[Sequence[str]]) -> float:
    """Share of distinct sentences in a generated set."""
    return len({tuple(s) for s in sentences}) / max(len(sentences), 1)


def distinct_ngrams(sentences: Sequence[Sequence[str]], n: int) -> float:
    """Distinct-n: distinct n-grams over all n-grams of the set (0 when it has none)."""
    grams = [tuple(s[i:i + n]) for s in sentences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def diversity_metrics(sentences: Sequence[Sequence[str]], orders: Sequence[int] = (1, 2, 3, 4)) -> dict[str, float]:
    """``distinctN`` for each order, ``distinct_sentences`` and ``mean_length`` of a (generated or real) set."""
    metrics = {f"distinct{n}": distinct_ngrams(sentences, n) for n in orders}
    metrics["distinct_sentences"] = distinct_ratio(sentences)
    metrics["mean_length"] = sum(len(s) for s in sentences) / max(len(sentences), 1)
    return metrics


def text_set_metrics(sentences: Sequence[Sequence[str]], references: BleuReferences,
                     orders: Sequence[int] = DEFAULT_ORDERS, self_bleu_samples: int | None = None,
                     seed: int = 0) -> dict[str, float]:
    """BLEU, leave-one-out self-BLEU and :func:`diversity_metrics` of a sentence set (needs no model)."""
    metrics = {f"bleu{n}": v for n, v in references.corpus_mean(sentences, orders).items()}
    loo = self_bleu_leave_one_out(sentences, orders, max_sentences=self_bleu_samples, seed=seed)
    metrics.update({f"self_bleu{n}": v for n, v in loo.items()})
    metrics.update(diversity_metrics(sentences))
    return metrics


def evaluate_generator(generator: TextGenerator, references: BleuReferences, n_samples: int = 1000, seed: int = 0,
                       temperature: float = 1.0, orders: Sequence[int] = DEFAULT_ORDERS,
                       nll_ids: torch.Tensor | None = None, self_bleu_samples: int | None = None,
                       fixed_self_bleu: bool = False, with_nll_self: bool = True,
                       top_p: float = 1.0) -> tuple[dict, list[list[str]]]:
    """All metrics of the module docstring for ``n_samples`` sentences; returns (metrics, generated tokens).

    ``top_p`` < 1 samples from the nucleus; the likelihoods (``nll_gen``, ``nll_self``) are then left out: the
    truncated distribution gives most held-out sentences probability 0.

    ``references`` is built once (``BleuReferences(tokenised_sentences)``) and reused across calls.
    ``self_bleu_samples`` caps the set used for self-BLEU (self-BLEU grows with the set size: compare at
    equal sizes). ``nll_ids`` are held-out real sentences for ``nll_gen`` (scored at ``temperature``).
    """
    hyps = generator.generate_tokens(n_samples, seed=seed, temperature=temperature, top_p=top_p)
    metrics = text_set_metrics(hyps, references, orders, self_bleu_samples, seed)
    if fixed_self_bleu:
        other = generator.generate_tokens(n_samples, seed=seed + 1_000_003, temperature=temperature, top_p=top_p)
        for n, value in self_bleu_fixed(hyps, other, orders).items():
            metrics[f"self_bleu_fixed{n}"] = value
    if nll_ids is not None and top_p >= 1:
        metrics.update(nll_gen(generator, nll_ids, temperature=temperature))
    if with_nll_self and top_p >= 1:
        metrics["nll_self"] = nll_self(generator, min(n_samples, 512), seed=seed + 1, temperature=temperature)
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in metrics.items()}, hyps
