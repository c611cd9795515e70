"""Best-metric tracking and patience, on a validation metric (never on GAN losses)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class EarlyStopping:
    """Tracks the best value of one metric; ``update`` says whether it improved, ``should_stop`` when to stop."""

    metric: str
    mode: str = "max"  # "max" or "min"
    patience: int = 0  # validations without improvement; 0 = never stop
    best: float | None = None
    best_step: int = -1
    bad_validations: int = 0

    def update(self, metrics: dict, step: int) -> bool:
        """Record a validation; True when it is the best so far. A missing or non-finite metric is an error."""
        if self.metric not in metrics:
            raise KeyError(f"early stopping watches {self.metric!r} but validation returned only "
                           f"{sorted(metrics)}: set train.early_stop_metric to one of them")
        value = float(metrics[self.metric])
        improved = math.isfinite(value) and (
            self.best is None or (value > self.best if self.mode == "max" else value < self.best))
        if improved:
            self.best, self.best_step, self.bad_validations = value, step, 0
        else:
            self.bad_validations += 1
        return improved

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` validations in a row did not improve."""
        return self.patience > 0 and self.bad_validations >= self.patience

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
