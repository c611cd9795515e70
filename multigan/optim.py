"""Optimizers and learning-rate schedules built from :class:`~multigan.train_config.TrainConfig`."""
from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from .train_config import TrainConfig


def lazy_regularization_ratio(cfg: TrainConfig) -> float:
    """StyleGAN2's ``c = k / (k + 1)`` for a D penalty applied every ``k = train.reg_every`` D steps.

    A penalty weighted by ``k`` every ``k`` steps gives D's optimiser ``k + 1`` steps' worth of updates per
    ``k`` steps; StyleGAN2 compensates by scaling D's learning rate by ``c`` and raising its betas to the
    power ``c``. 1.0 (no change) when ``train.lazy_reg_adjust`` is off, ``reg_every`` is 1 or no penalty is set.
    """
    penalised = cfg.r1_gamma > 0 or cfg.r2_gamma > 0 or cfg.gp_weight > 0
    if not (cfg.lazy_reg_adjust and penalised and cfg.reg_every > 1):
        return 1.0
    return cfg.reg_every / (cfg.reg_every + 1)


def build_optimizer(params, lr: float, cfg: TrainConfig, ratio: float = 1.0) -> torch.optim.Optimizer:
    """Adam or AdamW with the config's betas and weight decay; ``ratio`` is :func:`lazy_regularization_ratio`."""
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    betas = tuple(b ** ratio for b in cfg.betas) if ratio != 1.0 else cfg.betas
    return cls([p for p in params if p.requires_grad], lr=lr * ratio, betas=betas, weight_decay=cfg.weight_decay)


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
