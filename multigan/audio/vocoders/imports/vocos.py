"""Import a published Vocos mel checkpoint (``pytorch_model.bin`` + ``config.yaml``) as a multigan run.

    multigan import-checkpoint vocos --model pytorch_model.bin --config config.yaml --out runs/vocos_published

The reference (``Vocos`` of the gemelo-ai repository) holds ``feature_extractor`` (a torchaudio mel front end:
buffers only), ``backbone`` (``embed``, ``norm``, ``convnext.{i}.{dwconv,norm,pwconv1,pwconv2,gamma}``,
``final_layer_norm``) and ``head`` (``out``; ``istft.window`` a buffer). multigan's
:class:`~multigan.audio.vocoders.vocos.VocosGenerator` names them ``backbone.embed``, ``backbone.norm``,
``backbone.blocks.{i}.*``, ``backbone.final_norm`` and ``head.out``. Only the mel variant with a ConvNeXt
backbone and an ISTFT head with "same" padding is multigan's Vocos family; EnCodec-token, ResNet-backbone,
IMDCT and AdaLayerNorm variants are refused with a message saying so.

The published checkpoints hold no discriminator: ``--init-from`` such a run fine-tunes with a fresh MPD + MRD.
The reference's mel front end (``MelSpectrogramFeatures``: torchaudio's ``MelSpectrogram`` with ``power=1``, an
HTK-scale filterbank without norm unless the config sets ``mel_scale``/``norm``, centred frames or ``padding:
same``, ``log(clip(x, 1e-7))``) is stored in the export as a :class:`~multigan.audio.mel_front_end.MelFrontEnd`:
``voc.mel`` and ``resynthesize`` compute exactly the reference's features. Fine-tuning with a recipe computes
HiFi-GAN's mels (the import says so).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Annotated, Any, Mapping, Optional

import torch
import yaml
from torch import Tensor

from ....config import AtLeastOne, NonNegative
from ...mel_front_end import MelFrontEnd, MelFrontEndError
from ..vocoder import Vocoder, VocoderConfigError, mel_settings
from ..vocos import VocosConfigError
from .common import (CheckpointImportError, ImportResult, PathLike, check_finite, check_out, load_mapped,
                     print_import, read_torch_file, typed_settings, write_run)

__all__ = ["FRONT_END_NOTE", "import_vocos", "map_vocos_key", "read_vocos_config", "read_vocos_settings",
           "register_vocos", "vocos_front_end"]

FRONT_END_NOTE = ("voc.mel() and resynthesize compute the reference's own features (the export stores its front end: "
                  "{front_end}); fine-tuning with a recipe computes HiFi-GAN's mels instead")

_RENAMES = ((re.compile(r"^backbone\.convnext\.(\d+)\."), r"net.backbone.blocks.\1."),
            (re.compile(r"^backbone\.final_layer_norm\."), "net.backbone.final_norm."),
            (re.compile(r"^backbone\.(embed|norm)\."), r"net.backbone.\1."),
            (re.compile(r"^head\.out\."), "net.head.out."))


_Size = Annotated[int, AtLeastOne]
#: The types of the reference config's settings, checked by the typed config's rules before anything is built.
_FEATURE_TYPES = {"sample_rate": _Size, "n_fft": _Size, "hop_length": _Size, "n_mels": _Size,
                  "f_min": Annotated[float, NonNegative], "f_max": Optional[Annotated[float, NonNegative]]}
_BACKBONE_TYPES = {"input_channels": _Size, "dim": _Size, "intermediate_dim": _Size, "num_layers": _Size}
_HEAD_TYPES = {"dim": _Size, "n_fft": _Size, "hop_length": _Size}


def map_vocos_key(key: str) -> Optional[str]:
    """multigan's name of reference Vocos tensor ``key``; ``None`` for the buffers multigan rebuilds itself."""
    if key.startswith("feature_extractor.") or key == "head.istft.window":
        return None
    for pattern, repl in _RENAMES:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return key  # unknown: reported as unexpected by the loader


