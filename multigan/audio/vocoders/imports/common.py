"""What every checkpoint import shares: reading, checking and mapping the files, writing the run, saying what it did.

An import turns published files into a multigan run directory: ``export/`` (a
:class:`~multigan.audio.vocoders.vocoder.Vocoder` export), ``checkpoints/step-00000000/`` (for ``--init-from``,
see :mod:`multigan.audio.vocoders.init`) and ``finetune.yaml`` (the recipe sections that rebuild the networks).
Torch files are read with ``torch.load(path, map_location="cpu", weights_only=True)`` only
(:func:`~multigan.audio.safe_torch.read_torch_file`); every problem is one :class:`CheckpointImportError` (or
:class:`~multigan.audio.safe_torch.TorchFileError`) naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .... import checkpoint as ckpt
from ....config import ConfigError, coerce, save_yaml
from ....errors import MultiganError
from ...safe_torch import read_torch_file

__all__ = ["CheckpointImportError", "ImportResult", "check_finite", "check_out", "load_mapped", "map_optimizer_state",
           "print_import", "read_torch_file", "tensor_dict", "typed_settings", "write_run"]

PathLike = Union[str, os.PathLike]


class CheckpointImportError(MultiganError):
    """A file to import is unusable (missing keys, wrong shapes, a config that does not fit)."""


@dataclass
class ImportResult:
    """What :func:`import_hifigan` wrote."""

    out: Path
    generator: dict
    mel: dict
    discriminator: Optional[dict] = None
    optimizers: bool = False
    reference_steps: Optional[int] = None
    notes: list[str] = field(default_factory=list)


def check_out(out: Path) -> None:
    """``--out`` must be new or empty (an import never mixes with another run)."""
    if out.exists() and any(out.iterdir()):
        raise CheckpointImportError(f"--out {out}: exists and is not empty; choose a new run directory")


def typed_settings(values: Mapping[str, Any], types: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The entries of ``values`` named in ``types`` (key -> annotation), each checked as strictly as multigan's
    own config (:func:`multigan.config.coerce`: 32.7 is not a channel count, "256" and true are not sizes, ranges
    apply); absent keys are left out. Raises :class:`CheckpointImportError` naming ``where`` and the key."""
    out = {}
    for key, annotation in types.items():
        if key in values:
            try:
                out[key] = coerce(values[key], annotation, key)
            except ConfigError as exc:
                raise CheckpointImportError(f"{where}: {exc}") from None
    return out


def check_finite(tensors: Mapping[str, Tensor], path: Path, what: str) -> None:
    """Every floating tensor of an import must be finite: NaN or inf weights would vocode silence or noise."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointImportError(f"{what} {path}: tensor {name!r} holds {bad} non-finite value(s) (NaN or "
                                        "inf): the checkpoint is broken (a diverged run or a damaged file)")


def tensor_dict(obj: Any, key: str, path: Path, what: str, layout: str) -> dict[str, Tensor]:
    """``obj[key]``, checked to be a state dict (names to tensors)."""
    if not isinstance(obj, Mapping) or key not in obj:
        found = sorted(map(str, obj))[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointImportError(f"{what} {path}: expected {layout} with key {key!r}, found {found}")
    sd = obj[key]
    if not isinstance(sd, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in sd.items()):
        raise CheckpointImportError(f"{what} {path}: {key!r} is not a state dict of tensors")
    check_finite(sd, path, what)
    return dict(sd)


def load_mapped(module: nn.Module, mapped: dict[str, Tensor], path: Path, what: str, hint: str) -> None:
    """Load ``mapped`` (multigan names) into ``module``; any missing, extra or misshapen tensor is one error."""
    own = module.state_dict()
    missing = [k for k in own if k not in mapped]
    unexpected = [k for k in mapped if k not in own]
    shapes = [f"{k} {tuple(mapped[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in mapped and mapped[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing (e.g. {missing[:3]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})" if unexpected else "",
                 f"{len(shapes)} of other shape (e.g. {shapes[:2]})" if shapes else ""]
        raise CheckpointImportError(f"{what} {path}: the tensors do not fit {hint}: "
                                    + "; ".join(p for p in parts if p))
    module.load_state_dict(mapped)


def map_optimizer_state(opt: Any, ref_names: Sequence[str], module: nn.Module, path: Path, what: str) -> dict:
    """A reference optimizer ``state_dict`` re-indexed onto ``module.parameters()`` order.

    ``ref_names`` are multigan's names of the reference optimizer's parameters, in the reference's order. The
    per-parameter states (AdamW's ``step``, ``exp_avg``, ``exp_avg_sq``) move to the index of the same
    parameter in ``module``; the hyper-parameters of the reference's first group are kept for the record.
    """
    if not isinstance(opt, Mapping) or not isinstance(opt.get("state"), Mapping) \
            or not isinstance(opt.get("param_groups"), list) or not opt["param_groups"]:
        raise CheckpointImportError(f"{what} {path}: not an optimizer state_dict (needs 'state' and 'param_groups')")
    ids = [i for g in opt["param_groups"] for i in g.get("params", [])]
    if len(ids) != len(ref_names):
        raise CheckpointImportError(f"{what} {path}: the optimizer holds {len(ids)} parameters but the networks "
                                    f"have {len(ref_names)}")
    params = dict(module.named_parameters())
    index = {name: j for j, name in enumerate(params)}
    state: dict[int, dict] = {}
    for pid, name in zip(ids, ref_names):
        if pid not in opt["state"]:
            continue
        entry = dict(opt["state"][pid])
        for key in ("exp_avg", "exp_avg_sq"):
            if key in entry and tuple(entry[key].shape) != tuple(params[name].shape):
                raise CheckpointImportError(f"{what} {path}: optimizer {key} of {name} has shape "
                                            f"{tuple(entry[key].shape)}, the parameter {tuple(params[name].shape)}")
        if "step" in entry:
            entry["step"] = torch.as_tensor(float(entry["step"]), dtype=torch.float32)
        state[index[name]] = entry
    group = {k: v for k, v in opt["param_groups"][0].items() if k != "params"}
    return {"state": state, "param_groups": [{**group, "params": list(range(len(params)))}]}


def write_run(out: Path, vocoder: nn.Module, meta: dict, state: dict, sections: dict) -> None:
    """Write the run directory ``out``: the export, the step-0 checkpoint ``state`` and ``finetune.yaml``."""
    out.mkdir(parents=True, exist_ok=True)
    ckpt.export_generator(vocoder, out / "export", meta)
    ckpt.save_checkpoint(out / "checkpoints", 0, state)
    save_yaml(sections, out / "finetune.yaml")


def print_import(result: ImportResult, what: str, family: str, recipe: Optional[str] = None) -> None:
    """Say what an import wrote, its notes, and the commands that vocode with it and fine-tune it.

    ``recipe`` is the command of a vocoder recipe to fine-tune with (e.g. a script and its preset); without one
    the command names a placeholder: any recipe whose ``generator`` section is of the ``family`` family.
    """
    print(f"imported {what} into {result.out}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"vocode:    multigan vocode {result.out} --mel MEL.npy -o out.wav")
    print(f"fine-tune: python {recipe or 'RECIPE.py'} --config {result.out / 'finetune.yaml'} --data WAV_FOLDER "
          f"--out runs/finetuned --init-from {result.out}")
    if recipe is None:
        print(f"           (RECIPE.py: a vocoder recipe of the {family} generator family)")
