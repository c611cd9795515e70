"""Vocos' ``MelSpectrogramFeatures`` (gemelo-ai/vocos ``feature_extractors.py``) written in plain functions, for
faithfulness tests: librosa's HTK-scale filterbank without norm (torchaudio ``MelSpectrogram``'s defaults),
``torch.stft`` with a Hann window, ``power=1`` (plain ``|STFT|``), ``log(clip(x, 1e-7))``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def vocos_reference_mel(y: Tensor, sample_rate: int, n_fft: int, hop: int, n_mels: int,
                        padding: str = "center") -> Tensor:
    """``[B, T]`` -> ``[B, n_mels, frames]``: ``padding="center"`` frames centred on ``t * hop`` (reflect padding
    ``n_fft // 2``), ``"same"`` reflect-pads ``(n_fft - hop) // 2`` and frames without centring."""
    import librosa

    basis = torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0,
                                                 fmax=sample_rate / 2, htk=True, norm=None)).float()
    if padding == "same":
        pad = (n_fft - hop) // 2
        y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=n_fft, window=torch.hann_window(n_fft),
                      center=padding == "center", pad_mode="reflect", return_complex=True).abs()
    return torch.log(torch.clip(torch.matmul(basis, spec), min=1e-7))
