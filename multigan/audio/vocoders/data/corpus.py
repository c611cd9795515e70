"""A vocoder's corpus: the indexed clips, the deterministic train/validation split, the training crops.

:class:`VocoderCorpus` indexes ``data.path`` (a folder, a list file or a ``metadata.csv``; see
:mod:`multigan.audio.corpus_index`), splits the clip names with :func:`split_clips`, decodes only the few
validation clips, and serves training crops lazily (:class:`~multigan.audio.vocoders.data.lazy.LazySegmentDataset`)
or, with ``data.in_memory``, from clips decoded at start (the earlier loader). Both give the same crops.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch

from ....errors import MultiganError
from ...corpus_index import CorpusIndex, build_index
from .clips import Clip, SegmentDataset, VocoderDataError
from .lazy import ClipReader, LazySegmentDataset

__all__ = ["VocoderCorpus", "split_clips"]


def split_clips(clips: Sequence[Clip], n_val: int, seed: int = 0) -> tuple[list[Clip], list[Clip]]:
    """Deterministic train/validation split: ``n_val`` clips drawn with ``seed`` (same files, same split).

    The draw depends only on the sorted file names and the seed, not on the platform.
    """
    if n_val < 1:
        raise VocoderDataError(f"data.val_clips must be >= 1, got {n_val}")
    if len(clips) < n_val + 1:
        raise VocoderDataError(f"{len(clips)} clip(s) found: too few for {n_val} validation clip(s) plus training")
    order = sorted(range(len(clips)), key=lambda i: clips[i][0])
    perm = torch.randperm(len(clips), generator=torch.Generator().manual_seed(int(seed))).tolist()
    val_idx = {order[i] for i in perm[:n_val]}
    train = [c for i, c in enumerate(clips) if i not in val_idx]
    val = sorted((c for i, c in enumerate(clips) if i in val_idx), key=lambda c: c[0])
    return train, val


class VocoderCorpus:
    """The clips of ``data.path`` for a vocoder at ``sample_rate``, split into training and validation.

    ``data`` is a :class:`~multigan.audio.vocoders.sections.VocoderData`; clips shorter than ``min_samples``
    are bad files, as are unreadable, empty and silent ones (all named in one error unless ``data.skip_bad``).
    """

    def __init__(self, data: Any, sample_rate: int, min_samples: int = 1) -> None:
        self.data = data
        try:
            self.index = self._index(data.path, sample_rate, min_samples)
        except MultiganError as exc:
            raise VocoderDataError(f"data.path (--data): {exc}") from None
        self.reader = ClipReader(self.index, normalize=bool(data.normalize))
        if data.val_path:  # a separate held-out corpus: every clip of data.path trains
            try:
                self.val_reader = ClipReader(self._index(data.val_path, sample_rate, min_samples), bool(data.normalize))
            except MultiganError as exc:
                raise VocoderDataError(f"data.val_path: {exc}") from None
            self.train_rows, self.val_rows = list(range(len(self.index))), list(range(len(self.val_reader.index)))
        else:
            train, val = split_clips(list(zip(self.index.names, range(len(self.index)))), data.val_clips,
                                     data.split_seed)
            self.val_reader = self.reader
            self.train_rows, self.val_rows = [i for _, i in train], [i for _, i in val]
        self.dataset: Optional[SegmentDataset] = None

    def _index(self, path: str, sample_rate: int, min_samples: int) -> CorpusIndex:
        d = self.data
        return build_index(path, sample_rate, peaks=bool(d.normalize), min_frames=min_samples, skip_bad=d.skip_bad,
                           cache_dir=d.index_cache or None, workers=d.index_workers)

    @property
    def train_names(self) -> list[str]:
        """Names of the training clips, in corpus order (as recorded in ``split.json``)."""
        return [self.index.names[i] for i in self.train_rows]

    def validation_clips(self) -> list[Clip]:
        """The validation clips decoded in full (sorted by name), normalised like the training crops."""
        names = self.val_reader.index.names
        return [(names[i], self.val_reader.read_all(i)) for i in self.val_rows]

    def training_crops(self, segment: int, mel_cfg: Mapping[str, Any], repeats: int = 1) -> SegmentDataset:
        """The training dataset: lazy reads, or clips decoded now with ``data.in_memory``."""
        if self.data.in_memory:
            clips = [(self.index.names[i], self.reader.read_all(i)) for i in self.train_rows]
            self.dataset = SegmentDataset(clips, segment, mel_cfg, repeats)
        else:
            self.dataset = LazySegmentDataset(self.reader, self.train_rows, segment, mel_cfg, repeats)
        return self.dataset

    @property
    def read_failures(self) -> int:
        """Training reads that failed and were replaced (0 for in-memory clips)."""
        return self.dataset.read_failures if isinstance(self.dataset, LazySegmentDataset) else 0
