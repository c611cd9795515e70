"""The one export gate: every path that opens an exported generator reads it here.

An export is a folder with ``generator.json`` (``{"class": "module:Class", "config": {...}, "meta": {...}}``)
and ``generator.safetensors``. :func:`open_export` checks the description (JSON shape, the class against the
allowlist, old class paths through :data:`CLASS_ALIASES`); :func:`load` then builds the class from its config
and checks the tensors against it (names, shapes, dtypes, finite values) before loading them. ``multigan.load``,
``multigan info``, ``generate``, ``vocode`` and the evaluation commands all come through here, so a truncated,
forged or mis-shaped export is one :class:`~multigan.checkpoint.CheckpointError` naming the file, whichever
command opened it. Only JSON and safetensors are read, never pickle.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load_file
from torch import nn

from .checkpoint import CheckpointError
from .errors import MultiganError
from .generator import ExportableGenerator

__all__ = ["CLASS_ALIASES", "Export", "check_device", "check_tensors", "load", "open_export", "resolve_export_dir"]

#: Class paths that older exports record, mapped to where the class lives now (a moved class keeps loading).
CLASS_ALIASES: dict[str, str] = {
    "multigan.audio.vocoder:Vocoder": "multigan.audio.vocoders.vocoder:Vocoder",
    "multigan.audio.hifigan:HiFiGANGenerator": "multigan.audio.vocoders.hifigan:HiFiGANGenerator",
    "multigan.audio.vocos:VocosGenerator": "multigan.audio.vocoders.vocos:VocosGenerator",
}


@dataclass
class Export:
    """A checked export description: its folder, the resolved class and its constructor arguments."""

    folder: Path
    class_spec: str  # as resolved (after :data:`CLASS_ALIASES`)
    cls: type
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def weights(self) -> Path:
        """The safetensors file of the generator's tensors."""
        return self.folder / "generator.safetensors"

    def describe(self) -> dict:
        """What ``multigan info`` prints."""
        return {"export": str(self.folder), "class": self.class_spec, "config": self.config, "meta": self.meta}


def resolve_export_dir(path: str | Path) -> Path:
    """A run directory's ``export/`` folder, or ``path`` itself when it is an export folder."""
    path = Path(path)
    for candidate in (path, path / "export"):
        if (candidate / "generator.json").is_file():
            return candidate
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    raise CheckpointError(f"{path} holds no exported generator (no generator.json in it or in {path / 'export'}); "
                          "a run exports when training ends")


def _import_class(spec: str, allow_external: bool, where: Path) -> type:
    """The generator class an export names as ``module:qualname``.

    Without ``allow_external`` only classes *defined* in a multigan module and derived from
    :class:`ExportableGenerator` are accepted: an attribute path through imported names (e.g.
    ``multigan.generator:torch.nn.Linear``) or any other class is refused before anything is built.
    """
    module_name, _, qualname = spec.partition(":")
    if not module_name or not qualname:
        raise CheckpointError(f"{where}: the export's class {spec!r} is not of the form 'module:Class'")
    inside = module_name == "multigan" or module_name.startswith("multigan.")
    if not allow_external and not inside:
        raise CheckpointError(f"{where}: the export names class {spec!r} from outside multigan; pass "
                              "allow_external=True if you trust it (its module will be imported)")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"{where}: cannot import generator class {spec!r}: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise CheckpointError(f"{where}: {spec!r} is not an nn.Module class")
    defined_here = obj.__module__ == module_name and obj.__qualname__ == qualname
    if not allow_external and not (issubclass(obj, ExportableGenerator) and obj.__module__.startswith("multigan")
                                   and defined_here):
        raise CheckpointError(f"{where}: {spec!r} is not one of multigan's exportable generators (it resolves to "
                              f"{obj.__module__}.{obj.__qualname__}); pass allow_external=True if you trust it")
    return obj


def _read_description(path: Path) -> dict:
    """``generator.json`` checked for shape: a mapping with a class name, a config mapping and meta."""
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable export description ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("class"), str):
        raise CheckpointError(f"{path}: expected a mapping with a 'class' entry, got {type(info).__name__}"
                              + ("" if not isinstance(info, dict) else " without a class name"))
    if not isinstance(info.get("config", {}), dict) or not isinstance(info.get("meta", {}), dict):
        raise CheckpointError(f"{path}: 'config' and 'meta' must be mappings")
    return info


