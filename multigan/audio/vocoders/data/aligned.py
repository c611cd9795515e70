"""Ground-truth-aligned ("GTA") vocoder training: crops of the audio with an acoustic model's own mels.

An acoustic model (Tacotron 2, FastSpeech 2 ...) run with teacher forcing over its training clips gives one
mel file per clip, aligned with the audio. Fine-tuning the vocoder on those mels instead of mels computed
from the audio teaches it the acoustic model's blur, the usual cure for buzz on synthesised speech.

Layout (``data.mel_path=DIR``): for the clip ``sub/LJ001-0001.wav`` of ``data.path``, the mel is
``DIR/sub/LJ001-0001`` + one of :data:`~multigan.audio.vocoders.mel_input.MEL_EXTENSIONS` (``.npy`` first), shaped
``[n_mels, frames]`` or ``[frames, n_mels]``, natural-log mels on the vocoder's settings.

Frame counts: a clip of ``T`` samples has ``n = T // hop`` whole frames; its mel file may hold ``n - 1``,
``n`` or ``n + 1`` frames (padding and centring conventions differ by one frame). Training uses the first
``min(frames, n)`` frames and the ``min(frames, n) * hop`` samples they cover, so crops stay aligned: mel frame
``f`` conditions samples ``[f * hop, (f + 1) * hop)``. Any other frame count is an error listing every such file.
Audio is used as it is (``data.normalize`` must be false: a peak-normalised clip no longer matches its mel).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor

from ....errors import MultiganError
from ...listing import listing
from ..mel_input import MEL_EXTENSIONS, read_mel_file
from .clips import SegmentDataset, VocoderDataError

__all__ = ["AlignedMelDataset", "FRAME_TOLERANCE", "aligned_crops", "find_mel_file", "load_aligned_mels"]

#: Mel files may hold this many frames more or fewer than ``samples // hop``.
FRAME_TOLERANCE: int = 1


def find_mel_file(mel_dir: Path, clip_name: str) -> Optional[Path]:
    """The mel file of clip ``clip_name`` (a path relative to the corpus) under ``mel_dir``, or ``None``."""
    stem = Path(clip_name).with_suffix("")
    for ext in MEL_EXTENSIONS:
        candidate = mel_dir / stem.parent / (stem.name + ext)
        if candidate.is_file():
            return candidate
    return None


def load_aligned_mels(mel_dir: str | Path, names: Sequence[str], samples: Sequence[int], hop: int,
                      n_mels: int) -> list[Tensor]:
    """The mel of every clip, trimmed to the frames its audio covers (``[n_mels, min(frames, samples // hop)]``).

    Raises:
        VocoderDataError: one error listing every clip without a mel file, with an unreadable one, a wrong band
            count, or a frame count off by more than :data:`FRAME_TOLERANCE` from ``samples // hop``.
    """
    root = Path(mel_dir)
    if not root.is_dir():
        raise VocoderDataError(f"data.mel_path {root}: {'does not exist' if not root.exists() else 'is not a folder'}")
    mels, bad = [], []
    for name, length in zip(names, samples):
        path = find_mel_file(root, name)
        if path is None:
            bad.append(f"{name}: no mel file ({root / Path(name).with_suffix('')}{{{','.join(MEL_EXTENSIONS)}}})")
            continue
        try:
            mel = read_mel_file(path, n_mels)
        except MultiganError as exc:
            bad.append(str(exc).removeprefix("--mel "))
            continue
        whole = int(length) // hop
        frames = mel.shape[1]
        if abs(frames - whole) > FRAME_TOLERANCE:
            bad.append(f"{path}: {frames} frames, but its audio {name} has {length} samples = {whole} frames of "
                       f"{hop} (+-{FRAME_TOLERANCE} allowed)")
            continue
        mels.append(mel[:, : min(frames, whole)].contiguous())
    if bad:
        raise VocoderDataError(f"data.mel_path {root}: {len(bad)} of {len(names)} clip(s) have no matching mel "
                               f"file:\n{listing(bad)}")
    return mels


class AlignedMelDataset(SegmentDataset):
    """Random aligned crops: ``segment`` samples of a clip and the ``segment // hop`` mel frames over them.

    ``reader`` reads clips by row (:class:`~multigan.audio.vocoders.data.lazy.ClipReader`:
    ``read(row, start, length)``).

    Item ``i`` uses clip ``rows[i % len(rows)]``; the start frame is drawn from torch's global RNG (seeded per
    batch by the trainer's data source). A clip shorter than ``segment`` is zero-padded and its mel padded with
    the mel's own minimum (silence on its scale). Items: ``{"real": [segment], "cond": [n_mels, segment // hop]}``.
    """

    def __init__(self, reader: Any, rows: Sequence[int], mels: Sequence[Tensor], segment: int,
                 mel_cfg: Mapping[str, Any], repeats: int = 1) -> None:
        self._setup(len(rows), segment, mel_cfg, repeats)
        self.reader, self.rows, self.mels = reader, [int(r) for r in rows], list(mels)
        self.hop = int(mel_cfg["hop_size"])
        self.frames = self.segment // self.hop

    def __len__(self) -> int:
        return len(self.rows) * self.repeats

    def item(self, index: int) -> dict[str, Tensor]:
        """The aligned crop of clip ``index % len(rows)``."""
        k = index % len(self.rows)
        row, mel = self.rows[k], self.mels[k]
        usable = mel.shape[1]
        if usable >= self.frames:
            f = int(torch.randint(0, usable - self.frames + 1, ()))
            return {"real": self.reader.read(row, f * self.hop, self.segment), "cond": mel[:, f: f + self.frames]}
        audio = self.reader.read(row, 0, usable * self.hop)
        return {"real": torch.nn.functional.pad(audio, (0, self.segment - audio.shape[0])),
                "cond": torch.nn.functional.pad(mel, (0, self.frames - usable), value=float(mel.min()))}

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return self.item(index)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Tensor]]:
        """A batch at once (the trainer's data source asks for whole batches)."""
        return [self.item(i) for i in indices]


def aligned_crops(corpus: Any, data: Any, mel_cfg: Mapping[str, Any]) -> AlignedMelDataset:
    """The training dataset of a :class:`~multigan.audio.vocoders.data.corpus.VocoderCorpus` with ``data.mel_path``.

    Raises:
        VocoderDataError: ``data.normalize`` is on, or mel files are missing or do not match (one error).
    """
    if data.normalize:
        raise VocoderDataError("data.mel_path: set data.normalize=false: the acoustic model's mels describe the "
                               "clips as they are, and peak-normalised audio would no longer match them")
    rows = corpus.train_rows
    reader = corpus.reader
    names = [reader.index.names[r] for r in rows]
    mels = load_aligned_mels(data.mel_path, names, [reader.frames(r) for r in rows], int(mel_cfg["hop_size"]),
                             int(mel_cfg["n_mels"]))
    return AlignedMelDataset(reader, rows, mels, data.segment, mel_cfg, data.repeats)
