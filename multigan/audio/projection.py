"""The projection discriminator's output head (Miyato & Koyama 2018), shared by the conditional audio Ds."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import MultiganError


class ProjectionHead(nn.Module):
    """``logit = w . h + embed(y) . h`` on flattened features ``h``; just ``w . h`` when ``num_classes=0``."""

    def __init__(self, features: int, num_classes: int, use_spectral_norm: bool = True):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else (lambda m: m)
        self.fc = norm(nn.Linear(features, 1))
        self.embed = norm(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        flat = h.flatten(1)
        logits = self.fc(flat).squeeze(1)
        if self.embed is not None:
            if cond is None:
                raise MultiganError("this discriminator is class-conditional: pass the class labels as cond")
            logits = logits + (self.embed(cond) * flat).sum(1)
        return logits
