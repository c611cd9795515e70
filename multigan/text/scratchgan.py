"""ScratchGAN-style training (de Masson d'Autume et al. 2019): REINFORCE on sampled tokens with dense rewards.

* The generator samples hard tokens (``TextGenerator.hard_samples``); no Gumbel-softmax, no temperature schedule.
* :class:`LSTMDiscriminator` reads the sequence left to right and scores every position: logit ``l_t`` says
  whether token ``t`` is real given the prefix. It is trained with the per-token logistic loss (``train.loss=ns``
  on the ``[B, L]`` logits), with dropout on its embeddings and an L2 penalty on its weights
  (:func:`add_l2_penalty`, the penalty's gradient added in D's backward).
* The generator's reward at step ``t`` is ``r_t = 2 sigmoid(l_t) - 1``, its return the discounted sum
  ``R_t = sum_{s >= t} gamma^(s-t) r_s`` over the sentence (:func:`discounted_returns`), and its loss
  ``-sum_t (R_t - b) log p(x_t | x_<t) / tokens`` (:class:`ReinforceObjective`). The baseline ``b`` is a
  moving average of the mean return, ``b <- decay * b + (1 - decay) * mean(R)``, held as a buffer of the
  discriminator (so checkpoints carry it) and updated once per generator step after all of that step's
  micro-batches (``train.grad_accum``: large batches by accumulation give the same baseline as one big batch).
  Rewards and baseline are constants of the loss: no gradient reaches D or flows through ``b``.

Log-probabilities are recomputed by teacher forcing on the sampled ids (``token_nll``), which equals the
sampling distribution at temperature 1; ``<pad>`` positions after ``<eos>`` get neither reward nor gradient.
Multi-process (DDP) training is not supported by this objective: the generator's gradient comes from a
teacher-forcing pass outside the wrapped module.
"""
from __future__ import annotations

import torch
from torch import nn

from ..callbacks import Callback
from .embedding import TokenEmbedding
from .generator import TextGenerator

__all__ = ["LSTMDiscriminator", "ReinforceObjective", "add_l2_penalty", "discounted_returns"]


class LSTMDiscriminator(nn.Module):
    """Embedding (dropout) -> LSTM -> a logit per position, ``[B, L]`` (ScratchGAN's per-token discriminator).

    Takes ids ``[B, L]`` or (soft) one-hots ``[B, L, V]`` through the shared :class:`TokenEmbedding`.
    """

    def __init__(self, vocab_size: int, seq_len: int, embed_dim: int = 64, hidden_dim: int = 64,
                 num_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.embedding = TokenEmbedding(vocab_size, embed_dim, std=0.1)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_dim, 1)
        self.seq_len = seq_len
        # the generator's REINFORCE baseline (see ReinforceObjective): kept here so checkpoints carry it
        self.register_buffer("reward_baseline", torch.zeros(()))

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        """Per-position logits ``[B, L]``: ``l_t`` depends on tokens ``0..t``."""
        out, _ = self.lstm(self.dropout(self.embedding(x)))
        return self.head(out).squeeze(-1)


def add_l2_penalty(module: nn.Module, weight: float, micro_batches: int = 1) -> list:
    """Add the gradient of ``weight * sum(w ** 2)`` to every parameter's gradient in each backward.

    The trainer divides each micro-batch's loss by the number of micro-batches, so the penalty's gradient is
    divided by ``micro_batches`` as well: one full step gets ``2 * weight * w`` in all. Parameters only get
    gradients in D's own phase (they are frozen in G's), so only D's update sees the penalty. Returns the
    hook handles (``handle.remove()`` undoes it); nothing is registered when ``weight`` is 0.
    """
    if weight <= 0:
        return []
    scale = 2.0 * weight / micro_batches
    return [p.register_hook(lambda g, p=p: g + scale * p.detach()) for p in module.parameters()]


def discounted_returns(rewards: torch.Tensor, gamma: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``R_t = sum_{s >= t} gamma^(s - t) r_s`` along dim 1 of ``rewards [B, L]``; masked rewards count 0."""
    if mask is not None:
        rewards = rewards * mask.to(rewards.dtype)
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out


class ReinforceObjective(Callback):
    """The trainer's ``g_objective`` (and a callback): discounted REINFORCE with a moving-average baseline.

    Pass it as both ``Trainer(..., g_objective=obj, callbacks=[obj])``: the callback commits the step's mean
    return into the baseline after each step (see the module docstring).
    """

    def __init__(self, generator: TextGenerator, gamma: float = 0.23, baseline_decay: float = 0.08):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"the reward discount must be in [0, 1], got {gamma}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"the baseline decay must be in [0, 1), got {baseline_decay}")
        self.generator, self.gamma, self.decay = generator, gamma, baseline_decay
        self._pending: list[torch.Tensor] = []  # mean returns of this step's micro-batches
        generator.hard_samples = True

    def returns(self, discriminator: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R [B, L], mask [B, L])`` of sampled ids under the (frozen) discriminator; no graph."""
        mask = ids != self.generator.pad_id
        with torch.no_grad():
            rewards = 2.0 * torch.sigmoid(discriminator(ids).float()) - 1.0
            return discounted_returns(rewards, self.gamma, mask), mask

    def __call__(self, discriminator: nn.Module, ids: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        returns, mask = self.returns(discriminator, ids)
        baseline = discriminator.reward_baseline.detach().float()
        advantage = (returns - baseline) * mask  # a constant of the loss: no gradient through R or b
        log_p = -self.generator.token_nll(ids)  # [B, L], 0 at <pad>
        tokens = mask.sum().clamp_min(1)
        self._pending.append(returns[mask].mean() if bool(mask.any()) else returns.new_zeros(()))
        return {"g_reinforce": -(advantage * log_p).sum() / tokens,
                "g_return": returns[mask].mean().detach() if bool(mask.any()) else returns.new_zeros(())}

    def commit(self, discriminator: nn.Module) -> None:
        """Fold the pending micro-batches' mean return into the baseline (once per generator step)."""
        if not self._pending:
            return
        mean = torch.stack(self._pending).mean()
        self._pending.clear()
        b = discriminator.reward_baseline
        b.copy_(self.decay * b + (1.0 - self.decay) * mean.to(b.dtype))

    def on_step_end(self, trainer, losses: dict[str, float]) -> None:
        self.commit(trainer.D)
