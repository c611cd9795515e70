"""Import published HiFi-GAN checkpoints (the reference repository's ``g_``/``do_`` files) as a multigan run.

    multigan import-checkpoint hifigan --generator g_02500000 [--discriminator do_02500000] \\
        --config config.json --out runs/hifigan_published

writes into ``--out``:

* ``export/`` -- a normal :class:`~multigan.audio.vocoder.Vocoder` export (safetensors + JSON, weight norm kept
  as parametrizations and folded when loaded, as multigan's own exports), with the config's mel settings;
  ``multigan.load`` and ``multigan vocode`` use it like any trained vocoder.
* ``checkpoints/step-00000000/`` -- G, and when a ``do_`` file is given the MPD + MSD and both AdamW states
  mapped onto multigan's parameter order, for ``--init-from`` (see :mod:`multigan.audio.imported_init`).
* ``finetune.yaml`` -- the recipe sections (``generator``, ``mel``, ``discriminator``) that rebuild these
  networks: ``python recipes/ljspeech_hifigan.py --config RUN/finetune.yaml --init-from RUN ...``.

Files are read with ``torch.load(path, map_location="cpu", weights_only=True)`` only
(:func:`~multigan.audio.safe_torch.read_torch_file`); every problem is one :class:`ImportError_` naming the file.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .. import checkpoint as ckpt
from ..config import save_yaml
from ..errors import MultiganError
from .hifigan import _MSD_CHANNELS, _MSD_LAYERS, HiFiGANConfigError, HiFiGANDiscriminator, _scale_channels
from .hifigan_config import validate_generator_config
from .hifigan_reference import discriminator_widths, map_state, parameter_keys
from .safe_torch import read_torch_file
from .vocoder import Vocoder, VocoderConfigError, mel_settings

__all__ = ["CheckpointImportError", "ImportResult", "import_hifigan", "map_optimizer_state", "read_hifigan_config",
           "register"]

PathLike = Union[str, os.PathLike]

#: The reference config's mel keys and multigan's names for them.
MEL_KEYS: dict[str, str] = {"sampling_rate": "sample_rate", "n_fft": "n_fft", "hop_size": "hop_size",
                            "win_size": "win_size", "num_mels": "n_mels", "fmin": "fmin", "fmax": "fmax"}
GENERATOR_KEYS: tuple[str, ...] = ("resblock", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
                                   "resblock_kernel_sizes", "resblock_dilation_sizes")
_PUBLISHED_MPD = (32, 128, 512, 1024, 1024)


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


def read_hifigan_config(path: PathLike) -> tuple[dict, dict, Optional[float]]:
    """The generator settings, mel settings and ``fmax_for_loss`` of a reference ``config.json``.

    Raises :class:`CheckpointImportError` naming the file (and the keys) when it is unreadable, lacks keys, or
    is inconsistent (e.g. ``prod(upsample_rates) != hop_size``).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointImportError(f"--config {path}: not a readable JSON config ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointImportError(f"--config {path}: expected a JSON object, got {type(data).__name__}")
    missing = [k for k in (*GENERATOR_KEYS, *MEL_KEYS) if k not in data]
    if missing:
        raise CheckpointImportError(f"--config {path}: missing key(s) {missing} (a HiFi-GAN config.json has them)")
    generator = {k: data[k] for k in GENERATOR_KEYS}
    try:
        mel = mel_settings({ours: data[theirs] for theirs, ours in MEL_KEYS.items()})
        validate_generator_config(**generator, hop_size=mel["hop_size"], n_mels=mel["n_mels"])
    except HiFiGANConfigError as exc:
        raise CheckpointImportError(f"--config {path}: {exc} (keys upsample_rates, upsample_kernel_sizes, "
                                    "hop_size)") from None
    except (VocoderConfigError, TypeError, ValueError) as exc:
        raise CheckpointImportError(f"--config {path}: {exc} (keys {', '.join(MEL_KEYS)})") from None
    generator["resblock"] = str(generator["resblock"])
    loss_fmax = data.get("fmax_for_loss")
    return generator, mel, None if loss_fmax is None else float(loss_fmax)


def _tensor_dict(obj: Any, key: str, path: Path, what: str, layout: str) -> dict[str, Tensor]:
    """``obj[key]``, checked to be a state dict (names to tensors)."""
    if not isinstance(obj, Mapping) or key not in obj:
        found = sorted(map(str, obj))[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointImportError(f"{what} {path}: expected {layout} with key {key!r}, found {found}")
    sd = obj[key]
    if not isinstance(sd, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in sd.items()):
        raise CheckpointImportError(f"{what} {path}: {key!r} is not a state dict of tensors")
    return dict(sd)


def _load_mapped(module: nn.Module, mapped: dict[str, Tensor], path: Path, what: str, hint: str) -> None:
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


def _discriminator_scales(widths: dict) -> Optional[dict]:
    """The recipe's ``discriminator`` section for ``widths``, or ``None`` when channel scales cannot express it."""
    mpd, msd = widths["mpd_channels"], widths["msd_channels"]
    if len(mpd) != len(_PUBLISHED_MPD) or len(msd) != len(_MSD_CHANNELS):
        return None
    s_mpd, s_msd = mpd[-1] / _PUBLISHED_MPD[-1], msd[-1] / _MSD_CHANNELS[-1]
    groups = [g for _, _, g, _ in _MSD_LAYERS] + [1]
    multiples = [math.lcm(groups[i], groups[i + 1]) for i in range(len(_MSD_LAYERS))]
    if _scale_channels(_PUBLISHED_MPD, s_mpd, [1] * len(mpd)) != mpd \
            or _scale_channels(_MSD_CHANNELS, s_msd, multiples) != msd:
        return None
    return {"periods": widths["periods"], "num_scales": widths["num_scales"], "mpd_channels_scale": s_mpd,
            "msd_channels_scale": s_msd}


def _check_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise CheckpointImportError(f"--out {out}: exists and is not empty; choose a new run directory")


def import_hifigan(generator: PathLike, config: PathLike, out: PathLike,
                   discriminator: Optional[PathLike] = None) -> ImportResult:
    """Convert reference HiFi-GAN files into the multigan run directory ``out`` (see the module docstring).

    Args:
        generator: a ``g_XXXXXXXX`` file (``{'generator': state_dict}``).
        config: the reference ``config.json`` (generator and mel settings).
        out: a new (or empty) run directory.
        discriminator: optional ``do_XXXXXXXX`` file (``mpd``, ``msd``, ``optim_g``, ``optim_d``, ``steps``, ``epoch``).

    Raises:
        CheckpointImportError / TorchFileError: one message naming the offending file.
    """
    generator, config, out = Path(generator), Path(config), Path(out)
    _check_out(out)
    g_cfg, mel, loss_fmax = read_hifigan_config(config)
    g_file = read_torch_file(generator, "--generator")
    g_ref = _tensor_dict(g_file, "generator", generator, "--generator", "a g_ file {'generator': state_dict}")
    voc = Vocoder(generator=g_cfg, mel=mel, generator_class="hifigan")
    _load_mapped(voc, map_state(g_ref, "net."), generator, "--generator",
                 f"the generator of --config {config} ({g_cfg})")
    result = ImportResult(out, g_cfg, mel)
    state: dict[str, Any] = {"generator": voc.state_dict()}
    if discriminator is not None:
        d_path = Path(discriminator)
        do = read_torch_file(d_path, "--discriminator")
        layout = "a do_ file {'mpd', 'msd', 'optim_g', 'optim_d', 'steps', 'epoch'}"
        mpd = _tensor_dict(do, "mpd", d_path, "--discriminator", layout)
        msd = _tensor_dict(do, "msd", d_path, "--discriminator", layout)
        widths = discriminator_widths(mpd, msd, f"--discriminator {d_path}")
        try:
            disc = HiFiGANDiscriminator(**widths)
        except ValueError as exc:
            raise CheckpointImportError(f"--discriminator {d_path}: unusable widths {widths}: {exc}") from None
        _load_mapped(disc, {**map_state(mpd, "mpd."), **map_state(msd, "msd.")}, d_path, "--discriminator",
                     f"MPD + MSD of widths {widths}")
        state["discriminator"] = disc.state_dict()
        result.discriminator = widths
        if "optim_g" in do and "optim_d" in do:
            g_names = ["net." + k for k in map_state({k: g_ref[k] for k in parameter_keys(g_ref)})]
            d_names = ["msd." + k for k in map_state({k: msd[k] for k in parameter_keys(msd)}, "")] \
                + ["mpd." + k for k in map_state({k: mpd[k] for k in parameter_keys(mpd)}, "")]
            state["opt_g"] = map_optimizer_state(do["optim_g"], g_names, voc, d_path, "--discriminator")
            state["opt_d"] = map_optimizer_state(do["optim_d"], d_names, disc, d_path, "--discriminator")
            result.optimizers = True
        else:
            result.notes.append(f"{d_path} holds no optimizer states: fine-tuning starts fresh AdamW moments")
        steps = do.get("steps")
        result.reference_steps = int(steps) if isinstance(steps, (int, Tensor)) else None
    else:
        result.notes.append("no --discriminator (do_ file): --init-from this run fine-tunes with a fresh "
                            "discriminator and fresh optimizers")
    state["step"] = 0
    state["imported"] = {"family": "hifigan", "generator_file": str(generator), "config_file": str(config),
                         "discriminator_file": None if discriminator is None else str(discriminator),
                         "optimizers": result.optimizers, "reference_steps": result.reference_steps}
    meta = {"step": result.reference_steps or 0, "recipe": "import-checkpoint hifigan",
            "imported_from": state["imported"]}
    out.mkdir(parents=True, exist_ok=True)
    ckpt.export_generator(voc, out / "export", meta)
    ckpt.save_checkpoint(out / "checkpoints", 0, state)
    sections: dict[str, Any] = {"generator": {**g_cfg, "resblock": int(g_cfg["resblock"])},
                                "mel": {**mel, "loss_fmax": loss_fmax}}
    d_section = _discriminator_scales(result.discriminator) if result.discriminator else None
    if d_section:
        sections["discriminator"] = d_section
    elif result.discriminator:
        result.notes.append(f"the discriminator widths {result.discriminator} are not channel scales of the "
                            "published ones: finetune.yaml leaves the discriminator section out")
    save_yaml(sections, out / "finetune.yaml")
    return result


def _cmd_import_hifigan(args: argparse.Namespace) -> None:
    result = import_hifigan(args.generator, args.config, args.out, args.discriminator)
    parts = ["G"] + (["MPD + MSD"] if result.discriminator else []) + (["both optimizer states"]
                                                                     if result.optimizers else [])
    steps = f" (reference step {result.reference_steps})" if result.reference_steps is not None else ""
    print_import(result, f"{', '.join(parts)}{steps}", "recipes/ljspeech_hifigan.py --preset v1")


def print_import(result: ImportResult, what: str, recipe: str) -> None:
    """Say what an import wrote, its notes, and the commands that vocode with it and fine-tune it."""
    print(f"imported {what} into {result.out}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"vocode:    multigan vocode {result.out} --mel MEL.npy -o out.wav")
    print(f"fine-tune: python {recipe} --config {result.out / 'finetune.yaml'} --data WAV_FOLDER "
          f"--out runs/finetuned --init-from {result.out}")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import-checkpoint hifigan ...`` and ``import-checkpoint vocos ...`` to a ``multigan`` sub-command
    parser; returns it."""
    p = subparsers.add_parser("import-checkpoint", help="convert a published vocoder checkpoint into a multigan run")
    families = p.add_subparsers(dest="family", required=True)
    h = families.add_parser("hifigan", help="the reference HiFi-GAN repository's g_/do_ files and config.json")
    h.add_argument("--generator", required=True, help="g_XXXXXXXX file ({'generator': state_dict})")
    h.add_argument("--discriminator", help="do_XXXXXXXX file (MPD, MSD, optimizer states); without it D starts "
                   "fresh when fine-tuning")
    h.add_argument("--config", required=True, help="the config.json the checkpoint was trained with")
    h.add_argument("--out", required=True, help="new run directory (export/, checkpoints/, finetune.yaml)")
    h.set_defaults(func=_cmd_import_hifigan)
    from .vocos_import import register_vocos  # that module builds on this one

    register_vocos(families)
    return p
