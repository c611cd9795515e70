"""Exact and fast BLEU / self-BLEU for text-GAN evaluation.

The scores reproduce, bit for bit in practice and within 1e-12 by contract, the
published text-GAN protocol (Texygen, RelGAN, TextGAN-PyTorch): every hypothesis is
scored with nltk's ``sentence_bleu(references, hyp, weights=(1/n,)*n,
smoothing_function=SmoothingFunction().method1)`` against the *whole* reference set,
and the per-sentence scores are averaged.

nltk rebuilds the n-gram counts of every reference for every hypothesis and order,
which costs O(#references) per sentence. Here the reference side is summarised once:

* for every n-gram (n <= max order), its maximum count over the references, which is
  all that clipping needs;
* the sorted reference lengths, which is all that the closest-length brevity penalty
  needs (ties broken toward the shorter length, as nltk does).

Self-BLEU comes in the two variants used in the literature:

* :func:`self_bleu_leave_one_out` - each sentence against all *other* sentences of the
  same set (Texygen). Per n-gram the two largest counts over the set are kept, so that
  dropping the sentence's own count is O(1).
* :func:`self_bleu_fixed` - hypotheses against a fixed, separately generated set
  (TextGAN-PyTorch); this is :func:`bleu` with generated references.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from itertools import chain
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "BleuReferences",
    "SelfBleuSet",
    "bleu",
    "self_bleu_fixed",
    "self_bleu_leave_one_out",
    "subsample_indices",
]

Tokens = Sequence[str]
NGram = Tuple[str, ...]
Orders = Union[int, Iterable[int]]

#: ``SmoothingFunction().method1`` adds this to the numerator of zero precisions.
EPSILON = 0.1

DEFAULT_ORDERS: Tuple[int, ...] = (2, 3, 4, 5)


# --------------------------------------------------------------------------- validation


def _validate_orders(orders: Orders) -> Tuple[int, ...]:
    """Return ``orders`` as a de-duplicated tuple of ints >= 1, or raise ValueError."""
    if isinstance(orders, int) and not isinstance(orders, bool):
        orders = (orders,)
    result = tuple(dict.fromkeys(orders))
    if not result:
        raise ValueError("orders is empty: give at least one n-gram order, e.g. (2, 3, 4, 5)")
    for order in result:
        if isinstance(order, bool) or not isinstance(order, int):
            raise ValueError(f"n-gram orders must be ints, got {order!r}")
        if order < 1:
            raise ValueError(f"n-gram orders must be >= 1, got {order}")
    return result


def _as_sentences(sentences: Iterable[Tokens], what: str) -> List[Tokens]:
    """Materialise a collection of token sequences, rejecting untokenised strings."""
    if isinstance(sentences, str):
        raise TypeError(f"{what} must be a list of token lists, not a string")
    result: List[Tokens] = []
    for sentence in sentences:
        if isinstance(sentence, str):
            raise TypeError(
                f"{what} must contain token lists (e.g. 'a cat'.split()), "
                f"got the string {sentence[:40]!r}"
            )
        result.append(sentence if isinstance(sentence, (list, tuple)) else list(sentence))
    return result


# ----------------------------------------------------------------------- n-gram helpers


def _ngrams(tokens: Tokens, n: int) -> Iterable[NGram]:
    """The n-grams of ``tokens`` as tuples (nothing when ``len(tokens) < n``)."""
    return zip(*[tokens[i:] for i in range(n)])


def _all_ngrams(tokens: Tokens, max_order: int) -> List[NGram]:
    """Every n-gram of ``tokens`` for n = 1..max_order (tuples of distinct lengths)."""
    grams: List[NGram] = []
    for n in range(1, max_order + 1):
        grams.extend(_ngrams(tokens, n))
    return grams


def _has_repeated_token(tokens: Tokens) -> bool:
    """Whether a token occurs twice; without one, no n-gram of any order repeats."""
    return len(set(tokens)) != len(tokens)


def _clipped_matches(
    hypothesis: Tokens, max_order: int, limit: Callable[[NGram, int], int]
) -> List[int]:
    """Clipped n-gram match counts of ``hypothesis`` for n = 1..max_order.

    ``limit(ngram, own_count)`` returns the maximum reference count of ``ngram``. Once
    an order has no match, no higher order can match (every matching n-gram has a
    matching (n-1)-gram prefix in the same reference), so the rest is zero.
    """
    matches: List[int] = []
    for n in range(1, max_order + 1):
        total = 0
        if not matches or matches[-1]:
            for gram, count in Counter(_ngrams(hypothesis, n)).items():
                total += min(count, limit(gram, count))
        matches.append(total)
    return matches


# ---------------------------------------------------------------- nltk-exact arithmetic


def _brevity_penalty(closest_ref_len: int, hyp_len: int) -> float:
    """nltk's ``brevity_penalty`` (1 when longer, 0 when empty, else exp(1 - r/c))."""
    if hyp_len > closest_ref_len:
        return 1.0
    if hyp_len == 0:
        return 0.0
    return math.exp(1 - closest_ref_len / hyp_len)


