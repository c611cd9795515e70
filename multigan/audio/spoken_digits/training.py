"""How the digit classifier is trained: waveform and log-mel augmentation, the training loop, test accuracy."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .classifier import DigitClassifier, DigitClassifierConfig
from .data import FsddClips

__all__ = ["classifier_accuracy", "train_classifier"]


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
