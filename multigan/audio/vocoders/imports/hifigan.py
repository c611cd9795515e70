"""Import published HiFi-GAN checkpoints (the reference repository's ``g_``/``do_`` files) as a multigan run.

    multigan import-checkpoint hifigan --generator g_02500000 [--discriminator do_02500000] \\
        --config config.json --out runs/hifigan_published

writes into ``--out``:

* ``export/`` -- a normal :class:`~multigan.audio.vocoders.vocoder.Vocoder` export (safetensors + JSON, weight norm
  kept as parametrizations and folded when loaded, as multigan's own exports), with the config's mel settings;
  ``multigan.load`` and ``multigan vocode`` use it like any trained vocoder.
* ``checkpoints/step-00000000/`` -- G, and when a ``do_`` file is given the MPD + MSD and both AdamW states
  mapped onto multigan's parameter order, for ``--init-from`` (see :mod:`multigan.audio.vocoders.init`).
* ``finetune.yaml`` -- the sections of a HiFi-GAN vocoder recipe (``generator``, ``mel``, ``discriminator``) that
  rebuild these networks: ``--config RUN/finetune.yaml --init-from RUN``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Annotated, Any, Optional, Union

from torch import Tensor

from ....config import AtLeastOne, NonNegative
from ..discriminators.combined import CombinedDiscriminator
from ..discriminators.common import scale_channels
from ..discriminators.mpd import MPD_CHANNELS, MultiPeriodDiscriminator
from ..discriminators.msd import MSD_CHANNELS, MultiScaleDiscriminator, msd_channel_multiples
from ..hifigan import HiFiGANConfigError, validate_generator_config
from ..vocoder import Vocoder, VocoderConfigError, mel_settings
from .common import (CheckpointImportError, ImportResult, PathLike, check_out, load_mapped, map_optimizer_state,
                     print_import, read_torch_file, tensor_dict, typed_settings, write_run)
from .reference import discriminator_widths, map_state, parameter_keys

__all__ = ["GENERATOR_KEYS", "MEL_KEYS", "discriminator_section", "hifigan_discriminators", "import_hifigan",
           "read_hifigan_config", "register_hifigan"]

#: The reference config's mel keys and multigan's names for them.
MEL_KEYS: dict[str, str] = {"sampling_rate": "sample_rate", "n_fft": "n_fft", "hop_size": "hop_size",
                            "win_size": "win_size", "num_mels": "n_mels", "fmin": "fmin", "fmax": "fmax"}
GENERATOR_KEYS: tuple[str, ...] = ("resblock", "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel",
                                   "resblock_kernel_sizes", "resblock_dilation_sizes")
_Sizes = list[Annotated[int, AtLeastOne]]
#: The types of the reference config's keys, checked by the typed config's rules before anything is built.
CONFIG_TYPES: dict[str, Any] = {
    "resblock": Union[Annotated[int, AtLeastOne], str], "upsample_rates": _Sizes, "upsample_kernel_sizes": _Sizes,
    "upsample_initial_channel": Annotated[int, AtLeastOne], "resblock_kernel_sizes": _Sizes,
    "resblock_dilation_sizes": list[_Sizes], "sampling_rate": Annotated[int, AtLeastOne],
    "n_fft": Annotated[int, AtLeastOne], "hop_size": Annotated[int, AtLeastOne], "win_size": Annotated[int, AtLeastOne],
    "num_mels": Annotated[int, AtLeastOne], "fmin": Annotated[float, NonNegative],
    "fmax": Optional[Annotated[float, NonNegative]], "fmax_for_loss": Optional[Annotated[float, NonNegative]],
}


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
    data = {**data, **typed_settings(data, CONFIG_TYPES, f"--config {path}")}
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


def hifigan_discriminators(widths: dict) -> CombinedDiscriminator:
    """The MPD + MSD of ``widths`` (:func:`~.reference.discriminator_widths`), named as a recipe's
    ``discriminator.use=[mpd,msd]`` names them (state-dict keys ``mpd.`` and ``msd.``)."""
    return CombinedDiscriminator({"mpd": MultiPeriodDiscriminator(widths["periods"], widths["mpd_channels"]),
                                  "msd": MultiScaleDiscriminator(widths["num_scales"], widths["msd_channels"])})


def discriminator_section(widths: dict) -> Optional[dict]:
    """The recipe's ``discriminator`` section for ``widths``, or ``None`` when channel scales cannot express it."""
    mpd, msd = widths["mpd_channels"], widths["msd_channels"]
    if len(mpd) != len(MPD_CHANNELS) or len(msd) != len(MSD_CHANNELS):
        return None
    s_mpd, s_msd = mpd[-1] / MPD_CHANNELS[-1], msd[-1] / MSD_CHANNELS[-1]
    if scale_channels(MPD_CHANNELS, s_mpd, [1] * len(mpd)) != mpd \
            or scale_channels(MSD_CHANNELS, s_msd, msd_channel_multiples()) != msd:
        return None
    return {"use": ["mpd", "msd"], "weights": [1.0, 1.0],
            "mpd": {"periods": widths["periods"], "channels_scale": s_mpd},
            "msd": {"num_scales": widths["num_scales"], "channels_scale": s_msd}}


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
    check_out(out)
    g_cfg, mel, loss_fmax = read_hifigan_config(config)
    g_file = read_torch_file(generator, "--generator")
    g_ref = tensor_dict(g_file, "generator", generator, "--generator", "a g_ file {'generator': state_dict}")
    voc = Vocoder(generator=g_cfg, mel=mel, generator_class="hifigan")
    load_mapped(voc, map_state(g_ref, "net."), generator, "--generator",
                 f"the generator of --config {config} ({g_cfg})")
    result = ImportResult(out, g_cfg, mel)
    state: dict[str, Any] = {"generator": voc.state_dict()}
    if discriminator is not None:
        d_path = Path(discriminator)
        do = read_torch_file(d_path, "--discriminator")
        layout = "a do_ file {'mpd', 'msd', 'optim_g', 'optim_d', 'steps', 'epoch'}"
        mpd = tensor_dict(do, "mpd", d_path, "--discriminator", layout)
        msd = tensor_dict(do, "msd", d_path, "--discriminator", layout)
        widths = discriminator_widths(mpd, msd, f"--discriminator {d_path}")
        try:
            disc = hifigan_discriminators(widths)
        except ValueError as exc:
            raise CheckpointImportError(f"--discriminator {d_path}: unusable widths {widths}: {exc}") from None
        load_mapped(disc, {**map_state(mpd, "mpd."), **map_state(msd, "msd.")}, d_path, "--discriminator",
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
    sections: dict[str, Any] = {"generator": {**g_cfg, "resblock": int(g_cfg["resblock"])},
                                "mel": {**mel, "loss_fmax": loss_fmax}}
    d_section = discriminator_section(result.discriminator) if result.discriminator else None
    if d_section:
        sections["discriminator"] = d_section
    elif result.discriminator:
        result.notes.append(f"the discriminator widths {result.discriminator} are not channel scales of the "
                            "published ones: finetune.yaml leaves the discriminator section out")
    write_run(out, voc, meta, state, sections)
    return result


def _cmd_import_hifigan(args: argparse.Namespace) -> None:
    result = import_hifigan(args.generator, args.config, args.out, args.discriminator)
    parts = ["G"] + (["MPD + MSD"] if result.discriminator else []) + (["both optimizer states"]
                                                                     if result.optimizers else [])
    steps = f" (reference step {result.reference_steps})" if result.reference_steps is not None else ""
    print_import(result, f"{', '.join(parts)}{steps}", "hifigan")


def register_hifigan(families: Any) -> argparse.ArgumentParser:
    """Add ``hifigan`` to the ``import-checkpoint`` families."""
    h = families.add_parser("hifigan", help="the reference HiFi-GAN repository's g_/do_ files and config.json")
    h.add_argument("--generator", required=True, help="g_XXXXXXXX file ({'generator': state_dict})")
    h.add_argument("--discriminator", help="do_XXXXXXXX file (MPD, MSD, optimizer states); without it D starts "
                   "fresh when fine-tuning")
    h.add_argument("--config", required=True, help="the config.json the checkpoint was trained with")
    h.add_argument("--out", required=True, help="new run directory (export/, checkpoints/, finetune.yaml)")
    h.set_defaults(func=_cmd_import_hifigan)
    return h
