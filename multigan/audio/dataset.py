"""A folder of audio clips as a map-style dataset of fixed-length waveforms.

Every file is checked when the dataset is built, so a bad file stops training before it starts, with one
error listing all of them, instead of crashing a DataLoader worker hours later.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Iterable, Mapping, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from .corpus_index import cache_file_for, file_facts, frames_at, peak_key
from .io import load_audio
from .listing import AUDIO_EXTENSIONS, AudioDatasetError, audio_files, listing, suffixes

__all__ = ["AUDIO_EXTENSIONS", "AudioDatasetError", "AudioFolder", "AudioItem", "audio_files", "listing"]

PathLike = Union[str, os.PathLike]
Label = Union[int, str]

logger = logging.getLogger("multigan")

_CROPS = ("pad", "random")


@dataclass(frozen=True)
class AudioItem:
    """One usable clip: where it is, its class and the facts parsed from its name."""

    path: Path
    label: int | None  # class index fed to the model as "cond"; None when unconditional
    label_name: Label | None  # the label as named in the file (int when all digits)
    speaker: str | None  # the pattern's "speaker" group, if it has one
    frames: int  # length in samples at the dataset's sample rate
    fields: Mapping[str, str] = field(default_factory=dict)  # every named group of the pattern


class AudioFolder(Dataset):
    """Audio clips under ``root`` (recursive), each placed on a canvas of ``canvas`` samples.

    Items are ``{"real": FloatTensor [1, canvas], "cond": LongTensor scalar}`` (no ``"cond"`` when
    ``label_pattern`` is None). All files are decoded, resampled to ``sample_rate`` and checked when the
    dataset is built; with ``cache=True`` the waveforms stay in memory.

    Args:
        root: folder searched recursively for files ending in one of ``extensions`` (case-insensitive).
        sample_rate: rate in Hz every clip is resampled to.
        canvas: length in samples of every item.
        label_pattern: regular expression searched in each file name; its ``label`` group is the class
            and an optional ``speaker`` group is recorded. A name that does not match is a bad file.
            ``None`` (the default) gives an unconditional dataset.
        labels: the classes, in class-index order. Files whose label is not among them are left out
            (logged at INFO). By default the classes are the sorted labels found in all matching names
            (before the split, so train and test share indices), as ints when all are digits.
        split: keep only files with ``split_fn(name) == split`` (e.g. ``"train"``/``"test"``).
        split_fn: maps a file name to its split; needed with ``split``.
        crop: ``"pad"``: left-aligned, zero padding at the end, excess cut off (within ``max_excess``);
            ``"random"``: a random window (torch's global RNG) of longer clips, end padding of shorter.
        max_excess: with ``crop="pad"``, clips longer than ``canvas * (1 + max_excess)`` are bad files
            (``None``: no limit).
        silence_db: clips whose peak is below this level in dBFS are bad files (``None``: no check).
        skip_bad: skip bad files with a warning instead of raising :class:`AudioDatasetError`.
        extensions: file endings that count as audio.
        cache: keep the decoded waveforms in memory (otherwise re-read in ``__getitem__``).
        index_cache: folder of the corpus index cache the checks come from (default
            :func:`~multigan.audio.corpus_index.default_cache_dir`): every file is decoded once, in parallel
            ``index_workers`` processes (0: one per CPU core), and its length and peak cached by size and
            modification time, so a second run or a resume checks nothing again.
        option_prefix: how the caller's users spell these options, named in error hints (a recipe passes
            ``"data."``: the hint is then ``data.skip_bad=true``, not ``skip_bad=True``).

    Raises:
        AudioDatasetError: bad files (all listed in one message), a missing or empty folder, or no file
            left after the split or after skipping.
        ValueError: an invalid option (named in the message).
    """

    def __init__(
        self,
        root: PathLike,
        sample_rate: int,
        canvas: int,
        *,
        label_pattern: str | re.Pattern[str] | None = None,
        labels: Sequence[Label] | None = None,
        split: str | None = None,
        split_fn: Callable[[str], Hashable] | None = None,
        crop: str = "pad",
        max_excess: float | None = 0.25,
        silence_db: float | None = -60.0,
        skip_bad: bool = False,
        extensions: Iterable[str] = AUDIO_EXTENSIONS,
        cache: bool = True,
        option_prefix: str = "",
        index_cache: PathLike | None = None,
        index_workers: int = 0,
    ) -> None:
        _check_options(sample_rate, canvas, crop, max_excess, silence_db)
        if split is not None and split_fn is None:
            raise ValueError(f"AudioFolder: split={split!r} needs a split_fn mapping file names to splits")
        self.root = Path(root)
        self.sample_rate = int(sample_rate)
        self.canvas = int(canvas)
        self.crop = crop
        self.max_excess = max_excess
        self.silence_db = silence_db
        self.split = split
        self.cache = cache
        self.option_prefix = option_prefix
        self.index_cache, self.index_workers = index_cache, int(index_workers)
        self.skip_bad = bool(skip_bad)
        self.extensions = suffixes(extensions)
        self._pattern = _compile_pattern(label_pattern)
        self._split_fn = split_fn

        files = self._list_files()
        bad: list[tuple[Path, str]] = []
        parsed = self._parse_names(files, bad)
        self.classes: list[Label] = self._make_classes(parsed, labels)
        self._index_of = {str(c): i for i, c in enumerate(self.classes)}
        selected = self._select(parsed, bad)
        self.items: list[AudioItem] = []
        self._wavs: list[torch.Tensor] = []
        self._load_all(selected, bad)
        self._report(bad, total=len(files))
        if not self.items:
            raise AudioDatasetError(f"AudioFolder({self.root}): no usable audio file left{self._split_note()}", bad)

    # ------------------------------------------------------------------------------------------ public

    @property
    def conditional(self) -> bool:
        """Whether items carry a ``"cond"`` label."""
        return self._pattern is not None

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for an unconditional dataset)."""
        return len(self.classes) if self.conditional else 0

    @property
    def speakers(self) -> list[str]:
        """Sorted speakers found in the kept files (empty when the pattern has no ``speaker`` group)."""
        return sorted({item.speaker for item in self.items if item.speaker is not None})

    def speaker_indices(self, speaker: str) -> list[int]:
        """Indices of the items spoken by ``speaker`` (for leave-one-speaker-out splits)."""
        return [i for i, item in enumerate(self.items) if item.speaker == speaker]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.items[index]
        wav = self._wavs[index] if self.cache else load_audio(item.path, self.sample_rate)
        out = {"real": self._place(wav).unsqueeze(0)}
        if item.label is not None:
            out["cond"] = torch.tensor(item.label, dtype=torch.long)
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, items={len(self)}, sample_rate={self.sample_rate}, "
            f"canvas={self.canvas}, crop={self.crop!r}, num_classes={self.num_classes}, split={self.split!r})"
        )

    # ----------------------------------------------------------------------------------------- scanning

    def _list_files(self) -> list[Path]:
        """All files under root with an audio extension, sorted by relative path."""
        if not self.root.is_dir():
            what = "does not exist" if not self.root.exists() else "is not a folder"
            raise AudioDatasetError(f"AudioFolder: root {self.root} {what}")
        files = audio_files(self.root, self.extensions)
        if not files:
            raise AudioDatasetError(
                f"AudioFolder: no audio files ({', '.join(self.extensions)}) found under {self.root}"
            )
        return files

    def _parse_names(self, files: list[Path], bad: list[tuple[Path, str]]) -> list[tuple[Path, dict[str, str]]]:
        """Match the label pattern against each name; non-matching names become bad files."""
        if self._pattern is None:
            return [(path, {}) for path in files]
        parsed = []
        for path in files:
            match = self._pattern.search(path.name)
            if match is None:
                bad.append((path, f"name does not match label_pattern {self._pattern.pattern}"))
            else:
                parsed.append((path, {k: v for k, v in match.groupdict().items() if v is not None}))
        return parsed

    def _make_classes(self, parsed: list[tuple[Path, dict[str, str]]], labels: Sequence[Label] | None) -> list[Label]:
        """The class list: ``labels`` as given, or the sorted labels found in the names."""
        if self._pattern is None:
            if labels is not None:
                raise ValueError("AudioFolder: labels= needs a label_pattern (got label_pattern=None)")
            return []
        if labels is not None:
            if len({str(x) for x in labels}) != len(labels):
                raise ValueError(f"AudioFolder: labels= has duplicates: {list(labels)}")
            return list(labels)
        found = {fields["label"] for _, fields in parsed if "label" in fields}
        if found and all(s.isdigit() for s in found):
            return sorted({int(s) for s in found})
        return sorted(found)

    def _label_index(self, name: str) -> int | None:
        """Class index of a label string from a file name, or None when it is not a known class."""
        index = self._index_of.get(name)
        if index is None and name.isdigit():
            index = self._index_of.get(str(int(name)))  # "07" names class 7
        return index

    def _select(
        self, parsed: list[tuple[Path, dict[str, str]]], bad: list[tuple[Path, str]]
    ) -> list[tuple[Path, dict[str, str], int | None]]:
        """Apply the split and the class list; returns ``(path, fields, class index)``."""
        selected, unknown = [], 0
        for path, fields in parsed:
            if self.split is not None:
                try:
                    if self._split_fn(path.name) != self.split:
                        continue
                except Exception as exc:  # a user's split_fn may raise anything
                    bad.append((path, f"split_fn failed: {exc}"))
                    continue
            index = None
            if self._pattern is not None:
                index = self._label_index(fields["label"])
                if index is None:
                    unknown += 1
                    continue
            selected.append((path, fields, index))
        if unknown:
            logger.info("AudioFolder(%s): left out %d file(s) whose label is not in labels=", self.root, unknown)
        return selected

    def _load_all(self, selected: list[tuple[Path, dict[str, str], int | None]], bad: list[tuple[Path, str]]) -> None:
        """Check every selected file from its corpus-index entry (decoded once, then cached), filling ``items``;
        with ``cache`` the kept clips are then decoded into memory."""
        paths = [str(path) for path, _, _ in selected]
        facts, _ = file_facts(paths, self.sample_rate, peaks=True, workers=self.index_workers,
                              cache_file=cache_file_for(self.root, self.index_cache))
        for (path, fields, index), key in zip(selected, paths):
            entry = facts[key]
            if "error" in entry:
                bad.append((path, entry["error"]))
                continue
            frames = frames_at(entry, self.sample_rate)
            problem = self._check_clip(frames, entry["peaks"][peak_key(self.sample_rate)])
            if problem:
                bad.append((path, problem))
                continue
            label_name = None
            if index is not None:
                label_name = self.classes[index]
            self.items.append(AudioItem(path, index, label_name, fields.get("speaker"), frames, fields))
            if self.cache:
                self._wavs.append(load_audio(path, self.sample_rate))

    def _check_clip(self, frames: int, peak: float) -> str | None:
        """Reason a clip of ``frames`` samples and this peak is unusable (silent, too long), or None."""
        if self.silence_db is not None:
            peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
            if peak_db < self.silence_db:
                return f"silent: peak {peak_db:.1f} dBFS is below silence_db={self.silence_db}"
        if self.crop == "pad" and self.max_excess is not None:
            limit = math.floor(self.canvas * (1.0 + self.max_excess))
            if frames > limit:
                return (
                    f"too long: {frames} samples ({frames / self.sample_rate:.2f} s) > {limit} allowed "
                    f"(canvas={self.canvas}, max_excess={self.max_excess}); raise {self.option_prefix}max_excess "
                    "or use crop='random'"
                )
        return None

    def _report(self, bad: list[tuple[Path, str]], total: int) -> None:
        """Raise one error listing every bad file, or warn and carry on with ``skip_bad``."""
        if not bad:
            return
        bad.sort(key=lambda pair: pair[0].relative_to(self.root).as_posix())
        listing = _format_bad(bad, self.root)
        head = f"AudioFolder({self.root}): {len(bad)} of {total} audio file(s) are unusable"
        if not self.skip_bad:
            option = f"{self.option_prefix}skip_bad=true" if self.option_prefix else "skip_bad=True"
            raise AudioDatasetError(f"{head}:\n{listing}\nFix or remove them, or pass {option} to skip them with a "
                                    "warning.", bad)
        logger.warning("%s and were skipped (skip_bad=True):\n%s", head, listing)

    # ------------------------------------------------------------------------------------------- canvas

    def _place(self, wav: torch.Tensor) -> torch.Tensor:
        """Put a 1-D waveform on a fresh canvas of ``self.canvas`` samples."""
        frames = int(wav.shape[0])
        if frames > self.canvas and self.crop == "random":
            start = int(torch.randint(0, frames - self.canvas + 1, (1,)).item())
            return wav[start : start + self.canvas].clone()
        out = torch.zeros(self.canvas, dtype=torch.float32)
        n = min(frames, self.canvas)
        out[:n] = wav[:n]
        return out

    def _split_note(self) -> str:
        return f" for split={self.split!r}" if self.split is not None else ""


