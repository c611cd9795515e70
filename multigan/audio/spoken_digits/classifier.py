"""The digit classifier: its hyper-parameters and the CNN over log-mels of 1 s clips."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import NUM_CLASSES

__all__ = ["DigitAnalysis", "DigitClassifier", "DigitClassifierConfig"]


@dataclass(frozen=True)
class DigitClassifierConfig:
    """Hyper-parameters of the digit classifier: features, network, training and augmentation.

    Every field enters the cache key; change one and :func:`load_or_train_classifier` retrains.
    """

    # features
    sample_rate: int = 8000
    canvas: int = 8000  # samples per clip (1 s); shorter clips are zero padded at the end
    n_fft: int = 256
    hop: int = 128
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 4000.0
    # network
    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 64
    dropout: float = 0.3
    # training
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-2
    seed: int = 0
    # augmentation (training only)
    speed: tuple[float, float] = (0.8, 1.2)  # resampling factor range: tempo and pitch together
    gain_db: tuple[float, float] = (-20.0, 6.0)
    shift_prob: float = 0.5  # clips placed at a random offset of the canvas (others start at 0)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (5.0, 40.0)  # additive white noise, relative to the clip's power
    eq_db: float = 4.0  # std of a random smooth spectral tilt/EQ (3 cosine terms), in dB
    mel_warp: float = 0.0  # mel-axis stretch by a factor in [1 - w, 1 + w] (formant shift without tempo change)
    time_stretch: tuple[float, float] = (0.7, 1.6)  # log-mel time-axis stretch (tempo without pitch), log-uniform
    freq_masks: int = 2
    freq_mask_width: int = 6
    time_masks: int = 2
    time_mask_width: int = 8

    @property
    def frames(self) -> int:
        """Log-mel frames of one canvas (centred STFT)."""
        return self.canvas // self.hop + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DigitClassifierConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"DigitClassifierConfig: unknown keys {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass
class DigitAnalysis:
    """What the classifier sees in a batch of clips (CPU tensors)."""

    probs: torch.Tensor  # [N, 10] softmax
    embeddings: torch.Tensor  # [N, embed_dim] penultimate activations (FID space)
    logmels: torch.Tensor  # [N, n_mels * frames] flattened unnormalised log-mel (D_self/D_train space)


class DigitClassifier(nn.Module):
    """CNN over per-bin standardised log-mels: conv blocks (3x3 conv, batch norm, ReLU, 2x2 max pool), then
    mean and max over time of the (channel, frequency) features, a 64-d embedding and 10 logits.

    ``forward(wavs)`` takes waveforms ``[N, T]`` or ``[N, 1, T]`` at ``config.sample_rate`` (placed on
    the canvas by :meth:`place`) and returns logits ``[N, 10]``.
    """

    def __init__(self, config: DigitClassifierConfig = DigitClassifierConfig()) -> None:
        super().__init__()
        from ..features import LogMel  # torchaudio, imported only when a classifier is built

        self.config = config
        self.logmel = LogMel(config.sample_rate, config.n_fft, config.hop, config.n_mels, config.fmin, config.fmax)
        self.register_buffer("feat_mean", torch.zeros(config.n_mels))
        self.register_buffer("feat_std", torch.ones(config.n_mels))
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in config.channels:
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2, ceil_mode=True)]
            c_in = c_out
        self.body = nn.Sequential(*blocks)
        bins = config.n_mels
        for _ in config.channels:
            bins = math.ceil(bins / 2)
        self.embed = nn.Sequential(nn.Linear(2 * c_in * bins, config.embed_dim), nn.BatchNorm1d(config.embed_dim),
                                   nn.ReLU(inplace=True))
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.embed_dim, NUM_CLASSES)

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return self.head.weight.device

    def place(self, wavs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Waveforms ``[N, T]``/``[N, 1, T]`` on the canvas ``[N, canvas]`` (end padding, excess cut)."""
        wavs = torch.as_tensor(wavs, dtype=torch.float32)
        if wavs.ndim == 3 and wavs.shape[1] == 1:
            wavs = wavs[:, 0]
        if wavs.ndim != 2:
            raise ValueError(f"DigitClassifier: expected waveforms [N, T] or [N, 1, T], got {tuple(wavs.shape)}")
        canvas = self.config.canvas
        if wavs.shape[1] >= canvas:
            return wavs[:, :canvas]
        return F.pad(wavs, (0, canvas - wavs.shape[1]))

    def log_mel(self, canvas: torch.Tensor) -> torch.Tensor:
        """Canvas ``[N, canvas]`` to unnormalised log-mel ``[N, n_mels, frames]``."""
        return self.logmel(canvas)

    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        """Per-mel-bin standardisation with the train-set statistics."""
        return (logmel - self.feat_mean[:, None]) / self.feat_std[:, None]

    def classify_features(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised log-mel ``[N, n_mels, frames]`` to ``(logits [N, 10], embeddings [N, embed_dim])``."""
        h = self.body(feats.unsqueeze(1)).flatten(1, 2)  # channels x frequency: [N, C * F, time]
        h = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        emb = self.embed(h)
        return self.head(self.drop(emb)), emb

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        """Waveforms to logits ``[N, 10]``."""
        canvas = self.place(wavs).to(self.device)
        return self.classify_features(self.normalize(self.log_mel(canvas)))[0]

    @torch.no_grad()
    def analyse(self, wavs: torch.Tensor | np.ndarray, batch_size: int = 250) -> DigitAnalysis:
        """Probabilities, embeddings and log-mels of clips (eval mode, batched; results on CPU)."""
        was_training = self.training
        self.eval()
        canvas = self.place(wavs)
        probs, embs, mels = [], [], []
        for start in range(0, canvas.shape[0], batch_size):
            mel = self.log_mel(canvas[start:start + batch_size].to(self.device))
            logits, emb = self.classify_features(self.normalize(mel))
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            embs.append(emb.float().cpu())
            mels.append(mel.flatten(1).float().cpu())
        self.train(was_training)
        return DigitAnalysis(torch.cat(probs), torch.cat(embs), torch.cat(mels))

    @torch.no_grad()
    def predict(self, wavs: torch.Tensor | np.ndarray, batch_size: int = 250) -> torch.Tensor:
        """Predicted digits ``[N]`` (CPU)."""
        return self.analyse(wavs, batch_size).probs.argmax(dim=1)
