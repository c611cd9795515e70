"""Bring a run directory back in line after a crash, before the resumed run continues.

A process killed at any moment may leave: staging folders of an atomic write (``.NAME.tmp-*``,
``.NAME.old-*``), ``validation.jsonl`` rows of steps after the checkpoint being resumed (the resumed run
validates those steps again), and an export older than the best checkpoint (killed between writing the
best checkpoint and exporting it). The first two are repaired here; the trainer re-exports the best
checkpoint when :func:`export_step` says the export is stale.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from . import files
from .files import write_atomically

log = logging.getLogger("multigan")


def remove_interrupted_writes(*folders: Path) -> list[Path]:
    """Delete the staging leftovers of interrupted atomic writes in ``folders``; returns what was removed."""
    removed = [path for folder in folders if folder.is_dir() for path in files.remove_interrupted_writes(folder)]
    if removed:
        log.info("removed %d leftover(s) of interrupted writes: %s", len(removed), ", ".join(p.name for p in removed))
    return removed


def drop_validation_rows_after(path: Path, step: int) -> int:
    """Keep the rows of ``validation.jsonl`` up to ``step`` (and drop a half-written last line); returns how many went."""
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    keep = []
    for line in lines:
        try:
            row_step = int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by the crash
        if row_step <= step:
            keep.append(line)
    dropped = len(lines) - len(keep)
    if dropped:
        write_atomically(path, lambda tmp: tmp.write_text("".join(f"{line}\n" for line in keep)))
        log.info("%s: dropped %d row(s) after step %d (they are validated again)", path.name, dropped, step)
    return dropped


def export_step(export_dir: Path) -> int | None:
    """The training step an export was taken at (None when there is no readable export)."""
    try:
        return int(json.loads((export_dir / "generator.json").read_text())["meta"]["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