def _sentence_bleu(matches: Sequence[int], hyp_len: int, ref_len: int, order: int) -> float:
    """Smoothed (method1) uniform-weight BLEU-``order`` from clipped match counts.

    Mirrors nltk's ``corpus_bleu`` for one sentence: zero when no unigram matches;
    the precision denominator is ``max(1, #hypothesis n-grams)``; zero numerators
    become ``EPSILON / denominator``; the weighted logs are summed with ``math.fsum``.
    """
    if matches[0] == 0:
        return 0.0
    weight = 1 / order
    terms = []
    for k in range(order):
        numerator = matches[k]
        denominator = max(1, hyp_len - k)
        precision = numerator / denominator if numerator else EPSILON / denominator
        terms.append(weight * math.log(precision))
    return _brevity_penalty(ref_len, hyp_len) * math.exp(math.fsum(terms))


def _mean(values: Sequence[float]) -> float:
    """Accurately rounded arithmetic mean."""
    return math.fsum(values) / len(values)


# ------------------------------------------------------------------- reference lengths


class _LengthIndex:
    """Sorted reference lengths answering nltk's ``closest_ref_length`` queries."""

    def __init__(self, lengths: Iterable[int]) -> None:
        self._counts = Counter(lengths)
        self._sorted = sorted(self._counts)

    def closest(self, hyp_len: int, exclude: Optional[int] = None) -> int:
        """Length closest to ``hyp_len``, ties toward the shorter one.

        ``exclude`` removes one reference of that length (leave-one-out).
        """
        removed = exclude if exclude is not None and self._counts[exclude] == 1 else None
        index = bisect.bisect_left(self._sorted, hyp_len)
        lower = self._nearest(index - 1, -1, removed)
        upper = self._nearest(index, 1, removed)
        if upper is None:
            if lower is None:
                raise ValueError("no reference left to take a length from")
            return lower
        if lower is None or upper - hyp_len < hyp_len - lower:
            return upper
        return lower

    def _nearest(self, index: int, step: int, removed: Optional[int]) -> Optional[int]:
        """First available length walking from ``index`` by ``step``."""
        while 0 <= index < len(self._sorted):
            if self._sorted[index] != removed:
                return self._sorted[index]
            index += step
        return None


# ------------------------------------------------------------------------------- BLEU


