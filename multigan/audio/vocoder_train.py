"""Training pieces of the HiFi-GAN vocoder on a folder of speech clips, for :class:`multigan.Trainer`.

* :func:`load_clips` reads every clip of a folder (all bad files in one error), :func:`split_clips` makes a
  deterministic train/validation split (recorded by the recipe in ``run_dir/split.json``).
* :class:`SegmentDataset` yields random ``segment``-sample crops of the training clips with their input mel
  (``{"real": [segment], "cond": [n_mels, segment // hop]}``), as the published data loader does.
* :class:`MelL1` is the mel-spectrogram L1 generator loss (full band by default, as published), computed on
  the training device; :func:`build_trainer` puts a vocoder, a discriminator and these together.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..errors import MultiganError
from ..train_config import TrainConfig
from ..trainer import ExtraLoss, Trainer, ValidationContext
from .hifigan import MelExtractor, multi_resolution_stft_distance
from .io import AudioFileError, load_audio
from .vocoder import Vocoder
from .vocoder_metrics import ValidationClip

__all__ = ["Clip", "MelL1", "SegmentDataset", "VocoderDataError", "build_trainer", "load_clips",
           "split_clips", "stft_loss", "validation_clips"]

log = logging.getLogger("multigan")
PathLike = Union[str, os.PathLike]
Clip = tuple[str, Tensor]  # (file name relative to the folder, waveform [T])


class VocoderDataError(MultiganError):
    """The wav folder cannot be used (missing, empty, bad files, too few clips for the split)."""


def load_clips(folder: PathLike, sample_rate: int, normalize: bool = True, min_samples: int = 1,
               extensions: Sequence[str] = (".wav", ".flac", ".ogg")) -> list[Clip]:
    """Every audio file under ``folder`` (sorted by relative path) as a mono float32 waveform at ``sample_rate``.

    ``normalize`` scales each clip to a peak of 0.95 (as the published LJ Speech loader does). Files that are
    unreadable, silent or shorter than ``min_samples`` are all listed in one :class:`VocoderDataError`.
    """
    root = Path(folder)
    if not root.is_dir():
        raise VocoderDataError(f"--data {root}: {'does not exist' if not root.exists() else 'is not a folder'}")
    exts = tuple(e.lower() for e in extensions)
    files = sorted((p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(exts)),
                   key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise VocoderDataError(f"--data {root}: no audio files ({', '.join(exts)}) found")
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
        listed = "\n  ".join(bad[:50]) + (f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else "")
        raise VocoderDataError(f"--data {root}: {len(bad)} unusable file(s) of {len(files)}:\n  {listed}")
    return clips


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


def validation_clips(clips: Sequence[Clip], mel_cfg: Mapping[str, Any]) -> list[ValidationClip]:
    """Full-length validation clips, trimmed to whole hops, with their input mels."""
    ext = MelExtractor(**mel_cfg)
    hop = int(mel_cfg["hop_size"])
    out = []
    for name, wav in clips:
        audio = wav[: wav.shape[0] // hop * hop].contiguous()
        with torch.no_grad():
            out.append(ValidationClip(name, audio, ext(audio)[0]))
    return out


class SegmentDataset(Dataset):
    """Random crops of the training clips with their input mels.

    Item ``i`` crops clip ``i % len(clips)`` (so one epoch is ``repeats`` random crops of every clip) at a
    position drawn from torch's global RNG (seeded per batch by the trainer's data source); clips shorter
    than ``segment`` are zero-padded at the end. Items: ``{"real": [segment], "cond": [n_mels, segment // hop]}``.
    """

    def __init__(self, clips: Sequence[Clip], segment: int, mel_cfg: Mapping[str, Any], repeats: int = 1) -> None:
        hop = int(mel_cfg["hop_size"])
        if segment < 1 or segment % hop:
            raise VocoderDataError(f"data.segment={segment} must be a positive multiple of the hop size {hop}")
        if repeats < 1:
            raise VocoderDataError(f"data.repeats must be >= 1, got {repeats}")
        if not clips:
            raise VocoderDataError("no training clips")
        self.wavs = [w for _, w in clips]
        self.segment, self.repeats = int(segment), int(repeats)
        self.mel = MelExtractor(**mel_cfg)

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
            return {"real": real, "cond": self.mel(real)[0]}

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Tensor]]:
        """A batch at once: crops one by one, their mels in one call."""
        reals = torch.stack([self.crop(i) for i in indices])
        with torch.no_grad():
            mels = self.mel(reals)
        return [{"real": r, "cond": m} for r, m in zip(reals, mels)]


class MelL1(nn.Module):
    """``mean |log-mel(fake) - log-mel(real)|``, the HiFi-GAN mel loss, as an :class:`ExtraLoss` function.

    ``mel_cfg`` is the input front end; the loss uses the same settings with ``fmax`` replaced by
    ``loss_fmax`` (``None``: full band, as published). The real mel is computed without a graph.
    """

    def __init__(self, mel_cfg: Mapping[str, Any], loss_fmax: Optional[float] = None) -> None:
        super().__init__()
        self.mel = MelExtractor(**{**dict(mel_cfg), "fmax": loss_fmax})

    def forward(self, fake: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """``fake`` ``[B, T]`` against ``batch["real"]`` ``[B, T]``."""
        if self.mel.window.device != fake.device:
            self.mel.to(fake.device)
        with torch.no_grad():
            real_mel = self.mel(batch["real"])
        return torch.nn.functional.l1_loss(self.mel(fake), real_mel)


def stft_loss(fake: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    """Multi-resolution STFT distance of ``fake`` to ``batch["real"]`` (Parallel WaveGAN's auxiliary loss)."""
    return multi_resolution_stft_distance(fake, batch["real"])


def build_trainer(vocoder: Vocoder, discriminator: nn.Module, cfg: TrainConfig, train_clips: Sequence[Clip],
                  run_dir: PathLike, *, segment: int = 8192, mel_weight: float = 45.0, stft_weight: float = 0.0,
                  loss_fmax: Optional[float] = None, repeats: int = 1,
                  validate: Optional[Callable[[ValidationContext], dict]] = None,
                  meta: Optional[dict] = None) -> Trainer:
    """A :class:`multigan.Trainer` for ``vocoder`` on random crops of ``train_clips``.

    Extra generator losses: the mel L1 (``mel_weight``, published 45) and, when ``stft_weight > 0``, the
    multi-resolution STFT distance (:func:`stft_loss`).
    """
    dataset = SegmentDataset(train_clips, segment, vocoder.config["mel"], repeats)
    extra = [ExtraLoss("mel_l1", mel_weight, MelL1(vocoder.config["mel"], loss_fmax))]
    if stft_weight > 0:
        extra.append(ExtraLoss("mrstft", stft_weight, stft_loss))
    return Trainer(vocoder, discriminator, cfg, dataset, run_dir, extra_losses=extra, validate=validate, meta=meta)


def steps_per_epoch(n_clips: int, repeats: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps in one pass over ``n_clips * repeats`` items (incomplete batches are dropped)."""
    return max(1, (n_clips * repeats) // (batch_size * world_size))
