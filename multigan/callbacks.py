"""Trainer callbacks: code that runs at fixed points of the loop without being a loss.

A callback overrides any of :class:`Callback`'s hooks. ``on_step_end`` and ``on_validation_end`` may
return a stop reason (a short string such as ``"time_budget"``); the trainer then checkpoints, exports and
returns that reason in :class:`~multigan.trainer.TrainResult`. Every process calls every hook at the same
step, so a callback that decides to stop must decide the same on every process (use
``trainer.rt.from_main``). ``Trainer`` in the annotations is :class:`multigan.trainer.Trainer`, not imported
here so that the two modules do not import each other.
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("multigan")


class Callback:
    """Hooks called by :meth:`Trainer.fit`; the defaults do nothing."""

    def on_fit_start(self, trainer: "Trainer") -> None:
        """After a resume (if any), before the first step of this invocation."""

    def on_step_end(self, trainer: "Trainer", losses: dict[str, float]) -> str | None:
        """After each iteration (``trainer.step`` already counts it); return a reason to stop."""
        return None

    def on_validation_end(self, trainer: "Trainer", metrics: dict[str, float]) -> str | None:
        """After a scheduled validation that did not stop early; return a reason to stop."""
        return None


class TimeBudget(Callback):
    """Stops training once ``minutes`` of wall-clock time of this invocation are spent (``train.max_minutes``).

    With validation on (``train.val_every``), it decides after each validation and stops when the next
    one would end past the deadline (projected from the last interval): a run stops at the last validation
    that fits, so no training goes unvalidated. Without validation it decides every ``train.log_every``
    steps. The main process's clock decides for all processes (one broadcast per decision), so every
    process stops at the same step.
    """

    def __init__(self, minutes: float):
        self.seconds = 60.0 * minutes
        self.start = self.mark = time.perf_counter()

    def on_fit_start(self, trainer: "Trainer") -> None:
        self.start = self.mark = time.perf_counter()

    def on_step_end(self, trainer: "Trainer", losses: dict[str, float]) -> str | None:
        cfg = trainer.cfg
        if cfg.val_every or trainer.step % cfg.log_every:
            return None
        return self._decide(trainer, projected=False)

    def on_validation_end(self, trainer: "Trainer", metrics: dict[str, float]) -> str | None:
        return self._decide(trainer, projected=True)

    def _decide(self, trainer: "Trainer", projected: bool) -> str | None:
        now = time.perf_counter()
        interval, self.mark = now - self.mark, now
        spent = (now + (interval if projected else 0.0)) - self.start > self.seconds
        if not trainer.rt.from_main(spent):
            return None
        log.info("step %d: the wall-clock budget train.max_minutes=%g is spent%s; --resume continues",
                 trainer.step, self.seconds / 60, " (the next validation would end past it)" if projected else "")
        return "time_budget"
