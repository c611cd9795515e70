"""Scoring generated spoken digits: WaveGAN's evaluation protocol adapted to 8 kHz FSDD clips.

A small CNN (:mod:`.classifier`) classifies log-mel spectrograms of 1 s clips into the digits 0-9. Its
softmax gives the Inception Score (IS), its penultimate layer the Fréchet distance (FID), and its log-mel
input the nearest-neighbour distances D_self (small: mode collapse) and D_train (small: memorisation)::

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
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from ...errors import MultiganError
from ...files import write_atomically
from ...metrics import (
    frechet_distance,
    gaussian_stats,
    inception_score,
    label_accuracy,
    nearest_neighbour_distances,
    predicted_class_entropy,
)
from ..dataset import audio_files
from ..io import load_audio
from .cache import anchors_file, load_or_train_classifier
from .classifier import DigitClassifier, DigitClassifierConfig
from .data import load_fsdd, require_split

__all__ = ["DigitEvaluator", "DigitReference", "eval_digits", "evaluate_samples", "load_sample_folder",
           "real_anchors"]

PathLike = Union[str, os.PathLike]


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
    out: dict[str, float] = {
        "n_samples": n,
        "inception_score": mean,
        "inception_score_std": std,
        "fid": frechet_distance(mu, sigma, reference.mu, reference.sigma),
        **nearest_neighbour_distances(analysis.logmels, reference.logmels),
        "predicted_class_entropy": predicted_class_entropy(analysis.probs),
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
    path = anchors_file(classifier, data_dir, cache_dir, n, splits, seed)
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
    write_atomically(path, lambda p: p.write_text(json.dumps(out, indent=2)))
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
        # isolated from the caller's random streams: a training run draws the same noise whether the
        # classifier came from the cache or was trained just now (tests/test_digits.py)
        with torch.random.fork_rng(devices=[]):
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
        with torch.random.fork_rng(devices=[]):
            return evaluate_samples(self.classifier, wavs, labels, reference=self.reference, splits=self.splits)

    def anchors(self, n: int) -> dict[str, float]:
        """:func:`real_anchors` at ``n`` samples (memoised here and cached on disk)."""
        if n not in self._anchors:
            self._anchors[n] = real_anchors(self.classifier, self.data_dir, n, reference=self.reference,
                                            cache_dir=self.cache_dir, splits=self.splits)
        return self._anchors[n]


def _digit_of(name: str) -> int | None:
    head = name.split("_", 1)[0]
    return int(head) if "_" in name and len(head) == 1 and head.isdigit() else None


def load_sample_folder(
    samples_dir: PathLike, sample_rate: int = 8000
) -> tuple[torch.Tensor, list[str], list[int] | None]:
    """Every audio file (WAV, FLAC, OGG, MP3, AIFF) directly in ``samples_dir`` (sorted), resampled, as
    ``[N, T_max]`` end-padded.

    Returns ``(wavs, names, labels)``; labels come from names ``{digit}_...`` and are None unless every
    file is named that way.
    """
    samples_dir = Path(samples_dir)
    if not samples_dir.is_dir():
        raise MultiganError(f"samples folder {samples_dir} does not exist or is not a folder")
    paths = audio_files(samples_dir, recursive=False)
    if len(paths) < 2:
        raise MultiganError(f"samples folder {samples_dir} holds {len(paths)} audio file(s); at least 2 are needed")
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
    if evaluator is None:
        require_split(data_dir, "test", "the real-data anchors need")
    ev = evaluator if evaluator is not None else DigitEvaluator(data_dir, device, cache_dir)
    metrics: dict[str, Any] = ev.evaluate(wavs, labels)
    metrics.update(labelled=labels is not None, samples_dir=str(samples_dir), data_dir=str(data_dir),
                   classifier_test_accuracy=getattr(ev.classifier, "meta", {}).get("test_accuracy"),
                   anchors=ev.anchors(int(wavs.shape[0])))
    return metrics