class BleuReferences:
    """A reference set summarised once for repeated, nltk-exact BLEU evaluation.

    Args:
        references: non-empty list of token lists.
        max_order: highest n-gram order that will be asked for.
    """

    def __init__(self, references: Iterable[Tokens], max_order: int = max(DEFAULT_ORDERS)) -> None:
        (self.max_order,) = _validate_orders(max_order)
        refs = _as_sentences(references, "references")
        if not refs:
            raise ValueError("references is empty: BLEU needs at least one reference")
        self.num_references = len(refs)
        self._max_counts = self._build_max_counts(refs, self.max_order)
        self._lengths = _LengthIndex(len(ref) for ref in refs)

    @staticmethod
    def _build_max_counts(refs: List[Tokens], max_order: int) -> Dict[NGram, int]:
        """Maximum count over the references of every n-gram up to ``max_order``.

        Every n-gram gets 1 in one C-level pass; only references with a repeated token
        (the only ones that can repeat an n-gram) are then counted in Python.
        """
        grams = chain.from_iterable(_all_ngrams(ref, max_order) for ref in refs)
        max_counts = dict.fromkeys(grams, 1)
        for ref in refs:
            if _has_repeated_token(ref):
                for gram, count in Counter(_all_ngrams(ref, max_order)).items():
                    if count > max_counts[gram]:
                        max_counts[gram] = count
        return max_counts

    def max_count(self, ngram: NGram) -> int:
        """Largest number of times ``ngram`` occurs in a single reference."""
        return self._max_counts.get(tuple(ngram), 0)

    def closest_length(self, hyp_len: int) -> int:
        """Reference length closest to ``hyp_len`` (ties toward the shorter)."""
        return self._lengths.closest(hyp_len)

    def _limit(self, gram: NGram, count: int) -> int:
        return self._max_counts.get(gram, 0)

    def scores(self, hypothesis: Tokens, orders: Orders = DEFAULT_ORDERS) -> Dict[int, float]:
        """BLEU-n of one hypothesis for each n in ``orders``."""
        (hyp,) = _as_sentences([hypothesis], "hypothesis")
        return self._scores(hyp, self._check_orders(orders))

    def _scores(self, hyp: Tokens, orders: Tuple[int, ...]) -> Dict[int, float]:
        matches = _clipped_matches(hyp, max(orders), self._limit)
        ref_len = self._lengths.closest(len(hyp))
        return {n: _sentence_bleu(matches, len(hyp), ref_len, n) for n in orders}

    def score(self, hypothesis: Tokens, order: int = 4) -> float:
        """BLEU-``order`` of one hypothesis, equal to nltk's ``sentence_bleu`` (method1)."""
        return self.scores(hypothesis, order)[order]

    def sentence_scores(
        self, hypotheses: Iterable[Tokens], orders: Orders = DEFAULT_ORDERS
    ) -> Dict[int, List[float]]:
        """Per-hypothesis BLEU-n, as ``{n: [score of each hypothesis]}``."""
        orders = self._check_orders(orders)
        hyps = _as_sentences(hypotheses, "hypotheses")
        result: Dict[int, List[float]] = {n: [] for n in orders}
        for hyp in hyps:
            for n, value in self._scores(hyp, orders).items():
                result[n].append(value)
        return result

    def corpus_mean(
        self, hypotheses: Iterable[Tokens], orders: Orders = DEFAULT_ORDERS
    ) -> Dict[int, float]:
        """Mean over hypotheses of sentence BLEU-n, for each n in ``orders``."""
        per_sentence = self.sentence_scores(hypotheses, orders)
        if not next(iter(per_sentence.values())):
            raise ValueError("hypotheses is empty: nothing to average")
        return {n: _mean(values) for n, values in per_sentence.items()}

    def _check_orders(self, orders: Orders) -> Tuple[int, ...]:
        orders = _validate_orders(orders)
        if max(orders) > self.max_order:
            raise ValueError(
                f"order {max(orders)} exceeds max_order={self.max_order} of these references"
            )
        return orders


def bleu(
    hypotheses: Iterable[Tokens],
    references: Iterable[Tokens],
    orders: Orders = DEFAULT_ORDERS,
) -> Dict[int, float]:
    """Mean sentence BLEU-n of ``hypotheses`` against the whole ``references`` set.

    Equals, for each n in ``orders``, the mean over hypotheses of nltk's
    ``sentence_bleu(references, hyp, weights=(1/n,)*n,
    smoothing_function=SmoothingFunction().method1)``. To evaluate repeatedly against
    the same references, build a :class:`BleuReferences` once and call
    :meth:`BleuReferences.corpus_mean`.

    Raises:
        ValueError: if references or hypotheses are empty, or an order is < 1.
    """
    orders = _validate_orders(orders)
    return BleuReferences(references, max(orders)).corpus_mean(hypotheses, orders)


# -------------------------------------------------------------------------- self-BLEU


