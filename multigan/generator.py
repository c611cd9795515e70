"""The generator contract and :func:`load`, which rebuilds an exported generator without unpickling."""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from .checkpoint import CheckpointError
from .errors import MultiganError


class ExportableGenerator(nn.Module):
    """Base class for generators the trainer can export and :func:`load` can rebuild.

    Subclasses call ``super().__init__(**their_constructor_kwargs)`` -- the kwargs are kept in
    ``self.config`` (JSON-serialisable) and passed back to the constructor by :func:`load`. They implement
    ``forward(noise, cond=None)`` and ``sample_noise(batch, device)`` (return ``None`` when the model is purely
    conditional, e.g. a vocoder). Optional: ``export_assets(folder)`` / ``load_assets(folder)``.

    ``sample_options`` names the keyword options its ``write_samples`` accepts besides ``n``, ``out`` and
    ``seed`` (``multigan generate`` refuses the others with one clear error).
    """

    sample_options: tuple[str, ...] = ()

    def __init__(self, **config: Any):
        super().__init__()
        json.dumps(config)  # fail early, with the offending value, if a kwarg cannot be exported
        self.config = dict(config)

    def export_config(self) -> dict:
        """Constructor arguments that rebuild this generator."""
        return dict(self.config)

    def sample_noise(self, batch: int, device: torch.device | str = "cpu",
                     generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Latent noise for ``batch`` samples (None for purely conditional generators)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Device of the first parameter (CPU for a parameter-less module)."""
        return next(self.parameters(), torch.empty(0)).device


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


def _import_class(spec: str, allow_external: bool) -> type:
    """The generator class an export names as ``module:qualname``.

    Without ``allow_external`` only classes *defined* in a multigan module and derived from
    :class:`ExportableGenerator` are accepted: an attribute path through imported names (e.g.
    ``multigan.generator:torch.nn.Linear``) or any other class is refused before anything is built.
    """
    module_name, _, qualname = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not module_name or not qualname:
        raise CheckpointError(f"the export's class {spec!r} is not of the form 'module:Class'")
    inside = module_name == "multigan" or module_name.startswith("multigan.")
    if not allow_external and not inside:
        raise CheckpointError(f"the export names class {spec!r} from outside multigan; pass allow_external=True "
                              "if you trust it (its module will be imported)")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"cannot import generator class {spec!r}: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise CheckpointError(f"{spec!r} is not an nn.Module class")
    if not allow_external and not (issubclass(obj, ExportableGenerator) and obj.__module__.startswith("multigan")):
        raise CheckpointError(f"{spec!r} is not one of multigan's exportable generators (it resolves to "
                              f"{obj.__module__}.{obj.__qualname__}); pass allow_external=True if you trust it")
    return obj


def _read_export_info(folder: Path) -> dict:
    """``generator.json`` checked for shape: a mapping with a class name, a config mapping and meta."""
    path = folder / "generator.json"
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


def load(path: str | Path, device: str | torch.device = "cpu", allow_external: bool = False) -> nn.Module:
    """Rebuild the exported (EMA) generator of a run directory or export folder, in eval mode.

    Only safetensors and JSON are read, never pickle. The result is the generator ``nn.Module`` with its
    modality's generation methods (e.g. ``generate``). The global random streams are left as they were
    (building the module draws initial weights that the export then replaces): loading a model inside a
    training run does not change that run's noise.
    """
    folder = resolve_export_dir(path)
    info = _read_export_info(folder)
    cls = _import_class(info["class"], allow_external)
    try:
        with torch.random.fork_rng(devices=[]):
            model = cls(**info.get("config", {}))
    except (TypeError, ValueError, MultiganError) as exc:
        raise CheckpointError(f"{folder / 'generator.json'}: its config does not build {info['class']}: {exc}") \
            from None
    weights = folder / "generator.safetensors"
    try:
        state = load_file(str(weights))
    except FileNotFoundError:
        raise CheckpointError(f"{weights} is missing: the export is incomplete") from None
    except Exception as exc:  # safetensors raises its own error types for truncated or corrupt files
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches raise even with strict=False
        raise CheckpointError(f"{folder}: weights do not match {info['class']}: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(f"{folder}: weights do not match {info['class']} "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    assets = getattr(model, "load_assets", None)
    if callable(assets):
        assets(folder)
    model.export_meta = info.get("meta", {})
    return model.to(device).eval()
