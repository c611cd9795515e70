"""Devices and processes, through accelerate: one process or many (torchrun/accelerate launch), CPU or GPU.

The generator and the discriminator are wrapped in *separate* DistributedDataParallel modules. The trainer
calls each wrapper only in its own phase (the frozen network is called unwrapped), so DDP never waits for
gradients that a frozen network does not produce.
"""
from __future__ import annotations

import inspect
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .errors import MultiganError
from .train_config import TrainConfig

log = logging.getLogger("multigan")
_DDP_ARGS = inspect.signature(DistributedDataParallel.__init__).parameters


def is_main_process() -> bool:
    """Is this the main process (rank 0, or no launcher)? Usable before a :class:`Runtime` exists."""
    import os
    return int(os.environ.get("RANK", "0")) == 0


@dataclass
class Runtime:
    """The accelerator plus the few verbs the trainer needs."""

    accelerator: Accelerator

    @classmethod
    def create(cls, cfg: TrainConfig) -> "Runtime":
        """An accelerator for ``cfg.device``; mixed precision is handled by the trainer itself."""
        if cfg.device == "cuda" and not torch.cuda.is_available():
            raise MultiganError("train.device=cuda but no CUDA device is available; use train.device=auto or cpu")
        if cfg.cpu_threads:
            torch.set_num_threads(cfg.cpu_threads)
        # device=auto without CUDA must still be cpu=True: accelerate otherwise ignores torchrun's WORLD_SIZE
        # on a CPU-only machine, and every process trains alone into the same run directory
        on_cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
        runtime = cls(Accelerator(cpu=on_cpu, mixed_precision="no"))
        if cfg.mixed_precision == "fp16" and runtime.device.type == "cpu":
            log.warning("train.mixed_precision=fp16 on the CPU is slow (meant for tests); use bf16 on the CPU")
        return runtime

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world_size(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP-wrap ``model`` when several processes run; the model itself otherwise."""
        if self.world_size == 1:
            return model
        # buffers are not synchronised on every forward (our discriminators use no BatchNorm)
        no_buffer_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_ARGS
                          else {"broadcast_buffers": False})
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, **no_buffer_sync)

    def sync(self, wrapped: nn.Module, last_micro_batch: bool):
        """Skip the gradient all-reduce on every micro-batch but the last of a phase."""
        if self.world_size > 1 and not last_micro_batch and hasattr(wrapped, "no_sync"):
            return wrapped.no_sync()
        return nullcontext()

    def to_device(self, batch: Any) -> Any:
        """Move a batch (tensors, dicts, lists) to this process's device."""
        if isinstance(batch, torch.Tensor):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.to_device(v) for v in batch)
        return batch

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def gather(self, obj: Any) -> list:
        """Every process's ``obj``, in rank order (a one-item list in a single process)."""
        return gather_object([obj]) if self.world_size > 1 else [obj]

    def from_main(self, obj: Any) -> Any:
        """The main process's ``obj`` on every process."""
        if self.world_size == 1:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]
