"""SpecGAN's training data: clips -> log spectrograms, the generator's normaliser fitted on them, the images.

:func:`fit_spectrogram_set` computes the spectrograms with the generator's own feature definition
(:meth:`~multigan.audio.specgan.SpecGANGenerator.spectrogram`), fits its per-bin normaliser on them and returns
the normalised images as a :class:`SpectrogramSet` -- any dataset of ``{"real": waveform}`` items will do
(e.g. an :class:`~multigan.audio.dataset.AudioFolder`), with the class labels given separately.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch.utils.data import Dataset

from .specgan import SpecGANGenerator

__all__ = ["SpectrogramSet", "fit_spectrogram_set"]

log = logging.getLogger("multigan")


class SpectrogramSet(Dataset):
    """Pre-computed normalised spectrograms with their labels: ``{"real": [1, size, size], "cond": label}``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        item = {"real": self.images[i]}
        if self.labels is not None:
            item["cond"] = self.labels[i]
        return item


def fit_spectrogram_set(generator: SpecGANGenerator, clips: Sequence[dict] | Dataset,
                        labels: torch.Tensor | None = None, chunk: int = 256) -> SpectrogramSet:
    """Fit ``generator.normalizer`` on the spectrograms of every clip (``clips[i]["real"]``, all on the
    generator's canvas) and return the normalised images with ``labels`` (class indices, or None when
    unconditional). Spectrograms are computed ``chunk`` clips at a time; this sets the generator's normaliser."""
    wavs = torch.stack([clips[i]["real"] for i in range(len(clips))]).squeeze(1)
    with torch.no_grad():
        specs = torch.cat([generator.spectrogram(part) for part in wavs.split(chunk)])
        generator.normalizer.fit(specs)
        images = generator.normalizer.normalize(specs)
    log.info("%d training clips -> spectrograms %s", len(clips), tuple(images.shape[1:]))
    return SpectrogramSet(images, labels)
