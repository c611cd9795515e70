"""``multigan eval-vocoder [RUN ...] --data DIR [--griffin-lim] [--json FILE] [--html FILE]``.

Resynthesises every clip of DIR through each vocoder run (and Griffin-Lim from the same mels with
``--griffin-lim``), scores each resynthesis against its original with the protocol's metrics and prints the
table as JSON on stdout: ``{"systems": [{"name", "pesq_wb", "mr_stft", "mel_l1", "periodicity", "vuv_f1",
"pitch_rmse", "mos", ["stoi"], "clips", "ci95": {metric: [lo, hi]}}, ...], "original": {"mos", ...}, ...}``.
``--html`` writes the listening page.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ....errors import MultiganError
from ...io import info
from ...listing import audio_files
from ..cli import load_vocoder
from ..data.clips import load_clips
from ..vocoder import mel_settings
from .page import write_listening_page
from .pitch import DEFAULT_MODEL
from .protocol import ClipScorer, enabled_metrics
from .table import (ClipScores, check_systems, collect, describe_protocol, griffin_lim_system, progress_bar,
                    score_systems, vocoder_system)
from .workers import score_in_workers

__all__ = ["evaluate_vocoders", "register"]


def read_clips(data: str | Path, limit: Optional[int] = None) -> tuple[list[tuple[str, np.ndarray]], int]:
    """The clips of folder ``data`` (sorted, the first ``limit``) at the first file's rate, peak-normalised to
    0.95 as the vocoder recipes read them; returns ``(clips, rate)``. Unusable files are one error naming each."""
    files = audio_files(data) if Path(data).is_dir() else []
    if not files:
        load_clips(data, 22050)  # raises the folder's error (missing, not a folder, no audio files)
    rate = info(files[0]).sample_rate
    clips = load_clips(data, rate)
    if limit is not None:
        if limit < 1:
            raise MultiganError(f"--limit must be >= 1, got {limit}")
        clips = clips[:limit]
    return [(name, wav.numpy()) for name, wav in clips], rate


def evaluate_vocoders(runs: Sequence[str | Path], data: str | Path, griffin_lim: bool = False,
                      pitch_model: Optional[str] = DEFAULT_MODEL, mos: bool = True, with_stoi: bool = False,
                      limit: Optional[int] = None, griffin_lim_iters: int = 100, device: str = "cpu",
                      page_clips: int = 0, progress: bool = True, workers: int = 1) -> tuple[dict[str, Any], list]:
    """Score vocoder runs (and Griffin-Lim) on the clips of ``data``; returns the result and the page's clips.

    ``workers`` > 1 scores the clips in that many processes (:mod:`.workers`; the same result)."""
    if workers < 1:
        raise MultiganError(f"--workers must be >= 1, got {workers}")
    vocoders = [(str(run), load_vocoder(run, device)) for run in runs]
    clips, rate = read_clips(data, limit)
    gl = None
    if griffin_lim:
        same_rate = [v for _, v in vocoders if v.sample_rate == rate]
        gl = {"mel": dict(same_rate[0].config["mel"]) if same_rate else mel_settings(
            {"sample_rate": rate, "fmax": min(8000.0, rate / 2)}), "n_iter": griffin_lim_iters}
    options = {"pitch_model": pitch_model, "mos": mos, "with_stoi": with_stoi}
    systems = [vocoder_system(name, voc) for name, voc in vocoders]
    if gl is not None:
        systems.append(griffin_lim_system(gl["mel"], gl["n_iter"]))
    names = [name for name, _ in systems]
    check_systems(names)
    if workers == 1:
        scorer = ClipScorer.for_rate(rate, device=device, **options)
        result, page = score_systems(clips, rate, systems, scorer, keep_audio=page_clips, progress=progress)
    else:  # each worker builds its own models: the parent only needs the metric keys
        keys = enabled_metrics(pesq=True, pitch=pitch_model not in (None, "none"), mos=mos, stoi=with_stoi)
        bar = progress_bar(len(clips) * len(systems), progress)
        scores = score_in_workers(clips, rate, [name for name, _ in vocoders], gl, options, workers, device,
                                  keep_audio=page_clips)
        try:
            result, page = collect(_counted(scores, bar, len(systems)), names, rate, keys)
        finally:
            bar.close()
    result = {"data": str(data), **describe_protocol(pitch_model, mos), "workers": workers, **result}
    if gl is not None:
        result["griffin_lim"] = {"method": "librosa NNLS mel inversion + fast Griffin-Lim", **gl}
    return result, page


def _counted(scores: Iterator[ClipScores], bar: Any, step: int) -> Iterator[ClipScores]:
    """``scores``, advancing the progress bar by ``step`` resyntheses for each clip."""
    for clip in scores:
        bar.update(step)
        yield clip


def _cmd_eval_vocoder(args: argparse.Namespace) -> None:
    for option, path in (("--json", args.json), ("--html", args.html)):
        if path and Path(path).is_dir():
            raise MultiganError(f"{option} {path}: is a folder; give a file name")
    if args.html and not str(args.html).lower().endswith((".html", ".htm")):
        raise MultiganError(f"--html {args.html}: the page's name must end in .html")
    result, page = evaluate_vocoders(args.runs, args.data, args.griffin_lim, args.pitch_model, not args.no_mos,
                                     args.stoi, args.limit, args.griffin_lim_iters, args.device,
                                     page_clips=args.page_clips if args.html else 0, progress=not args.no_progress,
                                     workers=args.workers)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    if args.html:
        html = write_listening_page(result, page, args.html)
        print(f"wrote {html}", file=sys.stderr)
    print(text)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eval-vocoder`` to a ``multigan`` sub-command parser; returns it."""
    p = subparsers.add_parser("eval-vocoder", help="score vocoders (PESQ, MR-STFT, mel L1, periodicity, V/UV F1, "
                              "predicted MOS, 95 %% intervals) and write a listening page")
    p.add_argument("runs", nargs="*", help="vocoder run directories (or export folders)")
    p.add_argument("--data", required=True, help="folder of held-out clips (never trained on)")
    p.add_argument("--griffin-lim", action="store_true", help="add Griffin-Lim (librosa NNLS + fast Griffin-Lim) "
                   "from the same mels as a system")
    p.add_argument("--griffin-lim-iters", type=int, default=100)
    p.add_argument("--json", help="also write the JSON to this file")
    p.add_argument("--html", help="write the listening page here (WAVs and pictures in a folder beside it)")
    p.add_argument("--page-clips", type=int, default=8, help="clips on the listening page (default 8)")
    p.add_argument("--pitch-model", choices=["tiny", "full", "none"], default=DEFAULT_MODEL,
                   help="CREPE size for periodicity / V/UV F1 ('full': the published protocol's, ~15x slower on a "
                   "CPU; 'none': skip them)")
    p.add_argument("--no-mos", action="store_true", help="skip the predicted MOS")
    p.add_argument("--stoi", action="store_true", help="also score STOI (pystoi)")
    p.add_argument("--limit", type=int, help="score only the first N clips (sorted by name)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1, help="score the clips in N processes of one torch thread "
                   "each (the same result; 2 on a 2-core machine is about twice as fast)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval_vocoder)
    return p