# ------------------------------------------------------------------------------------------------ helpers


def _check_options(
    sample_rate: int, canvas: int, crop: str, max_excess: float | None, silence_db: float | None
) -> None:
    """Raise ValueError naming the first invalid option."""
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"AudioFolder: sample_rate must be a positive int, got {sample_rate!r}")
    if not isinstance(canvas, (int, np.integer)) or canvas <= 0:
        raise ValueError(f"AudioFolder: canvas must be a positive int (samples), got {canvas!r}")
    if crop not in _CROPS:
        raise ValueError(f"AudioFolder: crop={crop!r} is not one of {_CROPS}")
    if max_excess is not None and not max_excess >= 0:
        raise ValueError(f"AudioFolder: max_excess must be >= 0 or None, got {max_excess!r}")
    if silence_db is not None and not silence_db <= 0:
        raise ValueError(f"AudioFolder: silence_db must be <= 0 dBFS or None, got {silence_db!r}")


def _compile_pattern(label_pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    """Compile the label pattern and check that it has a ``label`` group."""
    if label_pattern is None:
        return None
    try:
        pattern = re.compile(label_pattern)
    except re.error as exc:
        raise ValueError(f"AudioFolder: label_pattern {label_pattern!r} is not a valid regex: {exc}") from exc
    if "label" not in pattern.groupindex:
        raise ValueError(f"AudioFolder: label_pattern {pattern.pattern!r} needs a named group (?P<label>...)")
    return pattern


def _format_bad(bad: list[tuple[Path, str]], root: Path) -> str:
    """One line per bad file (relative to root), at most MAX_LISTED, then "and N more"."""
    return listing([f"{path.relative_to(root).as_posix()}: {reason}" for path, reason in bad])
