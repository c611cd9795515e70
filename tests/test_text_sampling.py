"""Nucleus (top-p) sampling: the filter on hand-made distributions, top-p = 1 is plain sampling with the same
seed, a tiny top-p is greedy decoding, bad values give one error naming the option, and `multigan generate
--top-p` reaches the generator."""
from __future__ import annotations

import pytest
import torch

from multigan.errors import MultiganError
from multigan.text.generator import nucleus_filter
from multigan.text.lstm import LSTMGenerator


def test_nucleus_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    kept = lambda p: torch.isfinite(nucleus_filter(logits, p))[0].tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.51) == [True, True, False, False]
    assert kept(0.8) == [True, True, False, False]
    assert kept(0.81) == [True, True, True, False]
    assert kept(1.0) == [True, True, True, True]
    assert kept(1e-6) == [True, False, False, False]
    shuffled = logits[:, [2, 0, 3, 1]]  # the order of the vocabulary does not matter
    assert torch.isfinite(nucleus_filter(shuffled, 0.81))[0].tolist() == [True, True, False, True]
    # kept logits are unchanged, so the renormalised distribution is the truncated one
    assert torch.equal(nucleus_filter(logits, 0.81)[0, :3], logits[0, :3])


def _model(seed: int = 0) -> LSTMGenerator:
    torch.manual_seed(seed)
    g = LSTMGenerator(vocab_size=30, seq_len=9, embed_dim=8, hidden_dim=16).eval()
    with torch.no_grad():
        g.output_layer.weight.mul_(20)  # peaked enough that greedy and sampling differ
    return g


def _greedy(g: LSTMGenerator, n: int) -> torch.Tensor:
    """Greedy decoding written out step by step (argmax of the logits, stop at <eos>)."""
    state = g.initial_state(g.sample_noise(n))
    ids = torch.full((n,), g.bos_id)
    finished = torch.zeros(n, dtype=torch.bool)
    out = []
    with torch.no_grad():
        for _ in range(g.seq_len):
            hidden, state = g.step(ids, None, state)
            ids = torch.where(finished, torch.full_like(ids, g.pad_id), g.logits(hidden).argmax(-1))
            out.append(ids)
            finished |= ids == g.eos_id
    return torch.stack(out, 1)


def test_top_p_one_is_plain_sampling_and_tiny_top_p_is_greedy():
    g = _model()
    plain = g.sample_ids(64, seed=3, temperature=0.9)
    assert torch.equal(g.sample_ids(64, seed=3, temperature=0.9, top_p=1.0), plain)
    assert torch.equal(g.sample_ids(64, seed=5, top_p=1e-9), _greedy(g, 64))
    nucleus = g.sample_ids(64, seed=3, temperature=0.9, top_p=0.5)
    assert not torch.equal(nucleus, plain)  # the option does something
    assert torch.equal(g.sample_ids(64, seed=3, temperature=0.9, top_p=0.5), nucleus)  # and is seeded


def test_top_p_samples_stay_inside_the_nucleus():
    g = _model(1)
    ids = g.sample_ids(200, seed=0, top_p=0.6)
    state, prev = g.initial_state(g.sample_noise(200)), torch.full((200,), g.bos_id)
    with torch.no_grad():
        hidden, _ = g.step(prev, None, state)
        allowed = torch.isfinite(nucleus_filter(g.logits(hidden), 0.6))
    assert allowed.gather(1, ids[:, :1]).all()  # every first token lies in its nucleus
    assert allowed.sum(1).min() < g.vocab_size - 2  # and the nucleus excluded something


@pytest.mark.parametrize("top_p", [0.0, -0.1, 1.5, float("nan")])
def test_bad_top_p_is_one_error_naming_it(top_p):
    with pytest.raises(MultiganError, match="top_p"):
        _model().sample_ids(4, top_p=top_p)