def open_export(path: str | Path, allow_external: bool = False) -> Export:
    """The checked description of the export in ``path`` (a run directory or an export folder).

    Raises :class:`CheckpointError` naming the file for a missing or unreadable ``generator.json``, a wrong
    JSON shape, or a class outside the allowlist. Nothing is built and no tensor is read.
    """
    folder = resolve_export_dir(path)
    description = folder / "generator.json"
    info = _read_description(description)
    spec = CLASS_ALIASES.get(info["class"], info["class"])
    cls = _import_class(spec, allow_external, description)
    return Export(folder, spec, cls, dict(info.get("config", {})), dict(info.get("meta", {})))


def _read_tensors(weights: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(weights))
    except FileNotFoundError:
        raise CheckpointError(f"{weights} is missing: the export is incomplete") from None
    except Exception as exc:  # safetensors raises its own error types for truncated or corrupt files
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from None


def check_tensors(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], where: Path | str,
                  what: str) -> None:
    """``state`` must hold exactly ``expected``'s tensor names, shapes and kinds of dtype, all finite.

    Raises :class:`CheckpointError` naming ``where`` and the first tensor that differs (one line, not torch's
    multi-line state-dict dump).
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")] \
            if missing else []
        if unexpected:
            parts.append(f"unexpected {unexpected[0]!r}" + (f" and {len(unexpected) - 1} more"
                                                            if len(unexpected) > 1 else ""))
        raise CheckpointError(f"{where}: weights do not match {what} ({', '.join(parts)})")
    for name, want in expected.items():
        got = state[name]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{where}: weights do not match {what} (tensor {name!r} has shape "
                                  f"{list(got.shape)}, the model needs {list(want.shape)})")
        if got.dtype.is_floating_point != want.dtype.is_floating_point or (got.dtype == torch.bool) != \
                (want.dtype == torch.bool):
            raise CheckpointError(f"{where}: weights do not match {what} (tensor {name!r} is {got.dtype}, the "
                                  f"model needs {want.dtype})")
        if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()):
            bad = int((~torch.isfinite(got)).sum())
            raise CheckpointError(f"{where}: tensor {name!r} holds {bad} non-finite value(s) (NaN or inf): the "
                                  "weights are broken (a diverged run or a damaged file)")


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device that exists on this machine; a :class:`MultiganError` naming it otherwise."""
    try:
        found = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise MultiganError(f"device {str(device)!r} is not a device torch knows (use cpu, cuda, cuda:N or mps)") \
            from None
    if found.type == "cuda" and (not torch.cuda.is_available() or (found.index or 0) >= torch.cuda.device_count()):
        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise MultiganError(f"device {str(device)!r}: this machine has {have} usable CUDA GPU(s); use --device cpu")
    if found.type == "mps" and not torch.backends.mps.is_available():
        raise MultiganError(f"device {str(device)!r}: MPS is not available on this machine; use --device cpu")
    return found


def load(path: str | Path, device: str | torch.device = "cpu", allow_external: bool = False) -> nn.Module:
    """Rebuild the exported (EMA) generator of a run directory or export folder, in eval mode.

    Only safetensors and JSON are read, never pickle. The result is the generator ``nn.Module`` with its
    modality's generation methods (e.g. ``generate``). The global random streams are left as they were
    (building the module draws initial weights that the export then replaces): loading a model inside a
    training run does not change that run's noise.
    """
    device = check_device(device)
    export = open_export(path, allow_external)
    try:
        with torch.random.fork_rng(devices=[]):
            model = export.cls(**export.config)
    except (TypeError, ValueError, KeyError, AttributeError, MultiganError) as exc:
        raise CheckpointError(f"{export.folder / 'generator.json'}: its config does not build "
                              f"{export.class_spec}: {exc}") from None
    state = _read_tensors(export.weights)
    if isinstance(model, ExportableGenerator):
        model.match_export(set(state))
    check_tensors(state, model.state_dict(), export.weights, export.class_spec)
    model.load_state_dict(state)
    if isinstance(model, ExportableGenerator):
        try:
            model.check_meta(export.meta)
        except MultiganError as exc:
            raise CheckpointError(f"{export.folder / 'generator.json'}: {exc}") from None
    assets = getattr(model, "load_assets", None)
    if callable(assets):
        assets(export.folder)
    model.export_meta = export.meta
    return model.to(device).eval()