def _section(config: Mapping[str, Any], name: str, path: Path) -> tuple[str, dict]:
    """(class name, init args) of one of ``feature_extractor``, ``backbone``, ``head``."""
    holder = config
    if name not in holder and isinstance(config.get("model"), Mapping):  # a training config (VocosExp)
        holder = config["model"].get("init_args", {})
    entry = holder.get(name) if isinstance(holder, Mapping) else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("class_path"), str):
        raise CheckpointImportError(f"--config {path}: no '{name}' with a class_path (a Vocos config.yaml has "
                                    "feature_extractor, backbone and head)")
    args = entry.get("init_args") or {}
    if not isinstance(args, Mapping):
        raise CheckpointImportError(f"--config {path}: {name}.init_args must be a mapping of settings, got "
                                    f"{type(args).__name__} {args!r:.60}")
    return entry["class_path"].rsplit(".", 1)[-1], dict(args)


def vocos_front_end(feature_args: Mapping[str, Any], where: str) -> MelFrontEnd:
    """The front end of a reference ``MelSpectrogramFeatures``' init args: torchaudio's ``MelSpectrogram``
    (``power=1``: plain ``|STFT|``; reflect padding) with its ``mel_scale`` / ``norm`` (torchaudio's defaults
    ``"htk"`` / none, which the published configs keep), ``safe_log``'s floor ``1e-7``, and ``padding``:
    ``"center"`` (centred frames) or ``"same"`` (reflect-pad ``(n_fft - hop) // 2``, uncentred)."""
    padding = feature_args.get("padding", "center")
    if padding not in ("center", "same"):
        raise CheckpointImportError(f"{where}.padding={padding!r}: the reference accepts 'center' or 'same'")
    try:
        return MelFrontEnd(filterbank=feature_args.get("mel_scale", "htk"), norm=feature_args.get("norm"),
                           log_floor=1e-7, padding=padding, pad_mode="reflect", magnitude_eps=0.0)
    except MelFrontEndError as exc:
        raise CheckpointImportError(f"{where}: {exc}") from None


def read_vocos_config(path: PathLike) -> tuple[dict, dict]:
    """The generator and mel settings of a reference Vocos ``config.yaml``; refuses variants multigan lacks."""
    generator, mel, _ = read_vocos_settings(path)
    return generator, mel


