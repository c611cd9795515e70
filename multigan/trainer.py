"""The adversarial training loop, the same for every modality.

One iteration = ``n_critic`` discriminator phases, then one generator phase. Each phase zeroes its
gradients, freezes the other network, runs ``grad_accum`` micro-batches and steps. The D phase sees fakes
made without G's graph; the G phase runs D without building D's parameter gradients and computes D's real
branch (relativistic logits, feature-matching targets) without a graph at all.
"""
from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import losses as L
from . import regularizers as R
from . import rng
from .callbacks import Callback, TimeBudget
from .data import BatchSource
from .distributed import Runtime
from .early_stopping import EarlyStopping
from .ema import build_ema, update_ema
from .errors import MultiganError
from .optim import build_optimizer, build_scheduler, lazy_regularization_ratio
from .precision import DivergenceGuard, MixedPrecision, TrainingDiverged, penalty_scale, step_optimizer
from .run_state import RunState
from .train_config import TrainConfig

log = logging.getLogger("multigan")
Batch = dict[str, Any]


@dataclass
class ExtraLoss:
    """A weighted generator loss ``fn(fake, batch) -> scalar`` (mel L1, STFT, ...), added in the G phase."""

    name: str
    weight: float
    fn: Callable[[torch.Tensor, Batch], torch.Tensor]


#: ``fn(discriminator, fake, batch) -> {name: scalar}``: the G phase's adversarial terms in place of
#: ``train.loss``'s generator term and feature matching (e.g. a REINFORCE objective on sampled tokens). The
#: discriminator is frozen and unwrapped; the extra losses are still added.
GeneratorObjective = Callable[[nn.Module, torch.Tensor, "Batch"], dict[str, torch.Tensor]]


@dataclass
class ValidationContext:
    """What a validation callback receives. ``writer`` is a TensorBoard SummaryWriter (None off the main process)."""

    generator: nn.Module  # the EMA generator (or G without EMA), in eval mode
    step: int
    run_dir: Path
    writer: Any
    device: torch.device
    # this process's time in training steps so far (validation and checkpoints excluded), kept across --resume;
    # CPU seconds count every thread of this process (not DataLoader worker processes)
    train_cpu_seconds: float = 0.0
    train_wall_seconds: float = 0.0


@dataclass
class TrainResult:
    """How a run ended."""

    step: int
    stop_reason: str  # "max_steps", "early_stopping", "time_budget" or a callback's reason
    best_metric: float | None
    best_step: int
    export_dir: Path | None
    last_metrics: dict = field(default_factory=dict)


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze (False) or unfreeze (True) every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(flag)


