"""BLEU / self-BLEU of multigan.text.metrics against nltk's sentence_bleu (method1)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from multigan.text.metrics import (
    BleuReferences,
    SelfBleuSet,
    bleu,
    self_bleu_fixed,
    self_bleu_leave_one_out,
    subsample_indices,
)

bleu_score = pytest.importorskip("nltk.translate.bleu_score", reason="nltk is not installed")

COCO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco-captions" / "image_coco.txt"
ORDERS = (2, 3, 4, 5)
TOL = 1e-12
SMOOTH = bleu_score.SmoothingFunction().method1


def nltk_bleu(references: Sequence[Sequence[str]], hypothesis: Sequence[str], n: int) -> float:
    """The reference implementation: nltk sentence BLEU-n with method1 smoothing."""
    return bleu_score.sentence_bleu(
        references, hypothesis, weights=(1 / n,) * n, smoothing_function=SMOOTH
    )


def nltk_loo(sentences: List[List[str]], orders: Sequence[int]) -> Dict[int, List[float]]:
    """Brute-force leave-one-out self-BLEU with nltk."""
    return {
        n: [nltk_bleu(sentences[:i] + sentences[i + 1 :], s, n) for i, s in enumerate(sentences)]
        for n in orders
    }


@pytest.fixture(scope="module")
def coco() -> List[List[str]]:
    if not COCO.is_file():
        pytest.skip(f"COCO captions not found at {COCO} (shared data folder missing)")
    with COCO.open(encoding="utf-8") as handle:
        return [line.split() for line in handle]


@pytest.fixture(scope="module")
def case(coco: List[List[str]]):
    """60 hypotheses (real, short, empty, copied, degenerate) against 500 references."""
    references = coco[:500]
    rng = random.Random(0)
    special = [
        [],  # empty: nltk returns 0
        coco[600][:1],
        coco[601][:2],
        coco[602][:3],
        list(references[7]),  # identical to a reference: 1.0
        ["a", "a", "a", "a", "a", "a"],  # clipping
        ["zzzq", "qqqz"],  # no unigram match: 0
        rng.sample(coco[603], len(coco[603])),  # shuffled: smoothed higher orders
        coco[604] + coco[605],  # longer than every close reference
        ["the"],
    ]
    hypotheses = coco[500:550] + special
    expected = {n: [nltk_bleu(references, h, n) for h in hypotheses] for n in ORDERS}
    return references, hypotheses, expected


def test_sentence_scores_match_nltk(case):
    references, hypotheses, expected = case
    got = BleuReferences(references, max(ORDERS)).sentence_scores(hypotheses, ORDERS)
    for n in ORDERS:
        diffs = [abs(a - b) for a, b in zip(got[n], expected[n])]
        assert len(got[n]) == len(hypotheses) == 60
        assert max(diffs) <= TOL, (n, max(diffs))


def test_mean_matches_nltk(case):
    references, hypotheses, expected = case
    got = bleu(hypotheses, references, ORDERS)
    assert set(got) == set(ORDERS)
    for n in ORDERS:
        want = sum(expected[n]) / len(expected[n])
        assert abs(got[n] - want) <= TOL, (n, got[n], want)
        assert 0.0 < got[n] < 1.0


def test_special_hypotheses(case):
    references, _, _ = case
    refs = BleuReferences(references, 5)
    assert refs.scores([], ORDERS) == {n: 0.0 for n in ORDERS}
    assert refs.scores(list(references[7]), ORDERS) == {n: 1.0 for n in ORDERS}
    assert refs.score(["zzzq"], 2) == 0.0
    for short in (["a"], ["a", "man"], ["a", "man", "riding"]):
        for n in ORDERS:
            assert abs(refs.score(short, n) - nltk_bleu(references, short, n)) <= TOL
    assert refs.max_count(("a",)) >= 2


def test_repeated_evaluation_reuses_references(case):
    references, hypotheses, _ = case
    refs = BleuReferences(references, 5)
    first = refs.corpus_mean(hypotheses[:20], ORDERS)
    assert refs.corpus_mean(hypotheses[:20], ORDERS) == first
    assert refs.corpus_mean(hypotheses[:20], (4,)) == {4: first[4]}


def test_closest_length_tie_goes_to_shorter():
    references = [["a", "b", "c", "d"], ["a", "b", "c", "d", "e", "f"]]
    hypothesis = ["a", "b", "c", "d", "x"]  # lengths 4 and 6 are both at distance 1
    refs = BleuReferences(references, 4)
    assert refs.closest_length(5) == 4
    for n in (1, 2, 3, 4):
        assert abs(refs.score(hypothesis, n) - nltk_bleu(references, hypothesis, n)) <= TOL
    short = ["a", "b"]  # shorter than every reference: brevity penalty applies
    assert refs.closest_length(2) == 4
    assert abs(refs.score(short, 2) - math.exp(1 - 4 / 2)) <= TOL
    assert abs(refs.score(short, 2) - nltk_bleu(references, short, 2)) <= TOL


def test_leave_one_out_matches_nltk(coco):
    sentences = coco[2000:2034] + [
        list(coco[2000]),  # duplicate: its twin stays a reference
        coco[2001][:2],
        [],
        ["a", "a", "a", "on", "a", "a"],
        ["a", "a", "a", "on", "a", "a"],  # repeated n-grams in two sentences (top-2 ties)
        ["a", "a", "b"],
    ]
    assert len(sentences) == 40
    expected = nltk_loo(sentences, ORDERS)
    per_sentence = SelfBleuSet(sentences, 5).sentence_scores(ORDERS)
    got = self_bleu_leave_one_out(sentences, ORDERS)
    for n in ORDERS:
        diffs = [abs(a - b) for a, b in zip(per_sentence[n], expected[n])]
        assert max(diffs) <= TOL, (n, max(diffs))
        assert abs(got[n] - sum(expected[n]) / len(expected[n])) <= TOL
    assert per_sentence[4][34] == 1.0  # the duplicated sentence
    assert per_sentence[4][36] == 0.0  # the empty one


def test_identical_sentences_have_self_bleu_one():
    sentences = [["a", "cat", "sits", "on", "the", "mat"]] * 5
    assert self_bleu_leave_one_out(sentences, ORDERS) == {n: 1.0 for n in ORDERS}


def test_disjoint_sentences_give_nltk_values():
    # Same words, no shared bigram: p1 = 1, higher orders smoothed to 0.1 / #ngrams.
    sentences = [["a", "b", "c", "d"], ["d", "c", "b", "a"]]
    got = self_bleu_leave_one_out(sentences, (2, 3))
    assert abs(got[2] - math.sqrt(0.1 / 3)) <= TOL
    assert abs(got[3] - math.exp((math.log(0.1 / 3) + math.log(0.1 / 2)) / 3)) <= TOL
    expected = nltk_loo(sentences, (2, 3))
    for n in (2, 3):
        assert abs(got[n] - sum(expected[n]) / 2) <= TOL
    # No shared word at all: nltk returns 0 whatever the smoothing.
    vocabulary_disjoint = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]
    assert self_bleu_leave_one_out(vocabulary_disjoint, ORDERS) == {n: 0.0 for n in ORDERS}
    assert nltk_loo(vocabulary_disjoint, (2,))[2] == [0, 0, 0]


def test_fixed_variant_equals_bleu(coco):
    hypotheses, generated = coco[3000:3030], coco[3030:3230]
    assert self_bleu_fixed(hypotheses, generated, ORDERS) == bleu(hypotheses, generated, ORDERS)


def test_max_sentences_subsamples_deterministically(coco):
    sentences = coco[4000:4100]
    chosen = subsample_indices(len(sentences), 30, seed=7)
    assert chosen == sorted(chosen) and len(set(chosen)) == 30
    first = self_bleu_leave_one_out(sentences, (2,), max_sentences=30, seed=7)
    assert self_bleu_leave_one_out(sentences, (2,), max_sentences=30, seed=7) == first
    subset = [sentences[i] for i in chosen]
    assert first == self_bleu_leave_one_out(subset, (2,))
    assert self_bleu_leave_one_out(sentences, (2,), max_sentences=1000) == (
        self_bleu_leave_one_out(sentences, (2,))
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: bleu([["a"]], [], (2,)),
        lambda: BleuReferences([], 4),
        lambda: bleu([["a"]], [["a"]], (0,)),
        lambda: bleu([["a"]], [["a"]], (2, -1)),
        lambda: bleu([["a"]], [["a"]], ()),
        lambda: bleu([], [["a"]], (2,)),
        lambda: BleuReferences([["a"]], 2).score(["a"], 3),
        lambda: self_bleu_leave_one_out([["a", "b"]], (2,)),
        lambda: self_bleu_leave_one_out([["a"], ["b"]], (0,)),
        lambda: self_bleu_fixed([["a"]], [], (2,)),
    ],
)
def test_invalid_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_untokenised_strings_are_rejected():
    with pytest.raises(TypeError):
        bleu(["a cat"], [["a", "cat"]], (2,))