class SelfBleuSet:
    """A sentence set summarised once for leave-one-out self-BLEU.

    Each sentence is scored against all the *other* sentences of the set (removal is
    by position, so a duplicate sentence still counts as a reference for its twin).

    Args:
        sentences: at least two token lists.
        max_order: highest n-gram order that will be asked for.
    """

    def __init__(self, sentences: Iterable[Tokens], max_order: int = max(DEFAULT_ORDERS)) -> None:
        (self.max_order,) = _validate_orders(max_order)
        self.sentences = _as_sentences(sentences, "sentences")
        if len(self.sentences) < 2:
            raise ValueError("leave-one-out self-BLEU needs at least two sentences")
        # Number of sentences containing each n-gram, and, for n-grams repeated inside
        # some sentence, [largest count, second largest count, #sentences with count > 1].
        self._doc_freq: Counter = Counter()
        self._repeated: Dict[NGram, List[int]] = {}
        self._count_ngrams()
        self._lengths = _LengthIndex(len(s) for s in self.sentences)

    def __len__(self) -> int:
        return len(self.sentences)

    def _count_ngrams(self) -> None:
        """Fill the document frequencies and the top counts of repeated n-grams."""
        plain = (s for s in self.sentences if not _has_repeated_token(s))
        self._doc_freq.update(chain.from_iterable(_all_ngrams(s, self.max_order) for s in plain))
        for sentence in self.sentences:
            if _has_repeated_token(sentence):
                counts = Counter(_all_ngrams(sentence, self.max_order))
                self._doc_freq.update(counts.keys())
                for gram, count in counts.items():
                    if count > 1:
                        self._add_repeated(gram, count)

    def _add_repeated(self, gram: NGram, count: int) -> None:
        top = self._repeated.setdefault(gram, [0, 0, 0])
        if count > top[0]:
            top[0], top[1] = count, top[0]
        elif count > top[1]:
            top[1] = count
        top[2] += 1

    def _max_other(self, gram: NGram, own: int) -> int:
        """Largest count of ``gram`` in the other sentences, given ``own`` count here."""
        doc_freq = self._doc_freq[gram]
        first, second, n_repeated = self._repeated.get(gram, (0, 0, 0))
        ones = doc_freq - n_repeated  # sentences containing the n-gram exactly once
        if not n_repeated:
            first, second = 1, (1 if ones >= 2 else 0)
        elif n_repeated == 1:
            second = 1 if ones >= 1 else 0
        return first if own < first else second

    def scores(self, index: int, orders: Orders = DEFAULT_ORDERS) -> Dict[int, float]:
        """BLEU-n of sentence ``index`` against all the other sentences."""
        return self._scores(index, self._check_orders(orders))

    def _scores(self, index: int, orders: Tuple[int, ...]) -> Dict[int, float]:
        sentence = self.sentences[index]
        hyp_len = len(sentence)
        matches = _clipped_matches(sentence, max(orders), self._max_other)
        ref_len = self._lengths.closest(hyp_len, exclude=hyp_len)
        return {n: _sentence_bleu(matches, hyp_len, ref_len, n) for n in orders}

    def sentence_scores(self, orders: Orders = DEFAULT_ORDERS) -> Dict[int, List[float]]:
        """Leave-one-out BLEU-n of every sentence, as ``{n: [score of each sentence]}``."""
        orders = self._check_orders(orders)
        result: Dict[int, List[float]] = {n: [] for n in orders}
        for index in range(len(self.sentences)):
            for n, value in self._scores(index, orders).items():
                result[n].append(value)
        return result

    def mean(self, orders: Orders = DEFAULT_ORDERS) -> Dict[int, float]:
        """Mean leave-one-out BLEU-n over the set, for each n in ``orders``."""
        return {n: _mean(values) for n, values in self.sentence_scores(orders).items()}

    def _check_orders(self, orders: Orders) -> Tuple[int, ...]:
        orders = _validate_orders(orders)
        if max(orders) > self.max_order:
            raise ValueError(f"order {max(orders)} exceeds max_order={self.max_order} of this set")
        return orders


def subsample_indices(n: int, k: Optional[int], seed: int = 0) -> List[int]:
    """Sorted positions of a deterministic random subset of size ``min(n, k)``.

    ``k=None`` (or ``k >= n``) keeps every position. The subset is
    ``sorted(random.Random(seed).sample(range(n), k))``.
    """
    if k is None or k >= n:
        return list(range(n))
    if k < 1:
        raise ValueError(f"max_sentences must be >= 1, got {k}")
    return sorted(random.Random(seed).sample(range(n), k))


def self_bleu_leave_one_out(
    sentences: Iterable[Tokens],
    orders: Orders = DEFAULT_ORDERS,
    max_sentences: Optional[int] = None,
    seed: int = 0,
) -> Dict[int, float]:
    """Texygen-style self-BLEU: each sentence against all OTHER sentences of the set.

    Equals, for each n, the mean over i of nltk's method1 ``sentence_bleu(
    sentences[:i] + sentences[i+1:], sentences[i], weights=(1/n,)*n)``.

    Args:
        sentences: the generated set (token lists), at least two.
        orders: n-gram orders to report.
        max_sentences: if set and smaller than the set, a deterministic random subset
            of this size (see :func:`subsample_indices`) replaces the set, both as
            hypotheses and as references - like Texygen's fixed-size evaluation sample.
            Self-BLEU grows with the set size, so compare models at equal sizes.
        seed: seed for the subset.

    Raises:
        ValueError: fewer than two sentences (after subsampling) or an order < 1.
    """
    orders = _validate_orders(orders)
    pool = _as_sentences(sentences, "sentences")
    chosen = [pool[i] for i in subsample_indices(len(pool), max_sentences, seed)]
    return SelfBleuSet(chosen, max(orders)).mean(orders)


def self_bleu_fixed(
    hypotheses: Iterable[Tokens],
    reference_generated: Iterable[Tokens],
    orders: Orders = DEFAULT_ORDERS,
) -> Dict[int, float]:
    """TextGAN-PyTorch-style self-BLEU: hypotheses against a fixed generated set.

    ``reference_generated`` is a separately generated sample from the same model; the
    result is :func:`bleu` with those sentences as references.
    """
    return bleu(hypotheses, reference_generated, orders)
