"""Mixed precision for the trainer: autocast, fp16 loss scaling, and a divergence guard that knows about it.

* ``no``: float32. ``bf16``: autocast to bfloat16, no loss scaling (bf16 has float32's range).
* ``fp16``: autocast to float16 and one :class:`torch.amp.GradScaler` per network. The scaler multiplies
  the loss by its scale (65,536 at first), skips a step whose gradients hold inf/NaN and halves its scale.
  Gradient penalties (R1, R2, WGAN-GP) differentiate *inside* the loss: their inner gradients are scaled
  by :func:`penalty_scale`, which is bounded by :data:`PENALTY_SCALE_MAX`, because 65,536 times a
  gradient overflows float16 (largest value 65,504) and turns every penalty into NaN.

fp16 also runs on the CPU (slowly; useful for tests). On a GPU prefer bf16 where the hardware has it.
"""
from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from typing import Callable

import torch
from torch import nn

from .errors import MultiganError

log = logging.getLogger("multigan")

#: Upper bound of the factor applied to a penalty's inner gradients under fp16 (see the module docstring).
PENALTY_SCALE_MAX = 2.0 ** 8
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingDiverged(MultiganError):
    """A loss became NaN or infinite; no checkpoint was written after the last good one."""


class MixedPrecision:
    """Autocast and loss scaling for one run (``mode`` is ``train.mixed_precision``)."""

    def __init__(self, mode: str, device: torch.device):
        self.mode, self.device_type = mode, device.type
        self.dtype = _DTYPES.get(mode)

    def autocast(self):
        """The autocast context of this precision (nothing for float32)."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A GradScaler, enabled for fp16 only (a disabled one passes losses and steps through)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.mode == "fp16")


def penalty_scale(scaler: torch.amp.GradScaler) -> float | None:
    """The factor for a gradient penalty's inner gradients: the scaler's scale, at most :data:`PENALTY_SCALE_MAX`."""
    return min(scaler.get_scale(), PENALTY_SCALE_MAX) if scaler.is_enabled() else None


def step_optimizer(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, params, grad_clip: float) -> bool:
    """Unscale, clip, step and update the scaler; returns True when the scaler skipped the step (inf/NaN grads)."""
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(params, grad_clip)
    before = scaler.get_scale() if scaler.is_enabled() else None
    scaler.step(optimizer)
    scaler.update()
    return before is not None and scaler.get_scale() < before


class DivergenceGuard:
    """Stops training on a real divergence, lets the fp16 GradScaler skip steps.

    A non-finite loss in a step that no scaler skipped is a divergence. A step that a scaler skipped
    (its gradients overflowed; the scaler lowered its scale) is counted; more than ``max_skipped`` such
    steps in a row is a divergence too.
    """

    def __init__(self, max_skipped: int):
        self.max_skipped, self.skipped_in_row, self.skipped_total = max_skipped, 0, 0

    def check(self, step: int, losses: dict[str, float], skipped: bool, scale: float | None,
              last_checkpoint: Callable[[], str]) -> None:
        """Raise :class:`TrainingDiverged` when training must stop; ``step`` is the 1-based step just run and
        ``last_checkpoint()`` names the checkpoint to go back to (asked only when stopping)."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]

        def tail() -> str:
            return (f"The last good checkpoint is {last_checkpoint()} (nothing was saved after it). Lower the "
                    "learning rates or add a regulariser.")

        if not skipped:
            self.skipped_in_row = 0
            if bad:
                raise TrainingDiverged(f"step {step}: loss {bad[0]} is {losses[bad[0]]}; training stopped. {tail()}")
            return
        self.skipped_in_row += 1
        self.skipped_total += 1
        if self.skipped_in_row > self.max_skipped:
            raise TrainingDiverged(f"step {step}: the fp16 GradScaler skipped {self.skipped_in_row} steps in a row "
                                   f"(inf/NaN gradients; scale now {scale:g}"
                                   + (f"; loss {bad[0]} is {losses[bad[0]]}" if bad else "")
                                   + f"): training stopped. {tail()} train.mixed_precision=bf16 avoids overflow.")
        log.warning("step %d: fp16 gradients overflowed, the GradScaler skipped the step and lowered its scale to "
                    "%g (%d in a row, %d in all)", step, scale or 0.0, self.skipped_in_row, self.skipped_total)

    def state_dict(self) -> dict:
        return {"skipped_in_row": self.skipped_in_row, "skipped_total": self.skipped_total}

    def load_state_dict(self, state: dict) -> None:
        self.skipped_in_row = int(state.get("skipped_in_row", 0))
        self.skipped_total = int(state.get("skipped_total", 0))
