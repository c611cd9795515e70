"""Optimizers and learning-rate schedules built from :class:`~multigan.train_config.TrainConfig`."""
from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from .train_config import TrainConfig


def build_optimizer(params, lr: float, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW with the config's betas and weight decay."""
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls([p for p in params if p.requires_grad], lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """The schedule's multiplier of the base learning rate after ``step`` iterations."""
    if cfg.lr_schedule == "exponential":
        return cfg.lr_decay ** (step // cfg.lr_decay_every)
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, cfg.max_steps) / cfg.max_steps))
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> LambdaLR:
    """A per-iteration scheduler following :func:`lr_factor`."""
    return LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
