"""Import NVIDIA/BigVGAN checkpoints (``bigvgan_generator.pt`` [+ ``bigvgan_discriminator_optimizer.pt``]) as a run.

    multigan import-checkpoint bigvgan --generator bigvgan_generator.pt \\
        [--discriminator bigvgan_discriminator_optimizer.pt] --config config.json --out runs/bigvgan_24k

The generator file holds ``{'generator': state_dict}``; the discriminator file ``{'mpd', 'mrd', 'optim_g',
'optim_d', 'steps', 'epoch'}``, where ``mrd`` is the multi-band discriminator when the config sets
``use_mbd_instead_of_mrd``, else the CQT discriminator when it sets ``use_cqtd_instead_of_mrd`` (all v2 configs),
else BigVGAN's MRD; the reference's D optimizer runs over ``mrd`` then ``mpd``. multigan's
:class:`~multigan.audio.vocoders.bigvgan.BigVGANGenerator` keeps the reference's module names, so tensors map by
the weight-norm names alone (:func:`~.reference.map_state`); the anti-aliasing filters stored in the file must be
the published ones (they are rebuilt, not loaded), and the torchaudio / nnAudio buffers of the discriminators
are rebuilt too. Writes ``export/``, ``checkpoints/step-00000000/`` and ``finetune.yaml`` like the other imports.

BigVGAN's mel front end is HiFi-GAN's (librosa Slaney filterbank, ``log(clamp(x, 1e-5))``, reflect padding of
``(n_fft - hop) / 2``, no centring, ``sqrt(|X|^2 + 1e-9)``): the export's front end (``voc.mel``) computes it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Annotated, Any, Mapping, Optional

import torch
from torch import Tensor

from ....config import AtLeastOne, NonNegative, Positive
from ..alias_free import kaiser_sinc_filter
from ..bigvgan import BigVGANConfigError, BigVGANGenerator
from ..discriminators.combined import CombinedDiscriminator
from ..discriminators.registry import DISCRIMINATORS
from ..vocoder import Vocoder, VocoderConfigError, mel_settings
from .common import (CheckpointImportError, ImportResult, PathLike, check_out, load_mapped, map_optimizer_state,
                     print_import, read_torch_file, tensor_dict, typed_settings, write_run)
from .hifigan import MEL_KEYS
from .reference import map_state, parameter_keys

__all__ = ["GENERATOR_KEYS", "discriminator_sections", "import_bigvgan", "read_bigvgan_config", "register_bigvgan"]

GENERATOR_KEYS = ("resblock", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
                  "resblock_kernel_sizes", "resblock_dilation_sizes", "activation", "snake_logscale",
                  "use_tanh_at_final", "use_bias_at_final")
_DEFAULTS = {"use_tanh_at_final": True, "use_bias_at_final": True}  # the reference's h.get defaults
_Size = Annotated[int, AtLeastOne]
_Sizes = list[_Size]
CONFIG_TYPES: dict[str, Any] = {
    "resblock": str, "upsample_rates": _Sizes, "upsample_kernel_sizes": _Sizes, "upsample_initial_channel": _Size,
    "resblock_kernel_sizes": _Sizes, "resblock_dilation_sizes": list[_Sizes], "activation": str,
    "snake_logscale": bool, "use_tanh_at_final": bool, "use_bias_at_final": bool,
    "sampling_rate": _Size, "n_fft": _Size, "hop_size": _Size, "win_size": _Size, "num_mels": _Size,
    "fmin": Annotated[float, NonNegative], "fmax": Optional[Annotated[float, NonNegative]],
    "fmax_for_loss": Optional[Annotated[float, NonNegative]], "mpd_reshapes": _Sizes,
    "discriminator_channel_mult": Annotated[float, Positive], "use_spectral_norm": bool,
    "use_mbd_instead_of_mrd": bool, "use_cqtd_instead_of_mrd": bool, "resolutions": list[_Sizes],
    "mbd_fft_sizes": _Sizes, "cqtd_filters": _Size, "cqtd_max_filters": _Size, "cqtd_filters_scale": _Size,
    "cqtd_dilations": _Sizes, "cqtd_hop_lengths": _Sizes, "cqtd_n_octaves": _Sizes, "cqtd_bins_per_octaves": _Sizes,
    "cqtd_normalize_volume": bool,
}
_BUFFERS = (".upsample.filter", ".downsample.lowpass.filter")  # the generator's, checked then rebuilt
_D_BUFFERS = (".cqt_transform.", ".resample.", ".spec_fn.")  # torchaudio / nnAudio buffers, rebuilt


def read_bigvgan_config(path: PathLike) -> tuple[dict, dict, dict]:
    """Generator settings, mel settings and the whole typed config of a reference ``config.json``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointImportError(f"--config {path}: not a readable JSON config ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointImportError(f"--config {path}: expected a JSON object, got {type(data).__name__}")
    missing = [k for k in (*GENERATOR_KEYS, *MEL_KEYS) if k not in data and k not in _DEFAULTS]
    if missing:
        raise CheckpointImportError(f"--config {path}: missing key(s) {missing} (a BigVGAN config.json has them)")
    data = {**_DEFAULTS, **data}
    data = {**data, **typed_settings(data, CONFIG_TYPES, f"--config {path}")}
    generator = {k: data[k] for k in GENERATOR_KEYS}
    generator["resblock"] = str(generator["resblock"])
    try:
        mel = mel_settings({ours: data[theirs] for theirs, ours in MEL_KEYS.items()})
        BigVGANGenerator.validate_config(**generator, hop_size=mel["hop_size"], n_mels=mel["n_mels"])
    except BigVGANConfigError as exc:
        raise CheckpointImportError(f"--config {path}: {exc} (keys upsample_rates, upsample_kernel_sizes, "
                                    "hop_size)") from None
    except (VocoderConfigError, TypeError, ValueError) as exc:
        raise CheckpointImportError(f"--config {path}: {exc} (keys {', '.join(MEL_KEYS)})") from None
    return generator, mel, data


def discriminator_sections(data: Mapping[str, Any]) -> tuple[str, dict]:
    """The name of the reference's ``mrd`` part (``"mbd"``, ``"cqt"`` or ``"mrd"``) and the recipe's
    ``discriminator`` section (``use=[mpd, name]``) that builds the config's discriminators."""
    mult = float(data.get("discriminator_channel_mult", 1))
    mpd = {"periods": list(data.get("mpd_reshapes", [2, 3, 5, 7, 11])), "channels_scale": mult}
    if data.get("use_mbd_instead_of_mrd", False):
        name, part = "mbd", {"fft_sizes": list(data.get("mbd_fft_sizes", [2048, 1024, 512]))}
    elif data.get("use_cqtd_instead_of_mrd", False):
        name = "cqt"
        part = {"sample_rate": int(data["sampling_rate"]), "filters": data.get("cqtd_filters", 32),
                "max_filters": data.get("cqtd_max_filters", 1024),
                "filters_scale": data.get("cqtd_filters_scale", 1),
                "dilations": list(data.get("cqtd_dilations", [1, 2, 4])),
                "hop_lengths": list(data.get("cqtd_hop_lengths", [512, 256, 256])),
                "n_octaves": list(data.get("cqtd_n_octaves", [9, 9, 9])),
                "bins_per_octaves": list(data.get("cqtd_bins_per_octaves", [24, 36, 48])),
                "normalize_volume": bool(data.get("cqtd_normalize_volume", False))}
    else:
        name = "mrd"
        part = {"resolutions": [list(r) for r in data.get("resolutions", [])], "channels": 32,
                "channels_scale": float(data.get("mrd_channel_mult", mult)), "window": "rect", "layout": "bigvgan"}
    return name, {"use": ["mpd", name], "weights": [1.0, 1.0], "mpd": mpd, name: part}


def _build_discriminator(section: dict, name: str, use_spectral_norm: bool) -> CombinedDiscriminator:
    if use_spectral_norm:
        raise CheckpointImportError("use_spectral_norm=true: multigan imports the weight-normed BigVGAN "
                                    "discriminators only")
    return CombinedDiscriminator({part: DISCRIMINATORS[part](**section[part]).build() for part in ("mpd", name)},
                                 [1.0, 1.0])


def _check_filters(ref: Mapping[str, Tensor], path: Path) -> None:
    published = kaiser_sinc_filter(0.25, 0.3, 12)
    for key, value in ref.items():
        if key.endswith(_BUFFERS) and (tuple(value.shape) != (1, 1, 12)
                                       or not torch.allclose(value.float(), published, atol=1e-6)):
            raise CheckpointImportError(f"--generator {path}: {key} is not the published 12-tap Kaiser-windowed "
                                        "sinc filter (cutoff 0.25, half-width 0.3) that multigan rebuilds")


def import_bigvgan(generator: PathLike, config: PathLike, out: PathLike,
                   discriminator: Optional[PathLike] = None) -> ImportResult:
    """Convert NVIDIA/BigVGAN files into the multigan run directory ``out`` (see the module docstring).

    Raises :class:`CheckpointImportError` / ``TorchFileError`` naming the offending file.
    """
    generator, config, out = Path(generator), Path(config), Path(out)
    check_out(out)
    g_cfg, mel, data = read_bigvgan_config(config)
    g_ref = tensor_dict(read_torch_file(generator, "--generator"), "generator", generator, "--generator",
                        "bigvgan_generator.pt {'generator': state_dict}")
    _check_filters(g_ref, generator)
    g_params = {k: v for k, v in g_ref.items() if not k.endswith(_BUFFERS)}
    voc = Vocoder(generator=g_cfg, mel=mel, generator_class="bigvgan")
    load_mapped(voc, map_state(g_params, "net."), generator, "--generator",
                f"the BigVGAN generator of --config {config} ({g_cfg})")
    result = ImportResult(out, g_cfg, mel, notes=[])
    state: dict[str, Any] = {"generator": voc.state_dict()}
    name, d_section = discriminator_sections(data)
    if discriminator is not None:
        d_path = Path(discriminator)
        do = read_torch_file(d_path, "--discriminator")
        layout = "bigvgan_discriminator_optimizer.pt {'mpd', 'mrd', 'optim_g', 'optim_d', 'steps', 'epoch'}"
        mpd = tensor_dict(do, "mpd", d_path, "--discriminator", layout)
        mrd = {k: v for k, v in tensor_dict(do, "mrd", d_path, "--discriminator", layout).items()
               if not any(b in k for b in _D_BUFFERS)}
        width = mrd.get("discriminators.0.conv_post.weight_v")
        if name == "mbd" and width is not None and width.dim() == 4:  # the reference fixes 32; read it from the file
            d_section["mbd"]["channels"] = int(width.shape[1])
        try:
            disc = _build_discriminator(d_section, name, bool(data.get("use_spectral_norm", False)))
        except (ValueError, TypeError) as exc:
            raise CheckpointImportError(f"--config {config}: unusable discriminator settings: {exc}") from None
        load_mapped(disc, {**map_state(mpd, "mpd."), **map_state(mrd, f"{name}.")}, d_path, "--discriminator",
                    f"the MPD + {name.upper()} of --config {config}")
        state["discriminator"] = disc.state_dict()
        result.discriminator = d_section
        if "optim_g" in do and "optim_d" in do:
            g_names = ["net." + k for k in map_state({k: g_params[k] for k in parameter_keys(g_params)})]
            d_names = [f"{name}." + k for k in map_state({k: mrd[k] for k in parameter_keys(mrd)})] \
                + ["mpd." + k for k in map_state({k: mpd[k] for k in parameter_keys(mpd)})]
            state["opt_g"] = map_optimizer_state(do["optim_g"], g_names, voc, d_path, "--discriminator")
            state["opt_d"] = map_optimizer_state(do["optim_d"], d_names, disc, d_path, "--discriminator")
            result.optimizers = True
        else:
            result.notes.append(f"{d_path} holds no optimizer states: fine-tuning starts fresh AdamW moments")
        steps = do.get("steps")
        result.reference_steps = int(steps) if isinstance(steps, (int, Tensor)) else None
    else:
        result.notes.append("no --discriminator: --init-from this run fine-tunes with a fresh discriminator and "
                            "fresh optimizers")
    info = {"family": "bigvgan", "generator_file": str(generator), "config_file": str(config),
            "discriminator_file": None if discriminator is None else str(discriminator),
            "optimizers": result.optimizers, "reference_steps": result.reference_steps}
    state["step"], state["imported"] = 0, info
    meta = {"step": result.reference_steps or 0, "recipe": "import-checkpoint bigvgan", "imported_from": info}
    loss_fmax = data.get("fmax_for_loss")
    sections: dict[str, Any] = {"generator": {**g_cfg, "resblock": int(g_cfg["resblock"])},
                                "mel": {**mel, "loss_fmax": None if loss_fmax is None else float(loss_fmax)},
                                "discriminator": d_section}
    write_run(out, voc, meta, state, sections)
    return result


def _cmd_import_bigvgan(args: argparse.Namespace) -> None:
    result = import_bigvgan(args.generator, args.config, args.out, args.discriminator)
    parts = ["G"] + ([f"MPD + {result.discriminator['use'][1].upper()}"] if result.discriminator else []) \
        + (["both optimizer states"] if result.optimizers else [])
    steps = f" (reference step {result.reference_steps})" if result.reference_steps is not None else ""
    print_import(result, f"{', '.join(parts)}{steps}", "bigvgan", "recipes/ljspeech_bigvgan.py --preset bigvgan-v2-24k")


def register_bigvgan(families: Any) -> argparse.ArgumentParser:
    """Add ``bigvgan`` to the ``import-checkpoint`` families."""
    b = families.add_parser("bigvgan", help="NVIDIA/BigVGAN's bigvgan_generator.pt [+ "
                            "bigvgan_discriminator_optimizer.pt] and config.json")
    b.add_argument("--generator", required=True, help="bigvgan_generator.pt ({'generator': state_dict})")
    b.add_argument("--discriminator", help="bigvgan_discriminator_optimizer.pt (MPD, the MRD/MBD/CQTD, optimizer "
                   "states); without it D starts fresh when fine-tuning")
    b.add_argument("--config", required=True, help="the config.json the checkpoint was trained with")
    b.add_argument("--out", required=True, help="new run directory (export/, checkpoints/, finetune.yaml)")
    b.set_defaults(func=_cmd_import_bigvgan)
    return b
