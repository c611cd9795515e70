"""What makes a run resumable, on the trainer: its full state, checkpoints, the export, and repair after a crash.

:class:`RunState` is a base of :class:`multigan.trainer.Trainer` and uses its attributes (``G``, ``D``,
``ema``, the optimizers, schedulers and scalers, ``stopper``, ``guard``, ``source``, ``rt``, ``cfg``,
``run_dir``, ``ckpt_root``, ``meta``, ``step``, ``d_steps``); the training loop itself stays in trainer.py.
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import torch
from torch import nn

from . import checkpoint as ckpt
from . import rng, run_repair
from .errors import MultiganError
from .export import check_tensors

log = logging.getLogger("multigan")


def _model_kind(module: nn.Module) -> str:
    inner = getattr(module, "module", module)  # a DDP wrapper's model
    net = getattr(inner, "net", None)
    return type(inner).__name__ + (f" of {type(net).__name__}" if isinstance(net, nn.Module) else "")


def _run_kind(checkpoint: Path) -> str:
    """What kind of run a checkpoint comes from, read from its run's export (``a run of another kind`` if none)."""
    for folder in (checkpoint, *checkpoint.parents[:3]):
        description = folder / "export" / "generator.json"
        if description.is_file():
            try:
                cls = json.loads(description.read_text()).get("class", "")
            except (OSError, ValueError, AttributeError):
                break
            if isinstance(cls, str) and cls:
                return "a run of " + cls.rpartition(":")[2]
            break
    return "a run of another kind"


class RunState:
    """Checkpointing, export and crash repair of a :class:`~multigan.trainer.Trainer`."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: models, EMA, optimizers, schedulers, scalers, data, RNG."""
        state = {
            "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "step": self.step, "d_steps": self.d_steps, "early_stopping": self.stopper.state_dict(),
            "divergence_guard": self.guard.state_dict(), "compute": dict(self.compute),
            "rng": self.rt.gather(rng.capture()), "data": self.rt.gather(self.source.state_dict()),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (from the same number of processes)."""
        if len(state["rng"]) != self.rt.world_size:
            raise MultiganError(f"the checkpoint was written by {len(state['rng'])} processes; resume it with "
                                f"the same number (now {self.rt.world_size})")
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        for name in ("opt_g", "opt_d", "sched_g", "sched_d", "scaler_g", "scaler_d"):
            getattr(self, name).load_state_dict(state[name])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.d_steps = int(state["step"]), int(state["d_steps"])
        self.stopper.load_state_dict(state["early_stopping"])
        self.guard.load_state_dict(state.get("divergence_guard", {}))
        self.compute = {**self.compute, **state.get("compute", {})}
        self.source.load_state_dict(state["data"][self.rt.rank])
        rng.restore(state["rng"][self.rt.rank])

    def init_weights_from(self, path: str | Path) -> Path:
        """Start from another run's weights (G, D, EMA) with fresh optimizers -- fine-tuning, not resuming.

        ``path`` is a run directory (its latest checkpoint is used) or a checkpoint folder.
        """
        path = Path(path)
        if not (path / ckpt.STATE_FILE).is_file():
            found = ckpt.list_checkpoints(path / "checkpoints")
            if not found:
                raise ckpt.CheckpointError(f"--init-from {path}: no checkpoint found (a run directory or a "
                                           "checkpoints/step-* folder is expected)")
            path = found[-1][1]
        state = ckpt.load_checkpoint(path)
        source = _run_kind(path)
        for key, module, what in (("generator", self.G, "G"), ("discriminator", self.D, "D")):
            check_tensors(state.get(key, {}), module.state_dict(), f"--init-from {path}",
                          f"this run's {what} ({_model_kind(module)}; {path} holds {source})")
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        if self.ema is not None:
            self.ema.load_state_dict(state.get("ema") or {"module." + k: v for k, v in state["generator"].items()}
                                     | {"n_averaged": torch.tensor(0)})
        log.info("initialised G and D from %s", path)
        return path

    def _latest_checkpoint(self) -> Path | None:
        found = ckpt.list_checkpoints(self.ckpt_root)
        return found[-1][1] if found else None

    def save(self) -> None:
        """Write a checkpoint of the current step (main process) and prune old ones, keeping the best."""
        state = self.state_dict()  # every process takes part (RNG and data positions are gathered)
        if self.rt.is_main:
            ckpt.save_checkpoint(self.ckpt_root, self.step, state)
            best = {self.stopper.best_step} if self.stopper.best_step >= 0 else set()
            ckpt.prune_checkpoints(self.ckpt_root, self.cfg.keep_last, protect=best)
        self.rt.barrier()

    def export(self, generator: nn.Module | None = None, step: int | None = None) -> Path:
        """Export the sampling (EMA) generator (or ``generator``, taken at ``step``) to ``run_dir/export``."""
        meta = {"step": self.step if step is None else step, **self.meta}
        if self.stopper.best is not None:
            meta.update(best_metric=self.stopper.metric, best_value=self.stopper.best)
        return ckpt.export_generator(generator or self.sampling_generator, self.run_dir / "export", meta)

    def _repair_after_crash(self) -> None:
        """Before training (main process): drop what a killed run left -- staging folders, validation rows
        after the step training starts from -- and re-export the best checkpoint when the export is stale."""
        run_repair.remove_interrupted_writes(self.run_dir, self.ckpt_root)
        run_repair.drop_validation_rows_after(self.run_dir / "validation.jsonl", self.step)
        best = self.stopper.best_step
        if best < 0 or run_repair.export_step(self.run_dir / "export") == best:
            return
        state = ckpt.load_checkpoint(self.ckpt_root / f"step-{best:08d}")  # the best is never pruned
        generator = copy.deepcopy(self.sampling_generator)
        if self.ema is not None:
            generator.load_state_dict({k[len("module."):]: v for k, v in state["ema"].items()
                                       if k.startswith("module.")})
        else:
            generator.load_state_dict(state["generator"])
        self.export(generator, best)
        log.warning("the export did not hold the best checkpoint (step %d; the last run stopped between the "
                    "two): exported it again", best)