class Trainer(RunState):
    """Trains ``generator`` against ``discriminator`` on ``dataset`` (items: dicts with ``real`` and maybe ``cond``)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, cfg: TrainConfig, dataset: Dataset,
                 run_dir: str | Path, extra_losses: Sequence[ExtraLoss] = (),
                 validate: Callable[[ValidationContext], dict] | None = None,
                 collate_fn: Callable = default_collate, runtime: Runtime | None = None, meta: dict | None = None,
                 callbacks: Sequence[Callback] = (), g_objective: GeneratorObjective | None = None):
        self.cfg, self.run_dir, self.validate_fn = cfg, Path(run_dir), validate
        self.g_objective = g_objective
        self.extra_losses, self.meta = list(extra_losses), meta or {}
        self.callbacks = list(callbacks) + ([TimeBudget(cfg.max_minutes)] if cfg.max_minutes else [])
        self.rt = runtime or Runtime.create(cfg)
        self.loss = L.LOSSES[cfg.loss]
        dev = self.rt.device
        self.G, self.D = generator.to(dev), discriminator.to(dev)
        self.G_ddp, self.D_ddp = self.rt.wrap(self.G), self.rt.wrap(self.D)  # DDP: rank 0's weights everywhere
        rng.seed_process(cfg.seed, self.rt.rank, self.rt.world_size)  # ...but each rank its own noise
        self.opt_g = build_optimizer(self.G.parameters(), cfg.g_lr, cfg)
        self.opt_d = build_optimizer(self.D.parameters(), cfg.d_lr, cfg, lazy_regularization_ratio(cfg))
        self.sched_g, self.sched_d = build_scheduler(self.opt_g, cfg), build_scheduler(self.opt_d, cfg)
        self.amp = MixedPrecision(cfg.mixed_precision, dev)
        self.scaler_g, self.scaler_d = self.amp.grad_scaler(), self.amp.grad_scaler()
        self.guard = DivergenceGuard(cfg.max_skipped_steps)
        self.ema = build_ema(self.G, cfg.ema_decay)
        self.source = BatchSource(dataset, cfg.batch_size, cfg.seed, self.rt.rank, self.rt.world_size,
                                  cfg.num_workers, collate_fn)
        self.stopper = EarlyStopping(cfg.early_stop_metric, cfg.early_stop_mode, cfg.patience)
        self.step, self.d_steps = 0, 0
        self.compute = {"cpu_seconds": 0.0, "wall_seconds": 0.0}  # in train_step, cumulative over resumes
        self.d_skipped = self.g_skipped = False  # did the fp16 scaler skip this step's D / G update?
        self.ckpt_root = self.run_dir / "checkpoints"
        self.writer = None

    # --- one iteration ------------------------------------------------------------------------------------

    def _next_batches(self) -> list[Batch]:
        return [self.rt.to_device(next(self.source)) for _ in range(self.cfg.grad_accum)]

    def _generate(self, batch: Batch, model: nn.Module) -> torch.Tensor:
        noise = self.G.sample_noise(batch["real"].shape[0], self.rt.device)
        with self.amp.autocast():
            return model(noise, batch.get("cond"))

    def d_phase(self, batches: list[Batch], fakes: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """One discriminator update on ``batches`` against (detached) ``fakes``; sets ``self.d_skipped``."""
        cfg, D = self.cfg, self.D_ddp
        set_requires_grad(self.G, False)
        self.opt_d.zero_grad(set_to_none=True)
        reg_now = self.d_steps % cfg.reg_every == 0
        r1, r2 = (cfg.r1_gamma, cfg.r2_gamma) if reg_now else (0.0, 0.0)
        gp = cfg.gp_weight if reg_now else 0.0
        grad_scale = penalty_scale(self.scaler_d)  # fp16: bounded, so penalty gradients cannot overflow
        out: dict[str, torch.Tensor] = {}
        for i, (batch, fake) in enumerate(zip(batches, fakes)):
            real, cond = batch["real"], batch.get("cond")
            real = real.detach().requires_grad_(r1 > 0)
            fake = fake.detach().requires_grad_(r2 > 0)
            with self.rt.sync(D, i == len(batches) - 1):
                with self.amp.autocast():
                    real_out, fake_out = D(real, cond), D(fake, cond)
                terms = {"d_adv": L.discriminator_loss(cfg.loss, real_out, fake_out, cfg.loss_reduction)}
                if r1 > 0:
                    terms["d_r1"] = r1 / 2 * cfg.reg_every * R.r1_penalty(real_out, real, grad_scale)
                if r2 > 0:
                    terms["d_r2"] = r2 / 2 * cfg.reg_every * R.r2_penalty(fake_out, fake, grad_scale)
                if gp > 0:
                    with self.amp.autocast():
                        pen = R.wgan_gp_penalty(lambda x: D(x, cond), real, fake, grad_scale)
                    terms["d_gp"] = gp * cfg.reg_every * pen
                total = sum(terms.values()) / len(batches)
                self.scaler_d.scale(total).backward()
            for k, v in terms.items():
                out[k] = out.get(k, 0) + v.detach() / len(batches)
        self.d_skipped = step_optimizer(self.opt_d, self.scaler_d, self.D.parameters(), cfg.grad_clip)
        set_requires_grad(self.G, True)
        self.d_steps += 1
        return out

    def g_phase(self, batches: list[Batch], fakes: list[torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """One generator update; ``fakes`` (with graph) are reused when given, else generated here.

        Fresh fakes: one forward and backward per micro-batch, all but the last inside DDP's ``no_sync``.
        Reused fakes were all made before this phase, and DDP decides at *forward* time whether a backward
        all-reduces, so their losses are summed and back-propagated once: a single all-reduce of the whole
        accumulated gradient (the D graphs of every micro-batch are kept until then).
        """
        cfg, n = self.cfg, len(batches)
        set_requires_grad(self.D, False)
        self.opt_g.zero_grad(set_to_none=True)
        out: dict[str, torch.Tensor] = {}
        pending = []  # reused fakes: losses waiting for the one backward
        for i, batch in enumerate(batches):
            if fakes is not None:
                terms = self._g_terms(batch, fakes[i])
                pending.append(sum(terms.values()) / n)
            else:
                with self.rt.sync(self.G_ddp, i == n - 1):
                    terms = self._g_terms(batch, self._generate(batch, self.G_ddp))
                    self.scaler_g.scale(sum(terms.values()) / n).backward()
            for k, v in terms.items():
                out[k] = out.get(k, 0) + v.detach() / n
        if pending:
            self.scaler_g.scale(sum(pending)).backward()
        self.g_skipped = step_optimizer(self.opt_g, self.scaler_g, self.G.parameters(), cfg.grad_clip)
        set_requires_grad(self.D, True)
        if self.ema is not None:
            update_ema(self.ema, self.G, copy=self.step < cfg.ema_start)
        return out

    def _g_terms(self, batch: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The G phase's loss terms for one micro-batch (adversarial once D trains, plus the extra losses)."""
        cfg, terms = self.cfg, {}
        if self.step >= cfg.adv_start_step:
            if self.g_objective is not None:
                terms.update(self.g_objective(self.D, fake, batch))
            else:
                terms.update(self._g_adversarial_terms(batch, fake))
        for extra in self.extra_losses:
            terms[f"g_{extra.name}"] = extra.weight * extra.fn(fake, batch).float()
        if not terms:
            raise MultiganError(f"step {self.step}: the G phase has no loss (adversarial training starts "
                                f"at train.adv_start_step={cfg.adv_start_step} and no extra losses are set)")
        return terms

    def _g_adversarial_terms(self, batch: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg, cond = self.cfg, batch.get("cond")
        need_real = self.loss.needs_real_in_g or cfg.fm_weight > 0
        with self.amp.autocast():
            fake_out = self.D(fake, cond)  # D frozen and unwrapped: no D gradients, no DDP bookkeeping
            if need_real:
                with torch.no_grad():
                    real_out = self.D(batch["real"], cond)
        real_logits = real_out if self.loss.needs_real_in_g else None
        terms = {"g_adv": cfg.adv_weight * L.generator_loss(cfg.loss, fake_out, real_logits, cfg.loss_reduction)}
        if cfg.fm_weight > 0:
            terms["g_fm"] = cfg.fm_weight * R.feature_matching_loss(real_out, fake_out)
        return terms

    def train_step(self) -> dict[str, float]:
        """One full iteration; returns the losses as floats (checked finite)."""
        cfg, losses = self.cfg, {}
        adversarial = self.step >= cfg.adv_start_step
        fakes, self.d_skipped, self.g_skipped = None, False, False
        for c in range(cfg.n_critic if adversarial else 0):
            batches = self._next_batches()
            if cfg.reuse_fakes and c == cfg.n_critic - 1:  # with graph; G's backward comes in the G phase
                fakes = self._reusable_fakes(batches)
            else:
                with torch.no_grad():
                    fakes = [self._generate(b, self.G) for b in batches]
            losses.update(self.d_phase(batches, fakes))
            fakes = fakes if cfg.reuse_fakes else None
        if not adversarial:  # warm-up: no D phase fetched a batch
            batches = self._next_batches()
        losses.update(self.g_phase(batches, fakes))  # same real batch as the last D phase (as HiFi-GAN)
        with warnings.catch_warnings():  # a step the fp16 scaler skipped is still a step of the schedule
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
            self.sched_g.step()
            if adversarial:  # D's schedule starts when D starts training
                self.sched_d.step()
        values = dict(zip(losses, torch.stack([v.float() for v in losses.values()]).tolist()))
        skipped = self.d_skipped or self.g_skipped
        scale = min(self.scaler_d.get_scale(), self.scaler_g.get_scale()) if skipped else None
        self.guard.check(self.step + 1, values, skipped, scale, lambda: str(self._latest_checkpoint() or "none"))
        self.step += 1
        return values

    def _reusable_fakes(self, batches: list[Batch]) -> list[torch.Tensor]:
        """Fakes with G's graph, for the G phase to reuse; only the last forward prepares DDP's all-reduce."""
        fakes = []
        for i, batch in enumerate(batches):
            with self.rt.sync(self.G_ddp, i == len(batches) - 1):
                fakes.append(self._generate(batch, self.G_ddp))
        return fakes

    # --- the run: validation, checkpoints, logging ----------------------------------------------------------

    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when EMA is on, else G: what validation samples from and what gets exported."""
        return self.ema.module if self.ema is not None else self.G

    def run_validation(self) -> dict:
        """Call the validation callback on the main process without touching the training RNG streams."""
        metrics: dict = {}
        if self.rt.is_main and self.validate_fn is not None:
            g = self.sampling_generator
            was_training = g.training
            g.eval()
            with rng.isolated(), torch.no_grad():
                metrics = {k: float(v) for k, v in self.validate_fn(ValidationContext(
                    g, self.step, self.run_dir, self.writer, self.rt.device, self.compute["cpu_seconds"],
                    self.compute["wall_seconds"])).items()}
            g.train(was_training)
            for k, v in metrics.items():
                self.writer.add_scalar(f"val/{k}", v, self.step)
            with (self.run_dir / "validation.jsonl").open("a") as fh:
                fh.write(json.dumps({"step": self.step, **metrics}) + "\n")
        return self.rt.from_main(metrics)

    def _after_validation(self, metrics: dict) -> bool:
        """Best-checkpoint keeping and early stopping; returns True when training should stop."""
        if not self.cfg.early_stop_metric:
            return False
        if self.stopper.update(metrics, self.step):
            log.info("step %d: new best %s = %.4g", self.step, self.stopper.metric, self.stopper.best)
            self.save()
            if self.rt.is_main:
                self.export()
        return self.stopper.should_stop

    def _log_step(self, losses: dict[str, float], bar, rate: float) -> None:
        cfg = self.cfg
        bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
        if bar.disable and self.rt.is_main:  # no progress bar (logs to a file): a log line instead
            log.info("step %d/%d %.2f steps/s %s", self.step, cfg.max_steps, rate,
                     " ".join(f"{k}={v:.3g}" for k, v in losses.items()))
        if self.writer is not None:
            for k, v in losses.items():
                self.writer.add_scalar(f"loss/{k}", v, self.step)
            self.writer.add_scalar("perf/steps_per_s", rate, self.step)
            self.writer.add_scalar("lr/g", self.sched_g.get_last_lr()[0], self.step)

    def _validate(self) -> tuple[dict, str | None]:
        """A scheduled validation, early stopping, then the callbacks; returns the metrics and a stop reason."""
        metrics = self.run_validation()
        if self._after_validation(metrics):
            log.info("early stop at step %d: %s has not improved for %d validations (best %.4g at step %d)",
                     self.step, self.cfg.early_stop_metric, self.cfg.patience, self.stopper.best,
                     self.stopper.best_step)
            return metrics, "early_stopping"
        return metrics, self._ask_callbacks("on_validation_end", metrics)

    def _ask_callbacks(self, hook: str, arg: dict) -> str | None:
        """Call ``hook`` on every callback (all of them, in order); the first stop reason wins."""
        reasons = [getattr(cb, hook)(self, arg) for cb in self.callbacks]
        return next((r for r in reasons if r), None)

    def fit(self, resume: bool = False) -> TrainResult:
        """Train until ``max_steps``, early stopping or a callback's stop reason.

        ``resume`` first restores the latest checkpoint of the run directory (if any).
        """
        cfg = self.cfg
        if resume and (latest := self._latest_checkpoint()) is not None:
            self.load_state_dict(ckpt.load_checkpoint(latest))
            log.info("resumed from %s (step %d)", latest, self.step)
        if self.rt.is_main:  # what a killed earlier attempt left (also one killed before its first checkpoint)
            self._repair_after_crash()
        if self.rt.is_main:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(self.run_dir / "logs"), purge_step=self.step or None)
        bar = tqdm(total=cfg.max_steps, initial=self.step, disable=not (cfg.progress and self.rt.is_main),
                   desc=self.run_dir.name, dynamic_ncols=True)
        reason, metrics, t0, s0 = None, {}, time.perf_counter(), self.step
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.step < cfg.max_steps and reason is None:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                losses = self.train_step()
                self.compute["cpu_seconds"] += time.process_time() - cpu0
                self.compute["wall_seconds"] += time.perf_counter() - wall0
                bar.update(1)
                reason = self._ask_callbacks("on_step_end", losses)
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self._log_step(losses, bar, (self.step - s0) / max(time.perf_counter() - t0, 1e-9))
                if reason is None and cfg.val_every and self.step % cfg.val_every == 0:  # resume-exact schedule
                    metrics, reason = self._validate()
                if self.step % cfg.ckpt_every == 0 or self.step == cfg.max_steps or reason is not None:
                    if (latest := self._latest_checkpoint()) is None or latest.name != f"step-{self.step:08d}":
                        self.save()
        finally:
            bar.close()
            if self.writer is not None:
                self.writer.flush()
        export_dir = self.run_dir / "export"
        if self.rt.is_main and (self.stopper.best is None or not export_dir.exists()):
            self.export()  # without a watched metric the final EMA generator is the export
        self.rt.barrier()
        return TrainResult(self.step, reason or "max_steps", self.stopper.best, self.stopper.best_step, export_dir,
                           metrics)
