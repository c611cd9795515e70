"""A trained vocoder as one ONNX file: ``multigan export-onnx RUN --out model.onnx [--opset N]``.

    export_onnx(voc, "model.onnx")                  # any family; weight norm folded; dynamic batch and frames
    audio = run_onnx("model.onnx", mel)             # onnxruntime (CPU): mel [B, n_mels, frames] -> [B, frames*hop]

The graph takes ``mel`` (float32 ``[batch, n_mels, frames]``, natural-log mels of the vocoder's front end) and
returns ``audio`` (float32 ``[batch, frames * hop_size]`` in ``[-1, 1]``). A family exports its network as it is
unless it defines ``export_graph()`` returning an exportable module of the same weights (Vocos: its inverse
STFT as transposed convolutions instead of FFT and complex tensors,
:class:`~multigan.audio.vocoders.vocos.VocosExportGraph`). The file's metadata (``multigan`` key, JSON) holds the
family, its settings, the mel settings and the streaming context. torch's ONNX exporter (``torch.export``
based; it needs the ``onnxscript`` package) writes it; onnx and onnxruntime are optional
(``pip install multigan[dev]``) and imported only here, inside functions.
"""
from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import MultiganError
from ...export import load
from .vocoder import Vocoder

__all__ = ["DEFAULT_OPSET", "check_onnx", "export_onnx", "onnx_graph", "onnx_session", "register", "run_onnx"]

#: The opset written by default (the lowest the ``torch.export``-based exporter writes).
DEFAULT_OPSET = 18


class _Graph(nn.Module):
    """mel ``[B, n_mels, frames]`` -> audio ``[B, frames * hop]`` through a family network (or its export graph)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        make = getattr(net, "export_graph", None)
        self.net, self.plain = (make(), False) if callable(make) else (net, True)

    def forward(self, mel: Tensor) -> Tensor:
        return (self.net(None, mel) if self.plain else self.net(mel)).squeeze(1)


def onnx_graph(voc: Vocoder) -> nn.Module:
    """The module that is exported: a copy of ``voc``'s network (rebuilt from its config, so ``voc`` itself is
    left as it is), float32 on the CPU, eval mode, weight norm folded."""
    net = type(voc.net)(**voc.net.config)
    net.load_state_dict({k: v.detach().float().cpu() for k, v in voc.net.state_dict().items()})
    net.remove_weight_norm()
    return _Graph(net.eval()).eval()


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise MultiganError(f"ONNX export needs the {module!r} package: pip install onnx onnxruntime onnxscript "
                            "(or multigan[dev])") from exc


def export_onnx(voc: Vocoder, out: Union[str, Path], opset: int = DEFAULT_OPSET, example_frames: int = 32) -> Path:
    """Write ``voc`` as ONNX file ``out`` (dynamic batch and frame count; one file, weights inside).

    Raises :class:`~multigan.errors.MultiganError` when the exporter or ``onnx`` is missing or ``opset`` is
    below :data:`DEFAULT_OPSET`.
    """
    onnx = _require("onnx")
    _require("onnxscript")
    if int(opset) < DEFAULT_OPSET:
        raise MultiganError(f"--opset {opset}: the exporter writes opset {DEFAULT_OPSET} or newer")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = onnx_graph(voc)
    mel = torch.randn(1, voc.n_mels, int(example_frames)) - 5.0
    frames, batch = torch.export.Dim("frames", min=1), torch.export.Dim("batch", min=1)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (mel,), str(out), input_names=["mel"], output_names=["audio"],
                              opset_version=int(opset), dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes={"mel": {0: batch, 2: frames}})
    finally:
        quiet.setLevel(level)
    model = onnx.load(str(out))
    info = {"generator_class": voc.config["generator_class"], "generator": voc.config["generator"],
            "mel": voc.config["mel"], "front_end": voc.front_end.to_dict(), "sample_rate": voc.sample_rate,
            "hop_size": voc.hop_size,
            "stream_context": list(voc.stream_context()), "input": "mel [batch, n_mels, frames] (natural-log mels)",
            "output": "audio [batch, frames * hop_size] in [-1, 1]"}
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "multigan", json.dumps(info)
    onnx.save(model, str(out))
    return out


def onnx_session(path: Union[str, Path], threads: int = 1) -> Any:
    """An onnxruntime CPU session of ``path`` with ``threads`` intra-op threads (one inter-op thread)."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path_or_session: Any, mel: Union[Tensor, np.ndarray], threads: int = 1) -> np.ndarray:
    """Vocode ``mel`` (``[B, n_mels, frames]`` or ``[n_mels, frames]``) with an ONNX file (or session)."""
    session = path_or_session if hasattr(path_or_session, "run") else onnx_session(path_or_session, threads)
    x = mel.detach().cpu().float().numpy() if isinstance(mel, Tensor) else np.asarray(mel, np.float32)
    return session.run(["audio"], {"mel": x[None] if x.ndim == 2 else x})[0]


def check_onnx(voc: Vocoder, path: Union[str, Path], frames: int = 200, seed: int = 0) -> float:
    """Max ``|onnxruntime - PyTorch|`` on a log-mel of ``frames`` frames drawn around typical levels."""
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(1, voc.n_mels, frames, generator=g) * 1.5 - 5.0
    with torch.no_grad():
        ref = onnx_graph(voc)(mel).numpy()
    return float(np.abs(run_onnx(path, mel) - ref).max())


def _cmd_export_onnx(args: argparse.Namespace) -> None:
    if not str(args.out).endswith(".onnx"):
        raise MultiganError(f"--out {args.out}: give a file name ending in .onnx")
    voc = load(args.run)
    if not isinstance(voc, Vocoder):
        raise MultiganError(f"{args.run} holds a {type(voc).__name__}, not a vocoder: `multigan export-onnx` needs "
                            "the run directory (or export folder) of a trained vocoder")
    out = export_onnx(voc, args.out, opset=args.opset)
    print(f"wrote {out} ({voc.config['generator_class']}, opset {args.opset}, input mel [batch, {voc.n_mels}, "
          f"frames] -> audio [batch, frames * {voc.hop_size}] at {voc.sample_rate} Hz)")
    if not args.no_check:
        diff = check_onnx(voc, out)
        print(f"onnxruntime vs PyTorch on a 200-frame mel: max abs difference {diff:.2e}")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export-onnx RUN --out model.onnx [--opset N] [--no-check]`` to a ``multigan`` parser; returns it."""
    p = subparsers.add_parser("export-onnx", help="write a trained vocoder as an ONNX file (onnxruntime-ready)")
    p.add_argument("run", help="run directory (or its export folder) of a trained vocoder")
    p.add_argument("--out", required=True, help="the ONNX file to write (weights inside)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--no-check", action="store_true",
                   help="skip running the file in onnxruntime against PyTorch after writing it")
    p.set_defaults(func=_cmd_export_onnx)
    return p
