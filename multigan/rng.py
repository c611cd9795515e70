"""Capture and restore every random number generator the training loop touches."""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def capture() -> dict:
    """The states of Python's, NumPy's, torch's CPU and (if present) CUDA generators."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    """Put back states returned by :func:`capture` (also after a JSON/safetensors round trip)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def mix_seed(*values: int) -> int:
    """A deterministic 63-bit seed from integers (splitmix-style): independent streams from one seed."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (v + 0x9E3779B97F4A7C15 + (x << 6) + (x >> 2))) & 0xFFFFFFFFFFFFFFFF
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


def seed_process(seed: int, rank: int, world_size: int) -> None:
    """Give this process its own random streams: ``(seed, rank)`` with several processes, untouched with one.

    With one seed on every rank, every rank would draw the same noise, GP interpolation weights, dropout
    masks and Gumbel noise: D would see one fake batch N times. A single process keeps the streams it has
    (seeded by the recipe from ``seed`` alone), so its trajectory does not depend on this call.
    """
    if world_size > 1:
        seed_everything(mix_seed(seed, rank, world_size))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def isolated() -> Iterator[None]:
    """Run a block (validation, sampling) without changing any generator's state outside it."""
    state = capture()
    try:
        yield
    finally:
        restore(state)
