"""Spoken-digit evaluator for FSDD: WaveGAN's evaluation protocol adapted to 8 kHz spoken digits.

A small CNN classifies log-mel spectrograms of 1 s clips into the digits 0-9. Its softmax gives the
Inception Score (IS), its penultimate layer the Fréchet distance (FID), and its log-mel input the
nearest-neighbour distances D_self (small: mode collapse) and D_train (small: memorisation)::

    ev = DigitEvaluator("data/fsdd/recordings")          # trains once (a few CPU minutes), then cached
    metrics = ev.evaluate(wavs, labels)                  # wavs [N, T] at 8 kHz -> {"inception_score": ...}
    anchors = ev.anchors(len(wavs))                      # real train / real test / white-noise IS at N

Protocol notes (WaveGAN, Donahue et al. 2019, adapted):

* IS: ``exp(E_x KL(p(y|x) || p(y)))`` over ``splits`` chunks (10), mean and std over chunks; samples are
  shuffled with a fixed seed before chunking, so class-sorted folders score the same as mixed ones.
  IS depends on N (the marginal ``p(y)`` is estimated per chunk), hence anchors at the same N.
* FID: Fréchet distance between Gaussians fitted to the 64-d penultimate embeddings of the samples and
  of the whole FSDD train split. Biased upwards at small N; compare runs at equal N (anchors do).
* D_self / D_train: mean Euclidean distance from each sample to its nearest *other* sample / to its
  nearest train clip, on the flattened, unnormalised log-mel the classifier reads (natural log of the
  clamped mel magnitude, 40 mels x 63 frames by default). WaveGAN used the same kind of feature (its
  128-mel 16 kHz log-mel) and plain Euclidean distance, so values are comparable between our runs, not
  with the paper. Unlike WaveGAN's script, exact duplicates count (distance 0) in D_self.
* Clips are placed on a 1 s canvas (8000 samples) from their start, zero padded at the end; longer
  clips are cut at 1 s.

The classifier is cached (safetensors + JSON, no pickle) under ``$MULTIGAN_CACHE/digits`` or
``~/.cache/multigan/digits``, keyed by a hash of the audio files' names and contents and of the
classifier's hyper-parameters, so a changed dataset or config retrains.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MultiganError
from .dataset import AudioFolder
from .io import load_audio

__all__ = [
    "DigitAnalysis",
    "DigitClassifier",
    "DigitClassifierConfig",
    "DigitEvaluator",
    "DigitReference",
    "FsddClips",
    "cache_entry",
    "classifier_accuracy",
    "data_fingerprint",
    "default_cache_dir",
    "eval_digits",
    "evaluate_samples",
    "fid",
    "frechet_distance",
    "gaussian_stats",
    "inception_score",
    "label_accuracy",
    "load_classifier",
    "load_fsdd",
    "load_or_train_classifier",
    "load_sample_folder",
    "nearest_neighbour_distances",
    "real_anchors",
    "register",
    "save_classifier",
    "train_classifier",
]

PathLike = Union[str, os.PathLike]
logger = logging.getLogger("multigan")

#: Bumped whenever training or the cache layout changes, so old caches are not reused.
CACHE_FORMAT = 1
NUM_CLASSES = 10
_AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


# ============================================================================================ config


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


# ============================================================================================== model


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
        from .features import LogMel  # torchaudio, imported only when a classifier is built

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


# =============================================================================================== data


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
    folder = AudioFolder(data_dir, sample_rate, sample_rate, labels=list(range(NUM_CLASSES)), split=split,
                         max_excess=None, cache=False)
    wavs = [load_audio(item.path, sample_rate) for item in folder.items]
    labels = torch.tensor([int(item.label) for item in folder.items], dtype=torch.long)
    return FsddClips(wavs, labels, [str(item.speaker) for item in folder.items],
                     [item.path.name for item in folder.items])


# ======================================================================================= augmentation


class _Augmenter:
    """Training-time waveform augmentation drawing from one ``torch.Generator`` (deterministic)."""

    def __init__(self, config: DigitClassifierConfig, gen: torch.Generator) -> None:
        self.cfg, self.gen = config, gen

    def _uniform(self, low: float, high: float, n: int = 1) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=self.gen)

    def _place_one(self, wav: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        factor = float(self._uniform(*cfg.speed))
        length = max(16, round(wav.shape[0] / factor))
        wav = F.interpolate(wav[None, None], size=length, mode="linear", align_corners=False)[0, 0]
        out = torch.zeros(cfg.canvas)
        if length >= cfg.canvas:
            start = int(torch.randint(0, length - cfg.canvas + 1, (1,), generator=self.gen))
            return wav[start:start + cfg.canvas].clone()
        offset = 0
        if float(torch.rand(1, generator=self.gen)) < cfg.shift_prob:
            offset = int(torch.randint(0, cfg.canvas - length + 1, (1,), generator=self.gen))
        out[offset:offset + length] = wav
        return out

    def __call__(self, wavs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Raw clips to an augmented canvas batch ``[B, canvas]``."""
        cfg = self.cfg
        batch = torch.stack([self._place_one(w) for w in wavs])
        n = batch.shape[0]
        # random smooth EQ (microphone / channel colouring)
        if cfg.eq_db > 0:
            spec = torch.fft.rfft(batch, dim=1)
            pos = torch.linspace(0, math.pi, spec.shape[1])
            coeffs = torch.randn(n, 3, generator=self.gen) * cfg.eq_db
            curve_db = sum(coeffs[:, k:k + 1] * torch.cos((k + 1) * pos)[None] for k in range(3))
            batch = torch.fft.irfft(spec * 10.0 ** (curve_db / 20.0), n=cfg.canvas, dim=1)
        gain = 10.0 ** (self._uniform(*cfg.gain_db, n) / 20.0)
        batch = batch * gain[:, None]
        noisy = torch.rand(n, generator=self.gen) < cfg.noise_prob
        if noisy.any():
            power = batch.pow(2).sum(1) / (batch.abs() > 1e-6).sum(1).clamp_min(1)
            snr = 10.0 ** (self._uniform(*cfg.snr_db, n) / 10.0)
            std = (power / snr).sqrt() * noisy
            batch = batch + std[:, None] * torch.randn(batch.shape, generator=self.gen)
        return batch

    def warp(self, logmel: torch.Tensor) -> torch.Tensor:
        """Random time stretch and mel-axis warp of log-mels ``[N, bins, frames]``, per clip."""
        return self._warp_mel(self._stretch(logmel))

    def _stretch(self, logmel: torch.Tensor) -> torch.Tensor:
        """Stretch the time axis (speaking rate without pitch change); the end is cut or edge-padded."""
        low, high = self.cfg.time_stretch
        if low == high == 1.0:
            return logmel
        n, _, frames = logmel.shape
        factors = torch.exp(self._uniform(math.log(low), math.log(high), n))
        out = torch.empty_like(logmel)
        for i in range(n):
            size = max(2, round(frames * float(factors[i])))
            stretched = F.interpolate(logmel[i:i + 1], size=size, mode="linear", align_corners=False)[0]
            if size >= frames:
                out[i] = stretched[:, :frames]
            else:
                out[i, :, :size] = stretched
                out[i, :, size:] = stretched[:, -1:]
        return out

    def _warp_mel(self, logmel: torch.Tensor) -> torch.Tensor:
        """Stretch the mel axis by a random factor in ``[1 - mel_warp, 1 + mel_warp]``."""
        if self.cfg.mel_warp <= 0:
            return logmel
        n, bins, frames = logmel.shape
        factor = self._uniform(1.0 - self.cfg.mel_warp, 1.0 + self.cfg.mel_warp, n)
        src = (torch.arange(bins, dtype=torch.float32)[None] / factor[:, None]).clamp(max=bins - 1)
        low = src.floor().long()
        high = (low + 1).clamp(max=bins - 1)
        frac = (src - low)[..., None]
        pick = lambda index: logmel.gather(1, index[..., None].expand(-1, -1, frames))  # noqa: E731
        return pick(low) * (1.0 - frac) + pick(high) * frac

    def spec_augment(self, feats: torch.Tensor) -> torch.Tensor:
        """SpecAugment: zero (= train mean) random frequency and time bands of normalised log-mels."""
        cfg = self.cfg
        feats = feats.clone()
        n, bins, frames = feats.shape
        for _ in range(cfg.freq_masks):
            width = torch.randint(0, cfg.freq_mask_width + 1, (n,), generator=self.gen)
            start = (torch.rand(n, generator=self.gen) * (bins - width + 1)).long()
            idx = torch.arange(bins)[None]
            feats[(idx >= start[:, None]) & (idx < (start + width)[:, None])] = 0.0
        for _ in range(cfg.time_masks):
            width = torch.randint(0, cfg.time_mask_width + 1, (n,), generator=self.gen)
            start = (torch.rand(n, generator=self.gen) * (frames - width + 1)).long()
            idx = torch.arange(frames)[None]
            mask = (idx >= start[:, None]) & (idx < (start + width)[:, None])
            feats = feats.masked_fill(mask[:, None, :], 0.0)
        return feats


