"""ScratchGAN-style REINFORCE at tiny sizes: the reward discount, the baseline (a constant of the loss, updated
once per step from that step's micro-batches), the D L2 penalty, the per-token discriminator, and the trainer's
generator-objective hook."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from multigan.text.data import TokenIdsDataset
from multigan.text.lstm import LSTMGenerator
from multigan.text.scratchgan import LSTMDiscriminator, ReinforceObjective, add_l2_penalty, discounted_returns
from multigan.train_config import TrainConfig
from multigan.trainer import Trainer


class FixedLogits(nn.Module):
    """A 'discriminator' whose logit at (b, t) is a fixed table: rewards known in advance."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("table", logits)
        self.register_buffer("reward_baseline", torch.zeros(()))

    def forward(self, ids, cond=None):
        return self.table[:ids.shape[0], :ids.shape[1]]


def _returns_by_hand(rewards: list[list[float]], gamma: float) -> list[list[float]]:
    return [[sum(gamma ** (s - t) * row[s] for s in range(t, len(row))) for t in range(len(row))] for row in rewards]


def test_discounted_returns_by_hand():
    r = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    assert torch.allclose(discounted_returns(r, 0.5), torch.tensor(_returns_by_hand(r.tolist(), 0.5)))
    assert torch.allclose(discounted_returns(r, 0.5)[0], torch.tensor([2.75, 3.5, 3.0]))
    assert torch.allclose(discounted_returns(r, 0.0), r)
    masked = discounted_returns(r, 0.5, mask=torch.tensor([[True, True, False], [True, True, True]]))
    assert torch.allclose(masked[0], torch.tensor([2.0, 2.0, 0.0]))  # nothing flows back from a masked position


def _setup(gamma=0.23, baseline=0.3, seed=0):
    torch.manual_seed(seed)
    g = LSTMGenerator(vocab_size=12, seq_len=5, embed_dim=4, hidden_dim=6, fixed_length=True)
    d = FixedLogits(torch.randn(4, 5) * 2)
    d.reward_baseline.fill_(baseline)
    obj = ReinforceObjective(g, gamma=gamma, baseline_decay=0.5)
    ids = g.sample_ids(4, seed=1)
    return g, d, obj, ids


def _manual_grads(g, d, ids, gamma, baseline):
    """-sum_t (R_t - b) grad log p(x_t) / tokens, R by the hand-written double sum, b a plain float."""
    rewards = (2 * torch.sigmoid(d(ids)) - 1).tolist()
    adv = torch.tensor(_returns_by_hand(rewards, gamma)) - baseline
    g.zero_grad()
    log_p = -g.token_nll(ids)
    (-(adv * log_p).sum() / ids.numel()).backward()
    return [p.grad.clone() for p in g.parameters()]


@pytest.mark.parametrize("gamma", [0.0, 0.23, 0.9])
def test_the_gradient_is_discounted_reinforce(gamma):
    g, d, obj, ids = _setup(gamma=gamma)
    g.zero_grad()
    terms = obj(d, ids, {})
    terms["g_reinforce"].backward()
    got = [p.grad.clone() for p in g.parameters()]
    want = _manual_grads(g, d, ids, gamma, 0.3)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-6)
    wrong = _manual_grads(g, d, ids, 1.0 if gamma < 0.5 else 0.0, 0.3)  # the test can tell another discount
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(got, wrong))


def test_the_baseline_is_a_constant_of_the_loss_and_moves_once_per_step():
    g, d, obj, ids = _setup(baseline=0.3)
    terms = obj(d, ids, {})
    assert not d.reward_baseline.requires_grad
    terms["g_reinforce"].backward()
    assert d.reward_baseline.grad is None
    got = [p.grad.clone() for p in g.parameters()]
    for a, b in zip(got, _manual_grads(g, d, ids, 0.23, 0.3)):  # b enters as the float 0.3, nothing more
        assert torch.allclose(a, b, atol=1e-6)
    # a second micro-batch of the same step still sees the baseline of the step's start
    assert float(d.reward_baseline) == pytest.approx(0.3)
    obj(d, ids[:2], {})
    assert float(d.reward_baseline) == pytest.approx(0.3)
    returns, _ = obj.returns(d, ids)
    m1, m2 = float(returns.mean()), float(obj.returns(d, ids[:2])[0].mean())
    obj.commit(d)  # after the step: decay * b + (1 - decay) * mean of the micro-batches' mean returns
    assert float(d.reward_baseline) == pytest.approx(0.5 * 0.3 + 0.5 * (m1 + m2) / 2, abs=1e-6)
    obj.commit(d)  # nothing pending: unchanged
    assert float(d.reward_baseline) == pytest.approx(0.5 * 0.3 + 0.5 * (m1 + m2) / 2, abs=1e-6)


