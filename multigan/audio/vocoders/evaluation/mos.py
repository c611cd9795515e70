"""A predicted MOS of speech without a reference: DistillMOS (Stahl & Gamper, 2025), whose weights ship inside
the ``distillmos`` wheel (nothing is downloaded at run time).

It takes 16 kHz mono audio and predicts the mean opinion score (about 1-5) a listening test would give; a
distillation of an XLS-R based predictor trained on listening tests. Predictions are clamped to [1, 5].
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from ....errors import MultiganError

__all__ = ["MOS_RATE", "MosPredictor"]

#: The predictor's sample rate.
MOS_RATE = 16000


class MosPredictor:
    """``predictor(wav16k) -> float``: the predicted MOS of one clip (16 kHz mono, at least 0.1 s)."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        try:
            import distillmos
        except ImportError as exc:  # pragma: no cover - a dependency of multigan
            raise MultiganError("the predicted MOS needs distillmos: pip install distillmos") from exc
        self.device = torch.device(device)
        # it prints where it read its weights (stdout is for JSON), and its layers draw initial weights from torch's
        # global stream before the checkpoint replaces them: fork it, so a training run keeps its random numbers
        with contextlib.redirect_stdout(io.StringIO()), torch.random.fork_rng(devices=[]):
            self.model = distillmos.ConvTransformerSQAModel().to(self.device).eval()

    @torch.no_grad()
    def __call__(self, wav16k: np.ndarray | torch.Tensor) -> float:
        audio = torch.as_tensor(np.asarray(wav16k, dtype=np.float32)).reshape(1, -1).to(self.device)
        if audio.shape[-1] < MOS_RATE // 10:
            raise MultiganError(f"the MOS predictor needs at least 0.1 s of audio, got {audio.shape[-1]} samples")
        return float(self.model(audio).reshape(-1)[0].clamp(1.0, 5.0))