# =========================================================================================== training


def train_classifier(
    clips: FsddClips,
    config: DigitClassifierConfig = DigitClassifierConfig(),
    *,
    log: Callable[[str], None] | None = None,
) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on ``clips`` on the CPU; deterministic for a given config.seed.

    The global torch RNG is left as it was (training runs in a forked RNG), so calling this inside a
    recipe does not change the recipe's random stream. Threads: whatever ``torch.get_num_threads()`` is.
    """
    if len(clips) < 2:
        raise ValueError(f"train_classifier: need at least 2 clips, got {len(clips)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        model = DigitClassifier(config)
        with torch.no_grad():
            mel = model.log_mel(clips.canvas(config.canvas))
            model.feat_mean.copy_(mel.mean(dim=(0, 2)))
            model.feat_std.copy_(mel.std(dim=(0, 2)).clamp_min(1e-3))
        augment = _Augmenter(config, gen)
        steps_per_epoch = math.ceil(len(clips) / config.batch_size)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch,
                                                    pct_start=0.15)
        model.train()
        for epoch in range(config.epochs):
            order = torch.randperm(len(clips), generator=gen)
            total, correct, seen = 0.0, 0, 0
            for start in range(0, len(clips), config.batch_size):
                idx = order[start:start + config.batch_size]
                if idx.numel() < 2:  # BatchNorm needs 2 items
                    continue
                with torch.no_grad():
                    mel = augment.warp(model.log_mel(augment([clips.wavs[i] for i in idx])))
                    feats = augment.spec_augment(model.normalize(mel))
                labels = clips.labels[idx]
                logits, _ = model.classify_features(feats)
                loss = F.cross_entropy(logits, labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * idx.numel()
                correct += int((logits.argmax(1) == labels).sum())
                seen += idx.numel()
            if log is not None:
                log(f"epoch {epoch + 1}/{config.epochs}: loss {total / max(seen, 1):.3f}, "
                    f"augmented train accuracy {correct / max(seen, 1):.3f}")
        model.eval()
    return model


def classifier_accuracy(classifier: DigitClassifier, clips: FsddClips) -> float:
    """Accuracy of ``classifier`` on ``clips`` (start-aligned on the canvas, no augmentation)."""
    pred = classifier.predict(clips.canvas(classifier.config.canvas))
    return float((pred == clips.labels).double().mean())


# ============================================================================================== cache


def default_cache_dir() -> Path:
    """``$MULTIGAN_CACHE/digits`` if ``MULTIGAN_CACHE`` is set, else ``~/.cache/multigan/digits``."""
    root = os.environ.get("MULTIGAN_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "multigan") / "digits"


def _audio_files(data_dir: Path) -> list[Path]:
    return sorted((p for p in data_dir.rglob("*") if p.is_file() and p.name.lower().endswith(_AUDIO_EXTENSIONS)),
                  key=lambda p: p.relative_to(data_dir).as_posix())


def data_fingerprint(data_dir: PathLike) -> str:
    """SHA-256 over the relative names and contents of every audio file under ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise MultiganError(f"FSDD data folder {data_dir} does not exist or is not a folder")
    digest = hashlib.sha256()
    for path in _audio_files(data_dir):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _classifier_key(fingerprint: str, config: DigitClassifierConfig) -> str:
    payload = json.dumps({"format": CACHE_FORMAT, "data": fingerprint, "config": config.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def cache_entry(data_dir: PathLike, cache_dir: PathLike | None, config: DigitClassifierConfig) -> Path:
    """The folder :func:`load_or_train_classifier` uses for ``data_dir`` and ``config`` under ``cache_dir``."""
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache_root / _classifier_key(data_fingerprint(data_dir), config)


def _weights_hash(classifier: DigitClassifier) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(classifier.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_classifier(classifier: DigitClassifier, folder: PathLike, meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``classifier.safetensors`` and ``classifier.json`` (config + ``meta``) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    _write_atomic(folder / "classifier.safetensors", lambda p: save_file(state, str(p)))
    info = {"format": CACHE_FORMAT, "config": classifier.config.to_dict(), "meta": dict(meta or {})}
    _write_atomic(folder / "classifier.json", lambda p: p.write_text(json.dumps(info, indent=2)))
    return folder


def load_classifier(folder: PathLike, device: str | torch.device = "cpu") -> DigitClassifier:
    """Rebuild a classifier written by :func:`save_classifier` (eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    info = json.loads((folder / "classifier.json").read_text())
    model = DigitClassifier(DigitClassifierConfig.from_dict(info["config"]))
    model.load_state_dict(load_file(str(folder / "classifier.safetensors")))
    model.meta = info.get("meta", {})  # type: ignore[attr-defined]
    return model.to(device).eval()


def load_or_train_classifier(
    data_dir: PathLike,
    cache_dir: PathLike | None = None,
    config: DigitClassifierConfig = DigitClassifierConfig(),
    *,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
) -> DigitClassifier:
    """The classifier for the FSDD folder ``data_dir``: from the cache, or trained on its train split.

    The cache entry ``cache_dir/<key>/`` (default :func:`default_cache_dir`) is keyed by the names and
    contents of the audio files and by ``config``; training takes a few CPU minutes and also records
    the test-split accuracy in ``classifier.json``. An unreadable entry is retrained.
    """
    data_dir = Path(data_dir)
    folder = cache_entry(data_dir, cache_dir, config)
    if (folder / "classifier.json").is_file() and (folder / "classifier.safetensors").is_file():
        try:
            return load_classifier(folder, device)
        except Exception as exc:  # corrupt or foreign files: retrain over them
            logger.warning("digit classifier cache %s is unreadable (%s); retraining", folder, exc)
    logger.info("training the digit classifier on %s (cached in %s)", data_dir, folder)
    started = time.perf_counter()
    train = load_fsdd(data_dir, "train", config.sample_rate)
    model = train_classifier(train, config, log=log)
    seconds = time.perf_counter() - started
    meta: dict[str, Any] = {"data_dir": str(data_dir), "train_clips": len(train), "train_seconds": round(seconds, 1),
                            "torch_threads": torch.get_num_threads()}
    try:
        test = load_fsdd(data_dir, "test", config.sample_rate)
        meta.update(test_clips=len(test), test_accuracy=classifier_accuracy(model, test))
    except MultiganError:  # a folder without a test split still gets a classifier
        pass
    save_classifier(model, folder, meta)
    model.meta = meta  # type: ignore[attr-defined]
    logger.info("digit classifier trained in %.0f s (test accuracy %s)", seconds, meta.get("test_accuracy"))
    return model.to(device).eval()


# ============================================================================================ metrics


def _as_float64(x: torch.Tensor | np.ndarray | Sequence) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def inception_score(
    probs: torch.Tensor | np.ndarray, splits: int = 10, shuffle_seed: int | None = None
) -> tuple[float, float]:
    """Inception score ``(mean, std)`` of class probabilities ``[N, C]`` over ``splits`` chunks.

    Each chunk scores ``exp(mean_x KL(p(y|x) || p_chunk(y)))``; chunks are consecutive (as in WaveGAN and
    the original IS code) unless ``shuffle_seed`` permutes the rows first. One-hot predictions spread
    evenly over C classes in every chunk score exactly C; identical predictions score 1.
    """
    p = _as_float64(probs)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"inception_score: expected probabilities [N, C] with N >= 1, got shape {p.shape}")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"inception_score: splits must be in [1, N={p.shape[0]}], got {splits}")
    if shuffle_seed is not None:
        p = p[np.random.default_rng(shuffle_seed).permutation(p.shape[0])]
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(chunk > 0, chunk * (np.log(chunk) - np.log(marginal)), 0.0).sum(axis=1)
        scores.append(math.exp(float(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _sqrtm_psd(mat: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((mat + mat.T) / 2.0)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def gaussian_stats(emb: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (unbiased, float64) of embeddings ``[N, D]``."""
    x = _as_float64(emb)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need embeddings [N, D] with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between two Gaussians.

    The trace of the matrix square root uses the symmetric form ``tr((A^(1/2) B A^(1/2))^(1/2))``
    (eigen-decompositions of symmetric PSD matrices), which is exact and stable in float64.
    """
    root_a = _sqrtm_psd(sigma_a)
    cross = np.linalg.eigvalsh(root_a @ sigma_b @ root_a)
    trace_sqrt = float(np.sqrt(np.clip(cross, 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def fid(emb_a: torch.Tensor | np.ndarray, emb_b: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings ``[N, D]`` (N >= 2 each)."""
    return frechet_distance(*gaussian_stats(emb_a), *gaussian_stats(emb_b))


def _nn_dists(query: torch.Tensor, bank: torch.Tensor, exclude_self: bool, chunk: int = 512) -> torch.Tensor:
    """Distance from each query row to its nearest bank row (self excluded by index when asked)."""
    out = []
    for start in range(0, query.shape[0], chunk):
        d = torch.cdist(query[start:start + chunk], bank)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = math.inf
        out.append(d.min(dim=1).values)
    return torch.cat(out)


def nearest_neighbour_distances(
    samples_emb: torch.Tensor | np.ndarray, train_emb: torch.Tensor | np.ndarray | None = None
) -> dict[str, float]:
    """WaveGAN's nearest-neighbour diversity checks on feature rows ``[N, D]`` (any features).

    Returns ``{"d_self": mean distance from each sample to its nearest other sample}`` (small: mode
    collapse; exact duplicates give 0) and, with ``train_emb``, ``"d_train"``: mean distance to the
    nearest train row (small: memorisation). Euclidean distance, computed in float64.
    """
    x = torch.as_tensor(_as_float64(samples_emb)).flatten(1)
    if x.shape[0] < 2:
        raise ValueError(f"nearest_neighbour_distances: need at least 2 samples, got {x.shape[0]}")
    out = {"d_self": float(_nn_dists(x, x, exclude_self=True).mean())}
    if train_emb is not None:
        bank = torch.as_tensor(_as_float64(train_emb)).flatten(1)
        if bank.shape[1] != x.shape[1]:
            raise ValueError(f"nearest_neighbour_distances: feature sizes differ ({x.shape[1]} vs {bank.shape[1]})")
        out["d_train"] = float(_nn_dists(x, bank, exclude_self=False).mean())
    return out


def label_accuracy(probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | Sequence[int]) -> float:
    """Fraction of rows whose most probable class is the given label."""
    p = _as_float64(probs)
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64).reshape(-1)
    if p.shape[0] != y.shape[0]:
        raise ValueError(f"label_accuracy: {p.shape[0]} predictions but {y.shape[0]} labels")
    return float((p.argmax(axis=1) == y).mean()) if y.size else float("nan")


# ========================================================================================= evaluation


@dataclass
class DigitReference:
    """Statistics of the real train clips that samples are compared with."""

    mu: np.ndarray  # embedding mean [D]
    sigma: np.ndarray  # embedding covariance [D, D]
    logmels: torch.Tensor  # [N, n_mels * frames] float32, the D_train bank
    n: int = 0  # real clips summarised

    @classmethod
    def from_wavs(cls, classifier: DigitClassifier, wavs: torch.Tensor) -> "DigitReference":
        """Reference statistics of real clips ``[N, T]`` (at least 2)."""
        analysis = classifier.analyse(wavs)
        mu, sigma = gaussian_stats(analysis.embeddings)
        return cls(mu, sigma, analysis.logmels, int(analysis.probs.shape[0]))


def evaluate_samples(
    classifier: DigitClassifier,
    wavs: torch.Tensor | np.ndarray,
    labels: torch.Tensor | Sequence[int] | None = None,
    *,
    reference: DigitReference,
    splits: int = 10,
) -> dict[str, float]:
    """IS, FID, D_self, D_train (and label accuracy with ``labels``) of clips ``[N, T]`` at 8 kHz.

    ``reference`` holds the real train statistics (:meth:`DigitReference.from_wavs` or
    :class:`DigitEvaluator`). IS uses ``min(splits, N)`` chunks of the samples shuffled with seed 0.
    Keys: ``n_samples``, ``inception_score``, ``inception_score_std``, ``fid``, ``d_self``, ``d_train``,
    ``label_accuracy`` (with labels) and ``predicted_class_entropy`` (entropy in nats of the predicted-class
    histogram; log 10 = 2.30 when every digit is produced equally often).
    """
    analysis = classifier.analyse(wavs)
    n = int(analysis.probs.shape[0])
    if n < 2:
        raise MultiganError(f"evaluate_samples: need at least 2 samples, got {n}")
    mean, std = inception_score(analysis.probs, min(splits, n), shuffle_seed=0)
    mu, sigma = gaussian_stats(analysis.embeddings)
    hist = np.bincount(analysis.probs.argmax(1).numpy(), minlength=NUM_CLASSES) / n
    out: dict[str, float] = {
        "n_samples": n,
        "inception_score": mean,
        "inception_score_std": std,
        "fid": frechet_distance(mu, sigma, reference.mu, reference.sigma),
        **nearest_neighbour_distances(analysis.logmels, reference.logmels),
        "predicted_class_entropy": float(-(hist[hist > 0] * np.log(hist[hist > 0])).sum()),
    }
    if labels is not None:
        out["label_accuracy"] = label_accuracy(analysis.probs, labels)
    return out


def real_anchors(
    classifier: DigitClassifier,
    data_dir: PathLike,
    n: int,
    *,
    reference: DigitReference | None = None,
    cache_dir: PathLike | None = None,
    splits: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """What real and trivial audio score at ``n`` samples: the yardsticks for a generator's numbers.

    * ``real_train_is`` (+ ``_std``): ``n`` train clips; ``real_train_d_self``: their D_self, the
      diversity of real data at this N (omitted when ``n`` exceeds the train split).
    * ``real_test_is``, ``real_test_fid``: ``n`` test clips (unseen takes, drawn with replacement beyond
      the 250 available); ``real_test_d_train``: D_train of unseen real clips (distinct clips only);
      ``real_test_d_self`` only when ``n`` fits in the test split.
    * ``noise_*``: ``n`` clips of white noise (std 0.1): IS, FID, D_self, D_train.

    Draws are seeded; the result is cached as JSON under ``cache_dir/anchors`` per classifier weights,
    data, ``n``, ``splits`` and ``seed``.
    """
    if n < 2:
        raise ValueError(f"real_anchors: n must be >= 2, got {n}")
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    fingerprint = data_fingerprint(data_dir)
    path = cache_root / "anchors" / f"{_weights_hash(classifier)}_{fingerprint[:16]}_n{n}_k{splits}_s{seed}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    cfg = classifier.config
    train = load_fsdd(data_dir, "train", cfg.sample_rate).canvas(cfg.canvas)
    test = load_fsdd(data_dir, "test", cfg.sample_rate).canvas(cfg.canvas)
    if reference is None:
        reference = DigitReference.from_wavs(classifier, train)
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {"n": n, "splits": splits}
    for name, pool in (("real_train", train), ("real_test", test)):
        replace = n > pool.shape[0]
        idx = torch.as_tensor(rng.choice(pool.shape[0], size=n, replace=replace))
        analysis = classifier.analyse(pool[idx])
        out[f"{name}_is"], out[f"{name}_is_std"] = inception_score(analysis.probs, min(splits, n), shuffle_seed=0)
        if not replace:
            out[f"{name}_d_self"] = nearest_neighbour_distances(analysis.logmels)["d_self"]
        if name == "real_test":  # train clips are in the reference itself: their FID/D_train mean nothing
            out[f"{name}_fid"] = frechet_distance(*gaussian_stats(analysis.embeddings), reference.mu, reference.sigma)
            distinct = torch.as_tensor(np.unique(idx.numpy(), return_index=True)[1])
            nn_test = nearest_neighbour_distances(analysis.logmels[distinct], reference.logmels)
            out[f"{name}_d_train"] = nn_test["d_train"]
    noise = 0.1 * torch.randn(n, cfg.canvas, generator=torch.Generator().manual_seed(seed))
    metrics = evaluate_samples(classifier, noise, reference=reference, splits=splits)
    out.update(noise_is=metrics["inception_score"], noise_is_std=metrics["inception_score_std"],
               noise_fid=metrics["fid"], noise_d_self=metrics["d_self"], noise_d_train=metrics["d_train"])
    _write_atomic(path, lambda p: p.write_text(json.dumps(out, indent=2)))
    return out


class DigitEvaluator:
    """The classifier and real train statistics, loaded once, for fast repeated evaluation.

    For validation callbacks: ``DigitEvaluator(data_dir, device).evaluate(wavs, labels)`` takes about
    a second for 500 clips on a CPU core. The classifier is trained on first use (a few CPU minutes)
    and cached; see :func:`load_or_train_classifier`. Pass ``classifier`` to use a given one instead.
    """

    def __init__(
        self,
        data_dir: PathLike,
        device: str | torch.device = "cpu",
        cache_dir: PathLike | None = None,
        *,
        splits: int = 10,
        config: DigitClassifierConfig = DigitClassifierConfig(),
        classifier: DigitClassifier | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.cache_dir = cache_dir
        self.splits = splits
        if classifier is None:
            classifier = load_or_train_classifier(self.data_dir, cache_dir, config, device=device)
        self.classifier = classifier.to(device).eval()
        self.sample_rate = self.classifier.config.sample_rate
        train = load_fsdd(self.data_dir, "train", self.sample_rate)
        self.reference = DigitReference.from_wavs(self.classifier, train.canvas(self.classifier.config.canvas))
        self._anchors: dict[int, dict[str, float]] = {}

    def evaluate(self, wavs: torch.Tensor | np.ndarray, labels: torch.Tensor | Sequence[int] | None = None
                 ) -> dict[str, float]:
        """Metrics of clips ``[N, T]`` (or ``[N, 1, T]``) at 8 kHz; see :func:`evaluate_samples`."""
        return evaluate_samples(self.classifier, wavs, labels, reference=self.reference, splits=self.splits)

    def anchors(self, n: int) -> dict[str, float]:
        """:func:`real_anchors` at ``n`` samples (memoised here and cached on disk)."""
        if n not in self._anchors:
            self._anchors[n] = real_anchors(self.classifier, self.data_dir, n, reference=self.reference,
                                            cache_dir=self.cache_dir, splits=self.splits)
        return self._anchors[n]


# ================================================================================== folder and CLI


def _digit_of(name: str) -> int | None:
    head = name.split("_", 1)[0]
    return int(head) if "_" in name and len(head) == 1 and head.isdigit() else None


def load_sample_folder(
    samples_dir: PathLike, sample_rate: int = 8000
) -> tuple[torch.Tensor, list[str], list[int] | None]:
    """Every ``*.wav`` directly in ``samples_dir`` (sorted), resampled, as ``[N, T_max]`` end-padded.

    Returns ``(wavs, names, labels)``; labels come from names ``{digit}_...`` and are None unless every
    file is named that way.
    """
    samples_dir = Path(samples_dir)
    if not samples_dir.is_dir():
        raise MultiganError(f"samples folder {samples_dir} does not exist or is not a folder")
    paths = sorted(p for p in samples_dir.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
    if len(paths) < 2:
        raise MultiganError(f"samples folder {samples_dir} holds {len(paths)} .wav file(s); at least 2 are needed")
    clips = [load_audio(p, sample_rate) for p in paths]
    wavs = torch.zeros(len(clips), max(c.shape[0] for c in clips))
    for i, clip in enumerate(clips):
        wavs[i, :clip.shape[0]] = clip
    digits = [_digit_of(p.name) for p in paths]
    labels = None if any(d is None for d in digits) else [int(d) for d in digits]  # type: ignore[arg-type]
    return wavs, [p.name for p in paths], labels


def eval_digits(
    data_dir: PathLike,
    samples_dir: PathLike,
    cache_dir: PathLike | None = None,
    device: str | torch.device = "cpu",
    *,
    evaluator: DigitEvaluator | None = None,
) -> dict[str, Any]:
    """Metrics of the WAVs in ``samples_dir`` plus the real-data anchors at the same N.

    Files are resampled to 8 kHz; names ``{digit}_...`` give labels (``label_accuracy``) when every file
    has one. The result holds the metrics of :func:`evaluate_samples`, ``labelled``, ``samples_dir``,
    ``data_dir``, ``classifier_test_accuracy`` and ``anchors`` (:func:`real_anchors`).
    """
    rate = evaluator.sample_rate if evaluator is not None else DigitClassifierConfig().sample_rate
    wavs, _, labels = load_sample_folder(samples_dir, rate)  # check the samples before any training
    ev = evaluator if evaluator is not None else DigitEvaluator(data_dir, device, cache_dir)
    metrics: dict[str, Any] = ev.evaluate(wavs, labels)
    metrics.update(labelled=labels is not None, samples_dir=str(samples_dir), data_dir=str(data_dir),
                   classifier_test_accuracy=getattr(ev.classifier, "meta", {}).get("test_accuracy"),
                   anchors=ev.anchors(int(wavs.shape[0])))
    return metrics


def _cmd_eval_digits(args: argparse.Namespace) -> None:
    result = eval_digits(args.data, args.samples, args.cache, args.device)
    text = json.dumps(result, indent=2)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    """Add ``eval-digits`` to a ``multigan`` sub-command parser set; returns the new parser."""
    parser = subparsers.add_parser(
        "eval-digits", help="score a folder of spoken-digit WAVs (IS, FID, D_self, D_train) against FSDD",
        description="Inception score, FID and nearest-neighbour distances of generated spoken digits, with "
                    "real train / real test / white-noise anchors at the same sample count. Names "
                    "{digit}_*.wav also give the label accuracy.")
    parser.add_argument("--data", required=True, help="FSDD recordings folder ({digit}_{speaker}_{take}.wav)")
    parser.add_argument("--samples", required=True, help="folder of generated .wav files (any rate, mono)")
    parser.add_argument("--cache", default=None, help="classifier cache folder (default $MULTIGAN_CACHE/digits "
                                                      "or ~/.cache/multigan/digits)")
    parser.add_argument("--out", default=None, help="also write the JSON result to this file")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(func=_cmd_eval_digits)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m multigan.audio.digits eval-digits ...`` (same as ``multigan eval-digits``)."""
    from ..cli import main as cli_main

    return cli_main(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
