"""An exponential moving average of the generator's weights, safe for every generator.

The EMA averages the floating-point *parameters* and copies every buffer from the live generator after
each update (the StyleGAN2-ADA convention). Averaging buffers is wrong for most of what generators keep in
them: a logit mask holding ``-inf`` becomes NaN (``-inf + w * (-inf - -inf)``), a temperature or step
counter would lag behind the schedule that sets it, integer counters cannot be interpolated. Normalisation
statistics follow the live generator, as they do in StyleGAN2-ADA's ``G_ema``.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def warmup_ema_fn(decay: float):
    """EMA update with a warm-up: the decay after ``n`` updates is ``min(decay, (1 + n) / (10 + n))``.

    Without it, an EMA of decay 0.999 still weighs the random initial weights by 0.999^n (60 % after 500
    steps), which ruins early validations and short runs.
    """
    def update(ema_params, params, num_averaged):
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        torch._foreach_lerp_(ema_params, params, 1.0 - d)

    return update


def build_ema(generator: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA copy of ``generator`` (None when ``decay`` is 0). Its state dict holds ``module.*`` and ``n_averaged``."""
    if decay <= 0:
        return None
    # use_buffers=False: parameters are averaged, buffers copied from the live generator on every update
    return AveragedModel(generator, multi_avg_fn=warmup_ema_fn(decay), use_buffers=False)


@torch.no_grad()
def update_ema(ema: AveragedModel, generator: nn.Module, copy: bool = False) -> None:
    """Average ``generator`` into ``ema``; with ``copy`` (before ``train.ema_start``) the EMA becomes G exactly."""
    if not copy:
        ema.update_parameters(generator)
        return
    pairs = zip(itertools.chain(ema.module.parameters(), ema.module.buffers()),
                itertools.chain(generator.parameters(), generator.buffers()))
    for averaged, live in pairs:
        averaged.copy_(live)
