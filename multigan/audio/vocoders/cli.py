"""``multigan vocode RUN_DIR (in.wav | --mel FILE) -o out.wav [--chunk-frames N]``: re-synthesise audio or vocode a mel.

:func:`register` adds the sub-command to ``multigan``'s parser (named in :data:`multigan.cli.SUBCOMMANDS`);
:func:`vocode_file` and :func:`vocode_mel_file` are the same as functions.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any, Optional, Union

from ...errors import MultiganError
from ...export import load
from ..io import check_wav_name
from .mel_input import MelInputWarning
from .vocoder import Vocoder

__all__ = ["load_vocoder", "register", "vocode_file", "vocode_mel_file"]


def load_vocoder(run: Union[str, Path], device: str = "cpu") -> Vocoder:
    """The vocoder exported in ``run`` (run or export folder), through the export gate; anything else is an error."""
    voc = load(run, device=device)
    if not isinstance(voc, Vocoder):
        raise MultiganError(f"{run} holds a {type(voc).__name__}, not a vocoder: `multigan vocode` needs the run "
                            "directory (or export folder) of a trained vocoder")
    return voc


def vocode_file(run: Union[str, Path], in_wav: Union[str, Path], out_wav: Union[str, Path],
                device: str = "cpu", chunk_frames: Optional[int] = None) -> Path:
    """Load the vocoder exported in ``run`` (run or export folder) and re-synthesise ``in_wav`` into ``out_wav``
    (streamed in chunks of ``chunk_frames`` mel frames when given: the same audio)."""
    return load_vocoder(run, device).vocode_file(in_wav, out_wav, chunk_frames=chunk_frames)


def vocode_mel_file(run: Union[str, Path], mel_path: Union[str, Path], out_wav: Union[str, Path],
                    device: str = "cpu", chunk_frames: Optional[int] = None) -> tuple[Path, list[str]]:
    """Vocode mel file ``mel_path`` with the vocoder exported in ``run``; returns the WAV and any input warnings."""
    voc = load_vocoder(run, device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MelInputWarning)
        out = voc.vocode_mel_file(mel_path, out_wav, chunk_frames=chunk_frames)
    return out, [str(w.message) for w in caught if issubclass(w.category, MelInputWarning)]


def _cmd_vocode(args: argparse.Namespace) -> None:
    check_wav_name(args.out, "-o/--out")  # before loading anything
    if (args.input is None) == (args.mel is None):
        raise MultiganError("vocode: give an audio file to re-synthesise or --mel FILE (one of the two)")
    if args.chunk_frames is not None and args.chunk_frames < 1:
        raise MultiganError(f"--chunk-frames must be >= 1, got {args.chunk_frames}")
    if args.mel is not None:
        out, notes = vocode_mel_file(args.run, args.mel, args.out, device=args.device, chunk_frames=args.chunk_frames)
        for note in notes:
            print(f"warning: {args.mel}: {note}", file=sys.stderr)
    else:
        out = vocode_file(args.run, args.input, args.out, device=args.device, chunk_frames=args.chunk_frames)
    print(f"wrote {out}")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``vocode RUN_DIR (in.wav | --mel FILE) -o out.wav [--chunk-frames N]`` to a ``multigan`` sub-command parser; returns it."""
    p = subparsers.add_parser("vocode", help="re-synthesise a wav file with a trained vocoder")
    p.add_argument("run", help="run directory (or its export folder) of a trained vocoder")
    p.add_argument("input", nargs="?", help="audio file to re-synthesise (any sample rate; resampled to the vocoder's)")
    p.add_argument("--mel", help="vocode this mel spectrogram instead (.npy, .safetensors or torch file; "
                   "[n_mels, frames] or [frames, n_mels], natural-log mels of the vocoder's settings)")
    p.add_argument("-o", "--out", required=True, help="output WAV file (16-bit PCM at the vocoder's rate)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--chunk-frames", type=int, default=None, metavar="N",
                   help="vocode as a stream of N-frame mel chunks (exact: the same audio as the whole utterance)")
    p.set_defaults(func=_cmd_vocode)
    return p
