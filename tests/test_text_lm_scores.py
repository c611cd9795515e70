"""LM score and reverse-LM score on a tiny grammar: the reverse LM trained on real-like sentences scores held-out
real text far better than one trained on random tokens or on one repeated sentence, the LM score ranks real-like
samples above random ones, the scores are deterministic, and bad settings give one error naming the option."""
from __future__ import annotations

import random

import pytest
import torch

from multigan.errors import MultiganError
from multigan.text.lm_scores import LMScoreConfig, LMScorer, reverse_lm_score
from multigan.text.tokenizer import WordTokenizer

SUBJECTS = ["a cat", "the dog", "a man", "two birds", "a woman"]
VERBS = ["sits on", "looks at", "walks to", "stands near"]
OBJECTS = ["the mat", "a table", "the road", "a tree", "the water"]
CFG = LMScoreConfig(embed_dim=8, hidden_dim=16, epochs=4, batch_size=32, lr=2e-2, patience=0)


def _grammar(n: int, seed: int) -> list[str]:
    r = random.Random(seed)
    return [f"{r.choice(SUBJECTS)} {r.choice(VERBS)} {r.choice(OBJECTS)} ." for _ in range(n)]


@pytest.fixture(scope="module")
def corpus():
    train, heldout = _grammar(400, 0), _grammar(100, 1)
    tok = WordTokenizer.train(train)
    words = [w for w in tok.backend.get_vocab() if not w.startswith("<")]
    r = random.Random(2)
    noise = [[r.choice(words) for _ in range(r.randint(3, 8))] for _ in range(400)]
    return tok, train, heldout, noise


def test_encode_tokens_matches_encode(corpus):
    tok, train, _, _ = corpus
    split = [tok.split(s) for s in train[:20]] + [["a", "zebra", "."]]
    expected = tok.encode_batch(train[:20] + ["a zebra ."])
    assert torch.equal(tok.encode_tokens(split), expected)
    assert int(tok.encode_tokens([["zebra"]])[0, 0]) == tok.unk_id


def test_reverse_lm_prefers_real_samples_to_noise_and_collapse(corpus):
    tok, train, heldout, noise = corpus
    real_ids = tok.encode_batch(heldout)
    real = reverse_lm_score(tok.encode_batch(train), real_ids, tok, CFG)
    random_tokens = reverse_lm_score(tok.encode_tokens(noise), real_ids, tok, CFG)
    collapsed = reverse_lm_score(tok.encode_batch([train[0]] * 400), real_ids, tok, CFG)
    assert real < random_tokens - 0.5, (real, random_tokens)
    assert real < collapsed - 0.5, (real, collapsed)
    assert reverse_lm_score(tok.encode_batch(train), real_ids, tok, CFG) == real  # deterministic


def test_scorer_gives_both_scores_and_lm_score_ranks_fluency(corpus):
    tok, train, heldout, noise = corpus
    scorer = LMScorer(tok, train, heldout, CFG)
    real = scorer([tok.split(s) for s in _grammar(200, 3)])
    rnd = scorer(noise[:200])
    assert set(real) == {"lm_score", "reverse_lm"}
    assert real["lm_score"] < rnd["lm_score"] - 0.5
    assert real["reverse_lm"] < rnd["reverse_lm"]
    assert set(LMScorer(tok, train, heldout, CFG, reverse=False)(noise[:200])) == {"lm_score"}
    assert scorer.describe()["lm_train_sentences"] == 400


@pytest.mark.parametrize("field, value", [("hidden_dim", 0), ("epochs", 0), ("val_fraction", 1.0)])
def test_bad_settings_name_the_option(corpus, field, value):
    tok, train, heldout, _ = corpus
    with pytest.raises(MultiganError, match=field):
        LMScorer(tok, train, heldout, LMScoreConfig(**{field: value}))


def test_too_few_samples_is_one_clear_error(corpus):
    tok, train, heldout, _ = corpus
    with pytest.raises(MultiganError, match="at least"):
        reverse_lm_score(tok.encode_batch(train[:10]), tok.encode_batch(heldout), tok, CFG)
