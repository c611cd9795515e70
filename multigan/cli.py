"""The ``multigan`` command line.

    multigan info RUN_DIR                                   what a run exported (class, step, best metric)
    multigan generate RUN_DIR -n 50 --seed 0 --out DIR      samples from the exported generator
             [--vocoder VOCODER_RUN]                    (a SpecGAN inverted by a trained vocoder)
    multigan eval-digits --data FSDD_DIR --samples DIR      digit-classifier metrics of a folder of WAVs
    multigan vocode RUN_DIR in.wav -o out.wav               re-synthesise a file with a trained vocoder
    multigan vocode RUN_DIR --mel MEL.npy -o out.wav        vocode an acoustic model's mel spectrogram
    multigan import-checkpoint hifigan --generator g_N [--discriminator do_N] --config config.json --out RUN
                                                            a published HiFi-GAN checkpoint as a multigan run
    multigan eval-vocoder [RUN ...] --data DIR [--griffin-lim] [--json F] [--html F]
                                                            vocoder metrics with intervals, a listening page
    multigan eval-text RUN_DIR --references FILE            GAN vs MLE quality-diversity frontiers
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Callable

from .errors import MultiganError
from .export import load, open_export

#: The sub-commands of the modality packages, as ``"module:function"``: each function takes the sub-parsers
#: and adds its commands. They are imported when the parser is built, so importing the core imports no modality.
SUBCOMMANDS: tuple[str, ...] = (
    "multigan.audio.spoken_digits.cli:register",
    "multigan.audio.vocoders.cli:register",
    "multigan.audio.vocoders.evaluation.cli:register",
    "multigan.audio.vocoders.imports.cli:register",
    "multigan.audio.vocoders.onnx_export:register",
    "multigan.text.cli:register",
)


def _cmd_info(args: argparse.Namespace) -> None:
    load(args.run)  # the whole gate: class, JSON shape, tensor names, shapes, dtypes and values
    print(json.dumps(open_export(args.run).describe(), indent=2))


def _flag(option: str) -> str:
    """``top_p`` -> ``--top-p``."""
    return "--" + option.replace("_", "-")


def _cmd_generate(args: argparse.Namespace) -> None:
    g = load(args.run, device=args.device)
    writer = getattr(g, "write_samples", None)
    if not callable(writer):
        raise MultiganError(f"{type(g).__name__} does not support `multigan generate` (no write_samples method)")
    if args.vocoder:
        use_vocoder = getattr(g, "use_vocoder", None)
        if not callable(use_vocoder):
            raise MultiganError(f"--vocoder: a {type(g).__name__} cannot use a vocoder (only a log-mel SpecGAN can)")
        use_vocoder(load(args.vocoder, device=args.device))
    options = {k: v for k, v in (("digit", args.digit), ("temperature", args.temperature), ("top_p", args.top_p))
               if v is not None}
    for name in sorted(set(options) - set(g.sample_options)):
        accepted = ", ".join(_flag(o) for o in g.sample_options) or "no sampling options"
        raise MultiganError(f"{_flag(name)}: {args.run} holds a {type(g).__name__}, which takes {accepted}")
    paths = writer(args.n, Path(args.out), seed=args.seed, **options)
    for path in paths if isinstance(paths, list) else [paths]:
        print(path)


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="multigan", description="Generate from and inspect multigan runs.")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="describe a run's exported generator")
    info.add_argument("run", help="run directory or export directory")
    info.set_defaults(func=_cmd_info)

    gen = sub.add_parser("generate", help="write samples from a run's exported generator")
    gen.add_argument("run", help="run directory or export directory")
    gen.add_argument("-n", type=int, default=10, help="number of samples")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same samples")
    gen.add_argument("--out", required=True, help="output file or folder (depends on the modality)")
    gen.add_argument("--digit", type=int, help="condition (class label) for conditional audio models")
    gen.add_argument("--temperature", type=float, help="sampling temperature for text models")
    gen.add_argument("--top-p", type=float, help="nucleus sampling for text models: keep the most probable tokens "
                     "whose probabilities sum to at least this (0 < p <= 1)")
    gen.add_argument("--vocoder", help="run directory of a trained vocoder to invert spectrograms with "
                     "(instead of Griffin-Lim; it must have been trained on the SpecGAN's mel features)")
    gen.add_argument("--device", default="cpu")
    gen.set_defaults(func=_cmd_generate)

    for spec in SUBCOMMANDS:
        module, _, function = spec.partition(":")
        getattr(importlib.import_module(module), function)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one ``error:`` line and return status 2."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except MultiganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that cannot be written (a file where a folder is needed, no space...)
        where = f"{exc.filename}: " if exc.filename else ""
        problem = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError) and exc.filename and Path(exc.filename).is_file():
            problem = "is a file, where an output folder is needed"
        print(f"error: {where}{problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