def read_vocos_settings(path: PathLike) -> tuple[dict, dict, MelFrontEnd]:
    """The generator and mel settings and the mel front end of a reference Vocos ``config.yaml``; refuses variants
    multigan lacks."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CheckpointImportError(f"--config {path}: not a readable YAML config ({exc})") from None
    if not isinstance(config, Mapping):
        raise CheckpointImportError(f"--config {path}: expected a mapping, got {type(config).__name__}")
    fe_cls, fe = _section(config, "feature_extractor", path)
    bb_cls, bb = _section(config, "backbone", path)
    head_cls, head = _section(config, "head", path)
    for name, section, types in (("feature_extractor", fe, _FEATURE_TYPES), ("backbone", bb, _BACKBONE_TYPES),
                                 ("head", head, _HEAD_TYPES)):
        section.update(typed_settings(section, types, f"--config {path}: {name}.init_args"))
    problems = []
    if fe_cls != "MelSpectrogramFeatures":
        problems.append(f"feature_extractor {fe_cls} (only mel-spectrogram Vocos is a mel vocoder)")
    if bb_cls != "VocosBackbone" or bb.get("adanorm_num_embeddings"):
        problems.append(f"backbone {bb_cls}{' with AdaLayerNorm' if bb.get('adanorm_num_embeddings') else ''} "
                        "(multigan has the plain ConvNeXt backbone)")
    if head_cls != "ISTFTHead" or head.get("padding", "same") != "same":
        problems.append(f"head {head_cls} with padding {head.get('padding', 'same')!r} (multigan has the ISTFT "
                        "head with 'same' padding)")
    if problems:
        raise CheckpointImportError(f"--config {path}: unsupported Vocos variant: {'; '.join(problems)}")
    front_end = vocos_front_end(fe, f"--config {path}: feature_extractor.init_args")
    try:
        n_mels, hop = int(fe.get("n_mels", 100)), int(fe.get("hop_length", 256))
        n_fft = int(fe.get("n_fft", 1024))
        mel = mel_settings({"sample_rate": int(fe.get("sample_rate", 24000)), "n_fft": n_fft, "hop_size": hop,
                            "win_size": n_fft, "n_mels": n_mels, "fmin": float(fe.get("f_min", 0.0)),
                            "fmax": None if fe.get("f_max") is None else float(fe["f_max"])})
        generator = {"dim": int(bb["dim"]), "intermediate_dim": int(bb["intermediate_dim"]),
                     "num_layers": int(bb["num_layers"]), "n_fft": int(head["n_fft"])}
        mismatched = [f"{k}={a} vs {b}" for k, a, b in (("backbone.input_channels", bb.get("input_channels", n_mels),
                                                         n_mels),
                                                        ("head.hop_length", head.get("hop_length", hop), hop))
                      if int(a) != b]
    except KeyError as exc:
        raise CheckpointImportError(f"--config {path}: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError, VocoderConfigError) as exc:
        raise CheckpointImportError(f"--config {path}: {exc}") from None
    if mismatched:
        raise CheckpointImportError(f"--config {path}: the backbone and head do not fit the feature extractor "
                                    f"(n_mels {n_mels}, hop_length {hop}): {', '.join(mismatched)}")
    return generator, mel, front_end


def import_vocos(model: PathLike, config: PathLike, out: PathLike) -> ImportResult:
    """Convert a reference Vocos ``pytorch_model.bin`` + ``config.yaml`` into the run directory ``out``.

    Writes ``export/`` (a :class:`~multigan.audio.vocoders.vocoder.Vocoder` of the ``vocos`` family),
    ``checkpoints/step-00000000`` (G only) and ``finetune.yaml`` (the generator and mel sections of a Vocos
    vocoder recipe). Raises :class:`CheckpointImportError` / ``TorchFileError`` naming the file.
    """
    model, config, out = Path(model), Path(config), Path(out)
    check_out(out)
    g_cfg, mel, front_end = read_vocos_settings(config)
    state = read_torch_file(model, "--model")
    lightning = isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping)
    if lightning:  # a training checkpoint (VocosExp): the generator's tensors only
        state = {k: v for k, v in state["state_dict"].items() if k.split(".", 1)[0] in
                 ("feature_extractor", "backbone", "head")}
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor)
                                                 for k, v in state.items()):
        raise CheckpointImportError(f"--model {model}: expected a state dict of tensors (pytorch_model.bin)")
    check_finite(state, model, "--model")
    window = state.get("head.istft.window")
    if window is not None and (window.shape != (g_cfg["n_fft"],)
                               or not torch.allclose(window.float(), torch.hann_window(g_cfg["n_fft"]))):
        raise CheckpointImportError(f"--model {model}: head.istft.window is not a Hann window of n_fft="
                                    f"{g_cfg['n_fft']}")
    mapped = {name: value for key, value in state.items() if (name := map_vocos_key(key)) is not None}
    try:
        voc = Vocoder(generator=g_cfg, mel=mel, generator_class="vocos", front_end=front_end)
    except (VocosConfigError, VocoderConfigError) as exc:
        raise CheckpointImportError(f"--config {config}: {exc}") from None
    load_mapped(voc, mapped, model, "--model", f"the Vocos of --config {config} ({g_cfg})")
    note = FRONT_END_NOTE.format(front_end=front_end.describe())
    result = ImportResult(out, g_cfg, mel, notes=[
        "the published Vocos checkpoints hold no discriminator: --init-from this run fine-tunes with a fresh "
        "MPD + MRD and fresh optimizers", note])
    if lightning:
        result.notes.insert(0, f"{model} is a training checkpoint: only its generator was imported")
    info = {"family": "vocos", "generator_file": str(model), "config_file": str(config), "discriminator_file": None,
            "optimizers": False, "reference_steps": None, "mel_front_end": front_end.to_dict()}
    write_run(out, voc, {"step": 0, "recipe": "import-checkpoint vocos", "imported_from": info},
              {"generator": voc.state_dict(), "step": 0, "imported": info}, {"generator": g_cfg, "mel": dict(mel)})
    return result


def _cmd_import_vocos(args: argparse.Namespace) -> None:
    result = import_vocos(args.model, args.config, args.out)
    print_import(result, "the Vocos generator", "vocos")


def register_vocos(families: Any) -> argparse.ArgumentParser:
    """Add ``vocos`` to the ``import-checkpoint`` families."""
    v = families.add_parser("vocos", help="a Vocos mel checkpoint (pytorch_model.bin + config.yaml)")
    v.add_argument("--model", required=True, help="pytorch_model.bin (the Vocos state dict)")
    v.add_argument("--config", required=True, help="its config.yaml")
    v.add_argument("--out", required=True, help="new run directory (export/, checkpoints/, finetune.yaml)")
    v.set_defaults(func=_cmd_import_vocos)
    return v
