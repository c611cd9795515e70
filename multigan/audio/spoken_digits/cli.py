"""The ``multigan eval-digits`` sub-command: score a folder of generated spoken digits."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .evaluator import eval_digits

__all__ = ["register"]


def _cmd_eval_digits(args: argparse.Namespace) -> None:
    result = eval_digits(args.data, args.samples, args.cache, args.device)
    text = json.dumps(result, indent=2)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    """Add ``eval-digits`` to a ``multigan`` sub-command parser set; returns the new parser."""
    parser = subparsers.add_parser(
        "eval-digits", help="score a folder of spoken-digit WAVs (IS, FID, D_self, D_train) against FSDD",
        description="Inception score, FID and nearest-neighbour distances of generated spoken digits, with "
                    "real train / real test / white-noise anchors at the same sample count. Names "
                    "{digit}_*.wav also give the label accuracy.")
    parser.add_argument("--data", required=True, help="FSDD recordings folder ({digit}_{speaker}_{take}.wav)")
    parser.add_argument("--samples", required=True, help="folder of generated .wav files (any rate, mono)")
    parser.add_argument("--cache", default=None, help="classifier cache folder (default $MULTIGAN_CACHE/digits "
                                                      "or ~/.cache/multigan/digits)")
    parser.add_argument("--out", default=None, help="also write the JSON result to this file")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(func=_cmd_eval_digits)
    return parser
