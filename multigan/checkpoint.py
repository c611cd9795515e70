"""Checkpoints and exports without pickle: safetensors for tensors, JSON for everything else.

A training checkpoint is a folder ``step-XXXXXXXX`` holding ``tensors.safetensors`` and ``state.json`` (the
nested state with every tensor replaced by a reference into the safetensors file). Folders are written
under a temporary name and renamed when complete, so a crash mid-write never leaves a folder that
:func:`list_checkpoints` would pick up.

An export is a folder with ``generator.safetensors`` and ``generator.json`` (the generator's class and
constructor arguments); :func:`multigan.load` rebuilds the generator from it.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .errors import MultiganError
from .files import write_atomically

CHECKPOINT_RE = re.compile(r"^step-(\d{8})$")
TENSORS_FILE, STATE_FILE = "tensors.safetensors", "state.json"


class CheckpointError(MultiganError, RuntimeError):
    """A checkpoint or export folder is missing, incomplete or does not match the model."""


# --- nested state <-> (tensors, JSON skeleton) -------------------------------------------------------------

def flatten_state(obj: Any, tensors: dict[str, torch.Tensor] | None = None, prefix: str = "") -> tuple[Any, dict]:
    """Replace every tensor/array in a nested structure by a reference; return (skeleton, tensors)."""
    tensors = {} if tensors is None else tensors

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):  # stored under a unique name; the path is kept for reading
            name = f"{len(tensors)}:{path}"
            tensors[name] = value.detach().cpu().contiguous().clone()
            return {"__tensor__": name}
        if isinstance(value, np.ndarray):
            name = f"{len(tensors)}:{path}"
            tensors[name] = torch.from_numpy(np.ascontiguousarray(value)).clone()
            return {"__ndarray__": name}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value) and "__items__" not in value:
                return {k: walk(v, f"{path}/{k}") for k, v in value.items()}
            return {"__items__": [[k, walk(v, f"{path}/{k}")] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        raise TypeError(f"cannot store a {type(value).__name__} at {path!r} in a checkpoint")

    return walk(obj, prefix), tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__ndarray__" in skeleton:
            return tensors[skeleton["__ndarray__"]].numpy()
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        if "__items__" in skeleton:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__items__"]}
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# --- training checkpoints -----------------------------------------------------------------------------------

def save_checkpoint(root: str | Path, step: int, state: dict) -> Path:
    """Write ``state`` (nested dicts of tensors and plain values) as ``root/step-XXXXXXXX`` atomically."""
    skeleton, tensors = flatten_state(state)

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / TENSORS_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(skeleton))

    return write_atomically(Path(root) / f"step-{step:08d}", write, folder=True)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint folder written by :func:`save_checkpoint`."""
    path = Path(path)
    if not (path / STATE_FILE).is_file() or not (path / TENSORS_FILE).is_file():
        raise CheckpointError(f"{path} is not a complete checkpoint (needs {STATE_FILE} and {TENSORS_FILE})")
    return unflatten_state(json.loads((path / STATE_FILE).read_text()), load_file(str(path / TENSORS_FILE)))


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as ``(step, path)``, oldest first; temporary folders are ignored."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = CHECKPOINT_RE.match(p.name)
        if m and (p / STATE_FILE).is_file() and (p / TENSORS_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def prune_checkpoints(root: str | Path, keep_last: int, protect: set[int] = frozenset()) -> None:
    """Delete all but the newest ``keep_last`` checkpoints, never those whose step is in ``protect``."""
    ckpts = list_checkpoints(root)
    for step, path in ckpts[:-keep_last] if keep_last > 0 else ckpts:
        if step not in protect:
            shutil.rmtree(path, ignore_errors=True)
    for stale in Path(root).glob(".step-*"):  # leftovers of interrupted writes
        shutil.rmtree(stale, ignore_errors=True)


# --- generator export ---------------------------------------------------------------------------------------

def model_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state_dict as CPU tensors that safetensors accepts (tied weights are copied)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def export_generator(generator: torch.nn.Module, out_dir: str | Path, meta: dict | None = None) -> Path:
    """Write ``generator`` (its class, ``export_config()`` and weights) so that :func:`multigan.load` rebuilds it.

    Generators may define ``export_assets(folder)`` to save extra files (a tokenizer, normalisation stats).
    """
    config_fn = getattr(generator, "export_config", None)
    if not callable(config_fn):
        raise CheckpointError(f"{type(generator).__name__} has no export_config(): derive it from "
                              "multigan.ExportableGenerator or define it to return its constructor arguments")
    cls = type(generator)
    info = {"class": f"{cls.__module__}:{cls.__qualname__}", "config": config_fn(), "meta": meta or {}}

    def write(tmp: Path) -> None:
        save_file(model_tensors(generator), str(tmp / "generator.safetensors"))
        (tmp / "generator.json").write_text(json.dumps(info, indent=2))
        assets = getattr(generator, "export_assets", None)
        if callable(assets):
            assets(tmp)

    return write_atomically(Path(out_dir), write, folder=True)
