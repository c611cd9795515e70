"""The discriminator-side token embedding shared by every text discriminator.

Real ids and generated soft one-hots go through the same matrix ``E [V, D]``: ids are looked up
(``F.embedding(ids, E)``, which equals ``one_hot(ids) @ E`` without materialising the one-hots), float
inputs ``[..., V]`` (soft or hard one-hots) are multiplied by ``E``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TokenEmbedding(nn.Module):
    """``E [vocab_size, dim]`` applied to ids (lookup) or to (soft) one-hots (matrix product)."""

    def __init__(self, vocab_size: int, dim: int, std: float | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, dim))
        nn.init.normal_(self.weight, std=std if std is not None else 1.0 / math.sqrt(vocab_size))

    @property
    def vocab_size(self) -> int:
        """Rows of the matrix."""
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` ids or ``[B, L, V]`` floats -> ``[B, L, dim]``."""
        return embed_tokens(x, self.weight)


def embed_tokens(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Embed integer ids by lookup or float (soft) one-hots by ``x @ weight``; both give ``[..., dim]``."""
    if not torch.is_floating_point(x):
        return F.embedding(x, weight)
    if x.shape[-1] != weight.shape[0]:
        raise ValueError(f"one-hot inputs have {x.shape[-1]} classes but the embedding has {weight.shape[0]} rows")
    return x.to(weight.dtype) @ weight
