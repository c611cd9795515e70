"""The Free Spoken Digit Dataset (FSDD): file names, the official split and decoded clips."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Union

import torch

from ...errors import MultiganError
from ..dataset import AudioFolder, audio_files
from ..io import load_audio

__all__ = ["FSDD_PATTERN", "NUM_CLASSES", "FsddClips", "fsdd_split", "load_fsdd", "require_split"]

PathLike = Union[str, os.PathLike]

#: File names of the Free Spoken Digit Dataset: ``{digit}_{speaker}_{take}.wav``.
FSDD_PATTERN = r"^(?P<label>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\."
_FSDD_RE = re.compile(FSDD_PATTERN)
#: The digits 0-9.
NUM_CLASSES = 10


def fsdd_split(name: PathLike) -> str:
    """Official FSDD split of a file name: ``"test"`` for takes 0-4, ``"train"`` for takes 5-49.

    Raises:
        ValueError: ``name`` is not an FSDD name ``{digit}_{speaker}_{take}.wav``.
    """
    base = Path(name).name
    match = _FSDD_RE.match(base)
    if match is None:
        raise ValueError(f"fsdd_split: {base!r} is not an FSDD file name ({{digit}}_{{speaker}}_{{take}}.wav)")
    return "test" if int(match["take"]) < 5 else "train"


def require_split(data_dir: PathLike, split: str, needed_for: str) -> int:
    """The number of FSDD-named audio files of ``split`` under ``data_dir``; a :class:`MultiganError` naming
    the folder and ``needed_for`` when there is none (checked from file names, before any decoding or training).
    """
    count = sum(1 for p in audio_files(data_dir) if _FSDD_RE.match(p.name) and fsdd_split(p) == split)
    if not count:
        takes = "0-4" if split == "test" else "5-49"
        raise MultiganError(f"{data_dir} holds no {split}-split clip (FSDD names {{digit}}_{{speaker}}_{{take}}.wav "
                            f"with takes {takes}), which {needed_for}")
    return count


@dataclass
class FsddClips:
    """Decoded FSDD clips at their own length, with labels and speakers (parallel lists)."""

    wavs: list[torch.Tensor]
    labels: torch.Tensor  # [N] long
    speakers: list[str]
    names: list[str]

    def __len__(self) -> int:
        return len(self.wavs)

    def subset(self, indices: Iterable[int]) -> "FsddClips":
        """The clips at ``indices``, in that order."""
        idx = list(indices)
        return FsddClips([self.wavs[i] for i in idx], self.labels[idx].clone(), [self.speakers[i] for i in idx],
                         [self.names[i] for i in idx])

    def where(self, keep: Callable[[str, str], bool]) -> "FsddClips":
        """Clips for which ``keep(name, speaker)`` is true."""
        return self.subset(i for i, (n, s) in enumerate(zip(self.names, self.speakers)) if keep(n, s))

    def canvas(self, length: int) -> torch.Tensor:
        """All clips on a canvas ``[N, length]`` (start-aligned, end padding, excess cut)."""
        out = torch.zeros(len(self.wavs), length)
        for i, wav in enumerate(self.wavs):
            n = min(length, wav.shape[0])
            out[i, :n] = wav[:n]
        return out


def load_fsdd(data_dir: PathLike, split: str | None = None, sample_rate: int = 8000) -> FsddClips:
    """Every FSDD clip under ``data_dir`` (``{digit}_{speaker}_{take}.wav``), optionally one split.

    Files are listed and checked by :class:`~multigan.audio.AudioFolder` (bad files raise one
    :class:`~multigan.audio.AudioDatasetError` listing them all); clips longer than 1 s are kept whole.
    """
    folder = AudioFolder(data_dir, sample_rate, sample_rate, label_pattern=FSDD_PATTERN,
                         labels=list(range(NUM_CLASSES)), split=split, split_fn=fsdd_split, max_excess=None,
                         cache=False)
    wavs = [load_audio(item.path, sample_rate) for item in folder.items]
    labels = torch.tensor([int(item.label) for item in folder.items], dtype=torch.long)
    return FsddClips(wavs, labels, [str(item.speaker) for item in folder.items],
                     [item.path.name for item in folder.items])
