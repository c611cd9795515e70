"""Finding audio files and listing bad ones: what every audio dataset and corpus reader of the package shares.

* :func:`audio_files` -- the audio files under a folder (by ending, sorted by relative path), with a warning for
  the audio files it leaves out;
* :func:`listing` -- how every bad-file report of the audio package lists its files (at most :data:`MAX_LISTED`);
* :class:`AudioDatasetError` -- a dataset that cannot be built, with every unusable file.

It imports nothing else of the audio package, so the folder dataset (:mod:`multigan.audio.dataset`) and the
corpus index (:mod:`multigan.audio.corpus_index`) both build on it.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence, Union

from ..errors import MultiganError

__all__ = ["AUDIO_EXTENSIONS", "MAX_LISTED", "UNREADABLE_AUDIO", "AudioDatasetError", "audio_files", "listing",
           "suffixes"]

PathLike = Union[str, os.PathLike]

logger = logging.getLogger("multigan")

#: File endings that count as audio unless a caller says otherwise (matched case-insensitively).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

#: Audio formats soundfile cannot read: files with these endings are named in a warning, never silently left out.
UNREADABLE_AUDIO = (".m4a", ".aac", ".wma", ".opus", ".webm", ".mp4", ".amr")

#: How many bad files an error or warning lists before summarising the rest.
MAX_LISTED = 50


class AudioDatasetError(MultiganError, ValueError):
    """A dataset that cannot be built; ``bad`` holds ``(path, reason)`` for every unusable file."""

    def __init__(self, message: str, bad: Sequence[tuple[Path, str]] = ()) -> None:
        self.bad = list(bad)
        super().__init__(message)


def suffixes(extensions: Iterable[str]) -> tuple[str, ...]:
    """Extensions lower-cased, each with its leading dot (how :func:`audio_files` matches them)."""
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def audio_files(root: PathLike, extensions: Iterable[str] = AUDIO_EXTENSIONS, *, recursive: bool = True) -> list[Path]:
    """The files under ``root`` whose names end in one of ``extensions`` (case-insensitive), sorted by their
    path relative to ``root``; only the files directly in ``root`` when ``recursive`` is False.

    A missing folder gives an empty list: callers say what is wrong in their own terms. Audio files left out
    because of their ending (another format, or one of :data:`UNREADABLE_AUDIO`) are counted in a warning.
    """
    root = Path(root)
    endings = suffixes(extensions)
    candidates = root.rglob("*") if recursive else root.glob("*")
    files, skipped = [], Counter()
    for path in candidates:
        name = path.name.lower()
        if name.endswith(endings):
            if path.is_file():
                files.append(path)
        elif name.endswith(AUDIO_EXTENSIONS + UNREADABLE_AUDIO) and path.is_file():
            skipped[path.suffix.lower()] += 1
    if skipped:
        counts = ", ".join(f"{n} {ext}" for ext, n in sorted(skipped.items()))
        logger.warning("%s: left out %s file(s) (read here: %s); convert them to WAV or FLAC to use them", root,
                       counts, " ".join(endings))
    return sorted(files, key=lambda p: p.as_posix())  # all share root's prefix: the relative-path order, fast


def listing(lines: Sequence[str], indent: str = "  ") -> str:
    """``lines`` one per line, each indented, at most :data:`MAX_LISTED` of them, then "... and N more": how
    every bad-file report of the audio package lists its files."""
    shown = [f"{indent}{line}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"{indent}... and {len(lines) - MAX_LISTED} more")
    return "\n".join(shown)
