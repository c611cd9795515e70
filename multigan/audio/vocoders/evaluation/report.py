"""A vocoder run's final report: its resynthesis of the held-out clips beside Griffin-Lim's, scored by the protocol,
as ``report.json`` and the listening page ``report.html`` in the run directory."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from torch import Tensor

from .page import write_listening_page
from .protocol import ClipScorer
from .table import System, score_systems

__all__ = ["write_report"]

log = logging.getLogger("multigan")


def _fixed(outputs: Sequence[np.ndarray]) -> Any:
    """A system that returns the already computed resynthesis of the clip at the same position."""
    queue = list(outputs)

    def run(wav: np.ndarray, rate: int) -> np.ndarray:
        return queue.pop(0)[: wav.shape[0]]

    return run


def write_report(run_dir: str | Path, clips: Sequence[tuple[str, Tensor]], sample_rate: int,
                 outputs: Mapping[str, Sequence[Tensor]], scorer: ClipScorer, page_clips: int = 8,
                 title: Optional[str] = None) -> dict[str, Any]:
    """Score the given resynthesis of each clip (``outputs``: system name -> one waveform per clip, in order), write
    ``run_dir/report.json`` and ``run_dir/report.html`` (with ``report_files/``); returns the result."""
    run_dir = Path(run_dir)
    systems: list[System] = [(name, _fixed([w.reshape(-1).float().cpu().numpy() for w in wavs]))
                             for name, wavs in outputs.items()]
    items = [(name, wav.reshape(-1).float().cpu().numpy()) for name, wav in clips]
    result, page = score_systems(items, sample_rate, systems, scorer, keep_audio=page_clips, progress=False)
    result["data"] = "the run's validation clips (never trained on)"
    (run_dir / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    html = write_listening_page(result, page, run_dir / "report.html", title=title or f"{run_dir.name}: final report")
    log.info("final report: %s (%s)", html, ", ".join(
        f"{s['name']} " + " ".join(f"{k} {s[k]:.3g}" for k in result["metrics"] if isinstance(s.get(k), float))
        for s in result["systems"]))
    return result
