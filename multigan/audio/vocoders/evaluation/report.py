"""A vocoder run's final report: its resynthesis of the held-out clips beside Griffin-Lim's, as ``report.json`` and
the listening page ``report.html`` in the run directory. The clips were scored by the validation already: the report
summarises those scores (adding the predicted MOS of the originals when the scorer predicts MOS), it does not
score them again."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from torch import Tensor

from .mos import MOS_RATE
from .page import write_listening_page
from .protocol import ClipScorer, to_rate
from .table import ClipScores, check_systems, collect

__all__ = ["write_report"]

log = logging.getLogger("multigan")


def write_report(run_dir: str | Path, clips: Sequence[tuple[str, Tensor]], sample_rate: int,
                 outputs: Mapping[str, Sequence[Tensor]], rows: Mapping[str, Sequence[Mapping[str, float]]],
                 scorer: ClipScorer, page_clips: int = 8, title: Optional[str] = None) -> dict[str, Any]:
    """Write ``run_dir/report.json`` and ``run_dir/report.html`` (with ``report_files/``); returns the result.

    ``outputs`` / ``rows``: system name -> its resynthesis / its metrics of each clip, in clip order (what the
    validation computed with ``scorer``)."""
    run_dir, names = Path(run_dir), list(outputs)
    check_systems(names)
    scores = []
    for index, (name, wav) in enumerate(clips):
        original = wav.reshape(-1).float().cpu().numpy()
        mos = scorer.mos(to_rate(original, sample_rate, MOS_RATE)) if scorer.mos is not None else None
        audio = ({"original": original} | {n: outputs[n][index].reshape(-1).float().cpu().numpy() for n in names}
                 if index < page_clips else {})
        scores.append(ClipScores(name, {n: dict(rows[n][index]) for n in names}, mos, audio))
    result, page = collect(scores, names, sample_rate, scorer.keys)
    result["data"] = "the run's validation clips (never trained on)"
    (run_dir / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    html = write_listening_page(result, page, run_dir / "report.html", title=title or f"{run_dir.name}: final report")
    log.info("final report: %s (%s)", html, ", ".join(
        f"{s['name']} " + " ".join(f"{k} {s[k]:.3g}" for k in result["metrics"] if isinstance(s.get(k), float))
        for s in result["systems"]))
    return result
