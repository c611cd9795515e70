"""Vocoder data: clips from a folder of speech, random training crops with their mels, validation clips.

* :func:`load_clips` reads every clip of a folder (all bad files in one error).
* :class:`SegmentDataset` yields random ``segment``-sample crops of the training clips with their input mel
  (``{"real": [segment], "cond": [n_mels, segment // hop]}``), as the published HiFi-GAN data loader does.
* :func:`validation_clips` trims held-out clips to whole hops and computes their input mels.

Mels come from :meth:`LogMel.from_settings <multigan.audio.features.LogMel.from_settings>` of a vocoder's
``mel`` settings, so they are the features its generator is trained on, whatever the generator family.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ....errors import MultiganError
from ...features import LogMel
from ...io import AudioFileError, load_audio
from ...listing import AUDIO_EXTENSIONS, audio_files, listing

__all__ = ["Clip", "SegmentDataset", "ValidationClip", "VocoderDataError", "load_clips", "validation_clips"]

PathLike = Union[str, os.PathLike]
Clip = tuple[str, Tensor]  # (file name relative to the folder, waveform [T])


class VocoderDataError(MultiganError):
    """The wav folder cannot be used (missing, empty, bad files, too few clips for the split)."""


def load_clips(folder: PathLike, sample_rate: int, normalize: bool = True, min_samples: int = 1,
               extensions: Sequence[str] = AUDIO_EXTENSIONS) -> list[Clip]:
    """Every audio file under ``folder`` (sorted by relative path) as a mono float32 waveform at ``sample_rate``.

    ``normalize`` scales each clip to a peak of 0.95 (as the published LJ Speech loader does). Files that are
    unreadable, silent or shorter than ``min_samples`` are all listed in one :class:`VocoderDataError`.
    """
    root = Path(folder)
    if not root.is_dir():
        raise VocoderDataError(f"--data {root}: {'does not exist' if not root.exists() else 'is not a folder'}")
    files = audio_files(root, extensions)
    if not files:
        raise VocoderDataError(f"--data {root}: no audio files ({', '.join(extensions)}) found")
    clips, bad = [], []
    for path in files:
        try:
            wav = load_audio(path, sample_rate)
        except AudioFileError as exc:
            bad.append(f"{path}: {exc.reason}")
            continue
        peak = float(wav.abs().max())
        if peak == 0.0:
            bad.append(f"{path}: silent")
        elif wav.shape[0] < min_samples:
            bad.append(f"{path}: {wav.shape[0]} samples, fewer than {min_samples}")
        else:
            clips.append((path.relative_to(root).as_posix(), wav * (0.95 / peak) if normalize else wav))
    if bad:
        raise VocoderDataError(f"--data {root}: {len(bad)} unusable file(s) of {len(files)}:\n{listing(bad)}")
    return clips


@dataclass
class ValidationClip:
    """One held-out clip: its name, waveform ``[T]`` (a whole number of hops) and input mel ``[n_mels, frames]``."""

    name: str
    audio: Tensor
    mel: Tensor


def validation_clips(clips: Sequence[Clip], mel_cfg: Mapping[str, Any]) -> list[ValidationClip]:
    """Full-length validation clips, trimmed to whole hops, with their input mels (``mel_cfg``: mel settings)."""
    ext = LogMel.from_settings(mel_cfg)
    hop = int(mel_cfg["hop_size"])
    out = []
    for name, wav in clips:
        audio = wav[: wav.shape[0] // hop * hop].contiguous()
        with torch.no_grad():
            out.append(ValidationClip(name, audio, ext(audio)))
    return out


class SegmentDataset(Dataset):
    """Random crops of the training clips with their input mels (``mel_cfg``: a vocoder's mel settings).

    Item ``i`` crops clip ``i % len(clips)`` (so one epoch is ``repeats`` random crops of every clip) at a
    position drawn from torch's global RNG (seeded per batch by the trainer's data source); clips shorter
    than ``segment`` are zero-padded at the end. Items: ``{"real": [segment], "cond": [n_mels, segment // hop]}``.
    """

    def __init__(self, clips: Sequence[Clip], segment: int, mel_cfg: Mapping[str, Any], repeats: int = 1) -> None:
        self._setup(len(clips), segment, mel_cfg, repeats)
        self.wavs = [w for _, w in clips]

    def _setup(self, n_clips: int, segment: int, mel_cfg: Mapping[str, Any], repeats: int) -> None:
        """Check and keep what every crop dataset shares (subclasses reading clips lazily call this alone)."""
        hop = int(mel_cfg["hop_size"])
        if segment < 1 or segment % hop:
            raise VocoderDataError(f"data.segment={segment} must be a positive multiple of the hop size {hop}")
        if repeats < 1:
            raise VocoderDataError(f"data.repeats must be >= 1, got {repeats}")
        if not n_clips:
            raise VocoderDataError("no training clips")
        self.segment, self.repeats = int(segment), int(repeats)
        self.mel = LogMel.from_settings(mel_cfg)

    def __len__(self) -> int:
        return len(self.wavs) * self.repeats

    def crop(self, index: int) -> Tensor:
        """A random ``segment``-sample crop of clip ``index % len(clips)``."""
        wav = self.wavs[index % len(self.wavs)]
        if wav.shape[0] >= self.segment:
            start = int(torch.randint(0, wav.shape[0] - self.segment + 1, ()))
            return wav[start: start + self.segment]
        return torch.nn.functional.pad(wav, (0, self.segment - wav.shape[0]))

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        real = self.crop(index)
        with torch.no_grad():
            return {"real": real, "cond": self.mel(real)}

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Tensor]]:
        """A batch at once: crops one by one, their mels in one call."""
        reals = torch.stack([self.crop(i) for i in indices])
        with torch.no_grad():
            mels = self.mel(reals)
        return [{"real": r, "cond": m} for r, m in zip(reals, mels)]
