"""Resumable, reproducible batches for the trainer.

:class:`BatchSource` draws an epoch's order from ``(seed, epoch)``, gives each process its share, and
re-seeds torch's RNG per batch (from ``(seed, epoch, batch index)``) while the dataset builds it, so random
crops and augmentations do not depend on worker count, prefetching or where a run was resumed. Its state is
two integers: the epoch and the number of batches consumed in it.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from .errors import MultiganError
from .rng import mix_seed as _mix


class DataError(MultiganError, ValueError):
    """The dataset cannot feed the configured batches."""


class _SeededFetch(Dataset):
    """Wraps a dataset: a 'batch index' is ``[(item, seed), ...]``; items are fetched under that seed."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitems__(self, pairs: Sequence[tuple[int, int]]) -> list:
        indices = [i for i, _ in pairs]
        seed = pairs[0][1]
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
            try:
                getitems = getattr(self.dataset, "__getitems__", None)
                return list(getitems(indices)) if getitems else [self.dataset[i] for i in indices]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)


class BatchSource:
    """An endless, resumable stream of batches from a map-style dataset.

    Each process (``rank`` of ``world_size``) takes every ``world_size``-th batch of the epoch's shuffled
    order; incomplete batches are dropped. ``state_dict()`` / ``load_state_dict()`` record the position.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] = default_collate,
        shuffle: bool = True,
    ):
        n = len(dataset)  # type: ignore[arg-type]
        if n < batch_size * world_size:
            raise DataError(
                f"the dataset has {n} items, fewer than one batch per process "
                f"(batch_size {batch_size} x {world_size} processes): lower train.batch_size or add data"
            )
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.collate_fn, self.shuffle = collate_fn, shuffle
        self.epoch, self.position = 0, 0
        self._fetch = _SeededFetch(dataset)
        self._iter: Iterator | None = None

    def batches_per_epoch(self) -> int:
        """Batches this process sees per epoch."""
        return len(self.dataset) // (self.batch_size * self.world_size)  # type: ignore[arg-type]

    def _epoch_plan(self, epoch: int) -> list[list[tuple[int, int]]]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(_mix(self.seed, epoch))).tolist()
        else:
            order = list(range(n))
        plan = []
        for b in range(self.batches_per_epoch()):
            global_b = b * self.world_size + self.rank
            items = order[global_b * self.batch_size:(global_b + 1) * self.batch_size]
            seed = _mix(self.seed, epoch, global_b, 1)
            plan.append([(i, seed) for i in items])
        return plan

    def _start(self) -> None:
        plan = self._epoch_plan(self.epoch)[self.position:]
        if self.num_workers == 0:
            self._iter = (self.collate_fn(self._fetch.__getitems__(p)) for p in plan)
        else:
            loader = DataLoader(self._fetch, batch_sampler=plan, num_workers=self.num_workers,
                                collate_fn=self.collate_fn, persistent_workers=False)
            self._iter = iter(loader)

    def __iter__(self) -> "BatchSource":
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._start()
        while True:
            try:
                batch = next(self._iter)  # type: ignore[arg-type]
                break
            except StopIteration:
                self.epoch, self.position = self.epoch + 1, 0
                self._start()
        self.position += 1
        return batch

    def state_dict(self) -> dict:
        """Position to resume from: epoch and batches consumed in it."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position (the next batch is the one that followed it)."""
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._iter = None
