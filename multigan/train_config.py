"""The trainer's settings, shared by every recipe (``train.*`` keys)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import ConfigError
from .losses import LOSSES

LossName = Literal["ns", "hinge", "lsgan", "wgan", "rpgan"]


@dataclass
class TrainConfig:
    """Adversarial training settings. One iteration = ``n_critic`` D phases then one G phase."""

    max_steps: int = 10_000
    batch_size: int = 64  # per process and micro-batch
    grad_accum: int = 1  # micro-batches per phase
    n_critic: int = 1
    loss: LossName = "ns"
    loss_reduction: Literal["sum", "mean"] = "sum"  # over sub-discriminators
    r1_gamma: float = 0.0  # adds r1_gamma / 2 * ||grad D(real)||^2
    r2_gamma: float = 0.0  # same on fakes
    gp_weight: float = 0.0  # WGAN-GP
    reg_every: int = 1  # lazy regularisation: apply every k D steps, weighted by k
    lazy_reg_adjust: bool = True  # with reg_every k > 1: D's lr x c and betas ** c, c = k / (k + 1) (StyleGAN2)
    fm_weight: float = 0.0  # feature matching in the G phase
    adv_weight: float = 1.0  # weight of the adversarial G loss
    adv_start_step: int = 0  # before it: G trains on its extra losses only, D does not train
    reuse_fakes: bool = False  # G phase reuses the last D phase's batch and fakes (one G forward per step)
    optimizer: Literal["adam", "adamw"] = "adam"
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "exponential", "cosine"] = "constant"
    lr_decay: float = 1.0  # exponential: factor applied every lr_decay_every steps
    lr_decay_every: int = 1
    grad_clip: float = 0.0  # max global grad norm, 0 = off
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    max_skipped_steps: int = 25  # fp16: steps in a row the GradScaler may skip (inf grads) before stopping
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: int = 0  # torch intra-op threads; 0 = torch's default (small models run best on 1)
    ema_decay: float = 0.999  # 0 = no EMA
    ema_start: int = 0  # before it, the EMA copies G
    seed: int = 0
    num_workers: int = 0
    log_every: int = 50
    val_every: int = 1000  # 0 = never
    ckpt_every: int = 1000
    keep_last: int = 3
    early_stop_metric: str = ""  # a key of the validation metrics; "" = no early stopping / best by last
    early_stop_mode: Literal["max", "min"] = "max"
    patience: int = 0  # validations without improvement before stopping, 0 = never stop early
    max_minutes: float = 0.0  # wall-clock budget per invocation: stop at the last validation that fits, 0 = none
    progress: bool = True

    def validate(self) -> None:
        """Cross-field checks; raises ConfigError naming the key."""
        positive = ["max_steps", "batch_size", "grad_accum", "n_critic", "reg_every", "lr_decay_every",
                    "keep_last", "log_every", "ckpt_every", "max_skipped_steps"]
        for key in positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        for key in ["r1_gamma", "r2_gamma", "gp_weight", "fm_weight", "adv_weight", "g_lr", "d_lr",
                    "weight_decay", "grad_clip", "val_every", "patience", "adv_start_step", "ema_start",
                    "num_workers", "cpu_threads", "max_minutes"]:
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.betas must both be in [0, 1), got {list(self.betas)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ConfigError(f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.loss not in LOSSES:  # pragma: no cover - Literal already checks
            raise ConfigError(f"train.loss: valid choices: {', '.join(LOSSES)}")
        if self.patience and not self.early_stop_metric:
            raise ConfigError("train.patience is set but train.early_stop_metric is empty: name the validation "
                              "metric to watch (e.g. train.early_stop_metric=fid train.early_stop_mode=min)")
        if self.early_stop_metric and not self.val_every:
            raise ConfigError("train.early_stop_metric needs validation: set train.val_every > 0")
        if self.reuse_fakes and self.n_critic != 1:
            raise ConfigError("train.reuse_fakes needs train.n_critic=1 (the G phase reuses that D phase's fakes)")
