"""Sample-quality metrics on any embedding: inception score, Fréchet distance, nearest neighbours, accuracy.

Nothing here knows a modality: the inputs are class probabilities ``[N, C]``, embeddings ``[N, D]`` or
feature rows from whatever classifier or feature extractor the caller uses (an audio or image classifier,
a text encoder). Everything is computed in float64 on the CPU.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

__all__ = [
    "fid",
    "frechet_distance",
    "gaussian_stats",
    "inception_score",
    "label_accuracy",
    "nearest_neighbour_distances",
    "predicted_class_entropy",
]


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


def predicted_class_entropy(probs: torch.Tensor | np.ndarray) -> float:
    """Entropy in nats of the histogram of the most probable classes of ``probs`` ``[N, C]`` (N >= 1).

    ``log(C)`` when every class is predicted equally often; 0 when one class takes all.
    """
    p = _as_float64(probs)
    hist = np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / p.shape[0]
    return float(-(hist[hist > 0] * np.log(hist[hist > 0])).sum())
