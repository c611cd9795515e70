"""Clips read lazily from a :class:`~multigan.audio.corpus_index.CorpusIndex`: only the crop is decoded.

:class:`ClipReader` reads ``length`` samples at the training rate from sample ``start`` of an indexed clip by
seeking (``soundfile``: only that segment is decoded); when the file's rate differs it reads the matching
stretch of the file plus a margin and resamples it (soxr HQ, as :func:`~multigan.audio.io.load_audio`), and
with ``normalize`` it scales by ``peak_level / peak`` from the index, so a crop is normalised exactly as the
whole clip would be.

:class:`LazySegmentDataset` is :class:`~multigan.audio.vocoders.data.clips.SegmentDataset` over such reads. A read
that fails (file deleted, truncated or changed since it was indexed) is named in a warning (once per file
and process), counted in :attr:`LazySegmentDataset.read_failures` (shared by DataLoader workers), and the
item is replaced by the next clip of the corpus: deterministic, never a crash, never silent.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ....errors import MultiganError
from ...corpus_index import CorpusIndex
from ...io import _to_mono, load_audio
from .clips import SegmentDataset

__all__ = ["ClipReadError", "ClipReader", "LazySegmentDataset", "RESAMPLE_MARGIN"]

log = logging.getLogger("multigan")

#: Extra file samples read on each side of a crop that is resampled, so the filter sees the same context.
RESAMPLE_MARGIN = 1024


class ClipReadError(MultiganError):
    """One indexed clip could not be read at training time (the message names the file)."""


class ClipReader:
    """Reads segments of the clips of ``index`` at its sample rate, mono, optionally peak-normalised.

    ``normalize`` needs an index built with ``peaks=True``; the scale is ``peak_level / peak``.
    """

    def __init__(self, index: CorpusIndex, normalize: bool = False, peak_level: float = 0.95) -> None:
        if normalize and not index.has_peaks:
            raise MultiganError("peak normalisation needs a corpus index built with peaks=True")
        self.index, self.normalize, self.peak_level = index, bool(normalize), float(peak_level)

    def frames(self, row: int) -> int:
        """Length of clip ``row`` in samples at the training rate."""
        return int(self.index.target_frames[row])

    def read(self, row: int, start: int, length: int) -> Tensor:
        """Samples ``[start, start + length)`` of clip ``row`` at the training rate, as float32 ``[length]``.

        Raises:
            ClipReadError: the file is gone, changed since it was indexed, unreadable or shorter than indexed.
        """
        ix = self.index
        path = ix.paths[row]
        self._check_unchanged(row, path)
        rate, target = int(ix.rates[row]), ix.sample_rate
        if rate == target:
            data = self._read_file(path, start, length)
        else:
            data = self._read_resampled(row, path, rate, start, length)
        wav = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        return wav * (self.peak_level / float(ix.peaks[row])) if self.normalize else wav

    def read_all(self, row: int) -> Tensor:
        """The whole clip ``row`` decoded at the training rate (validation clips), normalised like crops."""
        path = self.index.paths[row]
        self._check_unchanged(row, path)
        wav = load_audio(path, self.index.sample_rate, mono=self.index.mono)
        return wav * (self.peak_level / float(self.index.peaks[row])) if self.normalize else wav

    # ------------------------------------------------------------------------------------------ helpers

    def _check_unchanged(self, row: int, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ClipReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if st.st_size != self.index.sizes[row] or st.st_mtime_ns != self.index.mtimes[row]:
            raise ClipReadError(f"{path}: changed since it was indexed (size or modification time differ); "
                                "a new run re-indexes it")

    def _read_file(self, path: str, start: int, length: int) -> np.ndarray:
        """``length`` mono frames from ``start`` at the file's own rate (exactly ``length`` or an error)."""
        import soundfile as sf

        try:
            with sf.SoundFile(path) as handle:
                handle.seek(start)
                data = handle.read(length, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise ClipReadError(f"{path}: cannot be read ({exc})") from None
        if data.shape[0] != length:
            raise ClipReadError(f"{path}: holds fewer frames than indexed (read {data.shape[0]} of {length} "
                                f"from frame {start})")
        if not np.isfinite(data).all():
            raise ClipReadError(f"{path}: contains non-finite samples (NaN or inf)")
        return _to_mono(data, self.index.mono, path)

    def _read_resampled(self, row: int, path: str, rate: int, start: int, length: int) -> np.ndarray:
        """Read the file stretch behind a training-rate segment, with a margin, resample, cut the segment.

        The stretch starts on a file sample whose time is a whole number of training-rate samples, so the
        resampled stretch lines up with the resampled whole clip.
        """
        import soxr

        target = self.index.sample_rate
        step = rate // math.gcd(rate, target)  # file samples between sample instants shared by both rates
        first = max(0, (start * rate // target - RESAMPLE_MARGIN) // step * step)
        total = int(self.index.frames[row])
        last = min(total, -(-(start + length) * rate // target) + RESAMPLE_MARGIN)
        chunk = self._read_file(path, first, last - first)
        out = soxr.resample(chunk, rate, target, quality="HQ").astype(np.float32, copy=False)
        offset = start - first * target // rate
        seg = out[offset: offset + length]
        if seg.shape[0] < length:  # the clip's end: the whole-clip resampling pads with zeros too
            seg = np.pad(seg, (0, length - seg.shape[0]))
        return seg


class LazySegmentDataset(SegmentDataset):
    """Random ``segment``-sample crops of the clips ``rows`` of an index, read lazily, with their input mels.

    Item ``i`` crops clip ``rows[i % len(rows)]`` at a position drawn from torch's global RNG (re-seeded per
    batch by :class:`~multigan.data.BatchSource` from ``(seed, epoch, batch)``, so crops do not depend on the
    number of workers or on where a run resumed); clips shorter than ``segment`` are zero-padded at the end.
    Given the same clips, crops and normalisation equal :class:`SegmentDataset`'s over fully decoded clips.
    """

    def __init__(self, reader: ClipReader, rows: Sequence[int], segment: int, mel_cfg: Mapping[str, Any],
                 repeats: int = 1) -> None:
        self._setup(len(rows), segment, mel_cfg, repeats)  # nothing decoded up front
        self.reader, self.rows = reader, [int(r) for r in rows]
        self._failures = multiprocessing.Value("q", 0)  # shared with DataLoader workers
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.rows) * self.repeats

    @property
    def read_failures(self) -> int:
        """Reads that failed so far in this process and its DataLoader workers (each replaced by another clip)."""
        return int(self._failures.value)

    def crop(self, index: int) -> Tensor:
        """A random crop of clip ``index % len(rows)``; a failing clip is replaced by the next one (warned, counted)."""
        n = len(self.rows)
        for attempt in range(n):
            row = self.rows[(index + attempt) % n]
            frames = self.reader.frames(row)
            try:
                if frames >= self.segment:
                    start = int(torch.randint(0, frames - self.segment + 1, ()))
                    return self.reader.read(row, start, self.segment)
                return torch.nn.functional.pad(self.reader.read(row, 0, frames), (0, self.segment - frames))
            except ClipReadError as exc:
                self._failed(row, exc)
        raise ClipReadError(f"none of the {n} training clips can be read any more (see the warnings above)")

    def _failed(self, row: int, exc: ClipReadError) -> None:
        with self._failures.get_lock():
            self._failures.value += 1
            count = self._failures.value
        path = self.reader.index.paths[row]
        if path not in self._warned:
            self._warned.add(path)
            log.warning("training read failed, using the next clip instead (%d failed read(s) so far): %s",
                        count, exc)