def test_a_baseline_shift_changes_the_gradient_by_its_score_function_term():
    """(R - b) grad log p = R grad log p - b grad log p: the baseline's only effect is that term."""
    g, d, obj, ids = _setup(baseline=0.0)
    obj(d, ids, {})["g_reinforce"].backward()
    base = [p.grad.clone() for p in g.parameters()]
    g.zero_grad()
    d.reward_baseline.fill_(0.7)
    obj._pending.clear()
    obj(d, ids, {})["g_reinforce"].backward()
    shifted = [p.grad.clone() for p in g.parameters()]
    g.zero_grad()
    (g.token_nll(ids).sum() / ids.numel()).backward()  # grad of -mean log p
    score = [p.grad.clone() for p in g.parameters()]
    for s, b0, sc in zip(shifted, base, score):
        assert torch.allclose(s, b0 - 0.7 * sc, atol=1e-6)


def test_l2_penalty_adds_its_gradient_once_per_step_whatever_the_accumulation():
    torch.manual_seed(0)
    lin = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    lin(x).sum().backward()
    plain = lin.weight.grad.clone()
    lin.zero_grad()
    handles = add_l2_penalty(lin, 0.1, micro_batches=2)
    for half in (x[:2], x[2:]):
        lin(half).sum().backward()  # the trainer divides each micro-batch's loss by 2; sum() of halves = whole
    assert torch.allclose(lin.weight.grad, plain + 2 * 0.1 * lin.weight.detach(), atol=1e-6)
    for h in handles:
        h.remove()
    assert add_l2_penalty(lin, 0.0) == []


def test_the_lstm_discriminator_scores_every_position_causally():
    torch.manual_seed(0)
    d = LSTMDiscriminator(vocab_size=10, seq_len=6, embed_dim=4, hidden_dim=5, dropout=0.0)
    ids = torch.randint(3, 10, (2, 6))
    out = d(ids)
    assert out.shape == (2, 6)
    assert torch.allclose(d(torch.nn.functional.one_hot(ids, 10).float()), out, atol=1e-6)
    changed = ids.clone()
    changed[:, 3] = (changed[:, 3] + 1 - 3) % 7 + 3
    out2 = d(changed)
    assert torch.allclose(out2[:, :3], out[:, :3]) and not torch.allclose(out2[:, 3:], out[:, 3:])


def test_the_trainer_runs_the_objective_in_the_g_phase(tmp_path):
    torch.manual_seed(0)
    g = LSTMGenerator(vocab_size=12, seq_len=5, embed_dim=4, hidden_dim=6, fixed_length=True)
    d = LSTMDiscriminator(12, 5, embed_dim=4, hidden_dim=6)
    obj = ReinforceObjective(g)
    cfg = TrainConfig(max_steps=3, batch_size=8, grad_accum=2, loss="ns", device="cpu", cpu_threads=1,
                      ema_decay=0.0, val_every=0, ckpt_every=3, progress=False, log_every=1)
    data = TokenIdsDataset(torch.randint(3, 12, (64, 5)))
    before = [p.detach().clone() for p in g.parameters()]
    trainer = Trainer(g, d, cfg, data, tmp_path, callbacks=[obj], g_objective=obj)
    trainer.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert float(d.reward_baseline) != 0.0 and not obj._pending
    assert torch.equal(trainer.state_dict()["discriminator"]["reward_baseline"], d.reward_baseline)  # checkpointed
