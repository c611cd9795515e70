"""WaveGAN (Donahue et al. 2019): a 1-D transposed-convolution generator and a discriminator with phase
shuffle, made class-conditional with a label embedding in G and a projection discriminator (Miyato & Koyama
2018). With ``num_classes=0`` both are unconditional.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import MultiganError
from .generation import AudioGenerator
from .projection import ProjectionHead

STRIDE, KERNEL, LAYERS = 4, 25, 5


def _check_length(length: int) -> int:
    base = length // STRIDE**LAYERS
    if base < 1 or base * STRIDE**LAYERS != length:
        raise MultiganError(f"WaveGAN length {length} must be a multiple of {STRIDE**LAYERS} (e.g. 8192 or 16384)")
    return base


class WaveGANGenerator(AudioGenerator):
    """Noise (+ label) -> dense -> 5 transposed 1-D convolutions (kernel 25, stride 4) -> tanh waveform ``[B, 1, length]``."""

    def __init__(self, sample_rate: int = 8000, length: int = 8192, num_classes: int = 10, z_dim: int = 100,
                 dim: int = 64, embed_dim: int = 32, upsample: str = "transpose"):
        super().__init__(sample_rate=sample_rate, length=length, num_classes=num_classes, z_dim=z_dim, dim=dim,
                         embed_dim=embed_dim, upsample=upsample)
        if upsample not in ("transpose", "nearest"):
            raise MultiganError(f"WaveGAN upsample={upsample!r}: valid choices are 'transpose', 'nearest'")
        self.sample_rate, self.num_classes, self.z_dim, self.length = sample_rate, num_classes, z_dim, length
        self.base = _check_length(length)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        chans = [dim * 16, dim * 8, dim * 4, dim * 2, dim, 1]
        self.fc = nn.Linear(z_dim + (embed_dim if num_classes else 0), chans[0] * self.base)
        self.ups = nn.ModuleList()
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            if upsample == "transpose":
                self.ups.append(nn.ConvTranspose1d(c_in, c_out, KERNEL, STRIDE, padding=KERNEL // 2 - 1,
                                                   output_padding=1))
            else:
                self.ups.append(nn.Sequential(nn.Upsample(scale_factor=STRIDE, mode="nearest"),
                                              nn.Conv1d(c_in, c_out, KERNEL, padding=KERNEL // 2)))
        self.chans = chans

    def forward(self, noise: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = noise
        if self.embed is not None:
            if cond is None:
                raise MultiganError("this WaveGAN is conditional: pass the class labels as cond")
            h = torch.cat([noise, self.embed(cond)], dim=1)
        h = F.relu(self.fc(h)).view(-1, self.chans[0], self.base)
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) if i == len(self.ups) - 1 else F.relu(h)
        return h


class PhaseShuffle(nn.Module):
    """Shift each example in time by a random integer in ``[-n, n]`` with reflection padding (WaveGAN's D)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0 or not self.training:
            return x
        shifts = torch.randint(-self.n, self.n + 1, (x.shape[0],), device=x.device)
        padded = F.pad(x, (self.n, self.n), mode="reflect")
        length = x.shape[-1]
        idx = (torch.arange(length, device=x.device).unsqueeze(0) + self.n - shifts.unsqueeze(1))
        return padded.gather(-1, idx.unsqueeze(1).expand(-1, x.shape[1], -1))


class WaveGANDiscriminator(nn.Module):
    """5 strided 1-D convolutions with phase shuffle, then a linear logit plus a label projection.

    Returns one sub-discriminator: ``[[feature maps..., logits [B]]]``.
    """

    def __init__(self, length: int = 8192, num_classes: int = 10, dim: int = 64, phase_shuffle: int = 2,
                 use_spectral_norm: bool = True):
        super().__init__()
        self.base = _check_length(length)
        norm = spectral_norm if use_spectral_norm else (lambda m: m)
        chans = [1, dim, dim * 2, dim * 4, dim * 8, dim * 16]
        self.convs = nn.ModuleList(norm(nn.Conv1d(a, b, KERNEL, STRIDE, padding=KERNEL // 2 - 1))
                                   for a, b in zip(chans[:-1], chans[1:]))
        self.shuffle = PhaseShuffle(phase_shuffle)
        features = chans[-1] * self.base
        self.head = ProjectionHead(features, num_classes, use_spectral_norm)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> list[list[torch.Tensor]]:
        h = x if x.dim() == 3 else x.unsqueeze(1)
        maps = []
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            maps.append(h)
            if i < len(self.convs) - 1:
                h = self.shuffle(h)
        logits = self.head(h, cond)
        return [maps + [logits]]
