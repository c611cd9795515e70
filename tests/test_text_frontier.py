"""NLL_gen on hand-made cases (padding excluded, per token and per sentence, tempered), distinct-n, the
real-text pool and point, and the gaps between frontier curves. (The frontier of a real tiny run is tested in
test_text_training.py.)"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from multigan.text.evaluation import distinct_ngrams, diversity_metrics, nll_gen
from multigan.text.frontier import curve_gap, frontier_gaps, real_point, real_text_pool
from multigan.text.generator import TextGenerator
from multigan.text.metrics import BleuReferences

V = 7  # <pad> <bos> <eos> <unk> and words 4, 5, 6


class FixedDistribution(TextGenerator):
    """A generator whose next-token logits are the same at every position (a hand-computable NLL)."""

    def __init__(self, seq_len: int, logits: list[float]):
        super().__init__(V, seq_len, logits=logits)
        self.output_layer = nn.Linear(1, V)
        with torch.no_grad():
            self.output_layer.weight.zero_()
            self.output_layer.bias.copy_(torch.tensor(logits))

    def teacher_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.ones(*ids.shape, 1)


LOGITS = [0.0, 0.0, 1.0, 0.0, 2.0, 0.5, -1.0]


def _log_p(temperature: float = 1.0) -> dict[int, float]:
    """log-probabilities by hand: <pad> and <bos> are masked out, the rest is softmax(logits / T)."""
    allowed = {i: LOGITS[i] / temperature for i in range(2, V)}
    log_z = math.log(sum(math.exp(v) for v in allowed.values()))
    return {i: v - log_z for i, v in allowed.items()}


def _rows(sentences: list[list[int]], seq_len: int) -> torch.Tensor:
    ids = torch.zeros(len(sentences), seq_len, dtype=torch.long)
    for i, s in enumerate(sentences):
        ids[i, :len(s)] = torch.tensor(s)
    return ids


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_nll_gen_counts_real_tokens_only(temperature):
    sentences = [[4, 5, 2], [6, 4, 4, 5, 2]]  # words then <eos>; 3 and 5 real tokens
    lp = _log_p(temperature)
    per_sentence = [-sum(lp[t] for t in s) for s in sentences]
    expected = {"nll_gen": sum(per_sentence) / 8, "nll_gen_sentence": sum(per_sentence) / 2}
    for seq_len in (5, 12, 40):  # no padding in the longest row, then more and more <pad>
        g = FixedDistribution(seq_len, LOGITS)
        got = nll_gen(g, _rows(sentences, seq_len), temperature=temperature, batch_size=1)
        assert got == pytest.approx(expected, rel=1e-6), seq_len
    # what averaging over positions would report: the padded figure shrinks as padding grows
    assert sum(per_sentence) / (2 * 40) < expected["nll_gen"] / 4


def test_nll_gen_of_a_sharper_temperature_punishes_unlikely_tokens():
    g = FixedDistribution(6, LOGITS)
    likely, unlikely = _rows([[4, 4, 2]], 6), _rows([[6, 6, 2]], 6)
    assert nll_gen(g, likely, temperature=0.5)["nll_gen"] < nll_gen(g, likely)["nll_gen"]
    assert nll_gen(g, unlikely, temperature=0.5)["nll_gen"] > nll_gen(g, unlikely)["nll_gen"]


def test_distinct_ngrams_and_lengths():
    sents = [["a", "b", "a", "b"], ["a", "b"]]
    assert distinct_ngrams(sents, 1) == pytest.approx(2 / 6)
    assert distinct_ngrams(sents, 2) == pytest.approx(2 / 4)  # ab, ba, ab | ab
    assert distinct_ngrams(sents, 5) == 0.0
    m = diversity_metrics(sents + [["a", "b"]])
    assert m["distinct_sentences"] == pytest.approx(2 / 3) and m["mean_length"] == pytest.approx(8 / 3)


def test_real_point_uses_sentences_that_are_not_references():
    refs = ["a cat on a mat .", "a dog in a park ."]
    lines = ["a cat on a mat .", "a cat in a park .", "a dog on a mat .", "two dogs run .", "a man on a bike ."]
    pool = real_text_pool(lines, [f"  {r} " for r in refs])
    assert pool == lines[1:]
    point = real_point(pool, str.split, BleuReferences([r.split() for r in refs]), n=2, seed=0)
    assert point["samples"] == 2 and point["temperature"] is None
    assert {"bleu2", "self_bleu4", "self_bleu_fixed2", "distinct2", "mean_length"} <= set(point)
    assert "nll_gen" not in point  # real text has no likelihood


def _curve(kind: str, points: list[tuple[float, float, float]]) -> dict:
    return {"label": kind.upper(), "kind": kind,
            "points": [{"temperature": t, "self_bleu4": x, "bleu4": y, "nll_gen": 3.0 + x} for t, x, y in points]}


def test_curve_gap_interpolates_at_equal_diversity():
    mle = _curve("mle", [(1.2, 0.2, 0.10), (1.0, 0.4, 0.20), (0.7, 0.6, 0.40)])
    gan = _curve("gan", [(1.0, 0.3, 0.16), (0.9, 0.5, 0.28), (0.5, 0.9, 0.60)])
    gaps = curve_gap(gan, mle)
    assert [g["temperature"] for g in gaps] == [1.0, 0.9]  # 0.9 self-BLEU lies outside the MLE range
    assert [g["gap"] for g in gaps] == pytest.approx([0.01, -0.02])
    nll = curve_gap(gan, mle, "nll_gen", higher_is_better=False)
    assert [g["gap"] for g in nll] == pytest.approx([0.0, 0.0])
    report = frontier_gaps({"curves": [gan, mle]})
    assert list(report) == ["GAN vs MLE"]
    assert report["GAN vs MLE"]["above"] and report["GAN vs MLE"]["max_bleu4_gap"] == pytest.approx(0.01)
    below = _curve("gan", [(1.0, 0.3, 0.14)])
    assert not frontier_gaps({"curves": [below, mle]})["GAN vs MLE"]["above"]
