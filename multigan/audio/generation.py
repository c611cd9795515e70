"""What every audio generator offers once trained: ``generate``, ``write_samples`` and label checks.

    g = multigan.load("runs/fsdd_specgan")
    wavs = g.generate(10, digit=7, seed=0)      # [10, samples] in [-1, 1]
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import MultiganError
from ..generator import ExportableGenerator
from .io import save_wav


class AudioGenerator(ExportableGenerator):
    """Base class of class-conditional (or unconditional) audio generators.

    Subclasses set ``self.sample_rate``, ``self.num_classes`` (0 = unconditional), ``self.z_dim`` and
    implement ``forward(noise, cond)`` returning the model's native output, and ``to_audio(output)``
    turning that output into waveforms ``[B, samples]`` (identity for waveform models, spectrogram
    inversion for spectrogram models).
    """

    sample_rate: int
    num_classes: int
    z_dim: int

    def sample_noise(self, batch: int, device="cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal latents ``[batch, z_dim]``."""
        return torch.randn(batch, self.z_dim, device=device, generator=generator)

    def to_audio(self, output: torch.Tensor) -> torch.Tensor:
        """The model's output as waveforms ``[B, samples]``."""
        return output.reshape(output.shape[0], -1)

    def labels_for(self, n: int, digit: int | None) -> torch.Tensor | None:
        """Condition labels for ``n`` samples: all ``digit``, or cycling through every class when None."""
        if not self.num_classes:
            if digit is not None:
                raise MultiganError(f"this {type(self).__name__} is unconditional: it cannot generate a given "
                                    f"digit ({digit}); leave the digit out")
            return None
        if digit is None:
            return torch.arange(n, device=self.device) % self.num_classes
        if not 0 <= int(digit) < self.num_classes:
            raise MultiganError(f"digit {digit}: this model was conditioned on classes 0-{self.num_classes - 1}")
        return torch.full((n,), int(digit), dtype=torch.long, device=self.device)

    @torch.no_grad()
    def generate(self, n: int, digit: int | None = None, seed: int | None = None,
                 batch_size: int = 64) -> torch.Tensor:
        """``n`` waveforms ``[n, samples]`` in [-1, 1]; the same ``seed`` gives the same audio.

        ``digit`` selects the class of a conditional model; without it, classes cycle 0, 1, 2, ...
        """
        if n < 1:
            raise MultiganError(f"the number of samples must be >= 1, got {n}")
        labels = self.labels_for(n, digit)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:  # seeds the noise and any randomness of the inversion (Griffin-Lim's phase)
                torch.manual_seed(seed)
            noise = self.sample_noise(n, self.device)
            out = []
            for start in range(0, n, batch_size):
                cond = None if labels is None else labels[start:start + batch_size]
                out.append(self.to_audio(self(noise[start:start + batch_size], cond)).clamp(-1, 1))
        return torch.cat(out).float().cpu()

    def write_samples(self, n: int, out: str | Path, seed: int | None = 0, digit: int | None = None,
                      grid: bool = True) -> list[Path]:
        """Write ``n`` WAVs to folder ``out`` named ``{digit}_{index}.wav`` (``{index}.wav`` when unconditional),
        plus ``spectrograms.png``, a grid of (up to 20 of) their spectrograms, when ``grid`` is set."""
        out = Path(out)
        wavs = self.generate(n, digit=digit, seed=seed)
        labels = self.labels_for(n, digit)
        paths, names, counts = [], [], {}
        for i, wav in enumerate(wavs):
            if labels is None:
                name = f"{i}"
            else:
                d = int(labels[i])
                name = f"{d}_{counts.setdefault(d, 0)}"
                counts[d] += 1
            names.append(name)
            paths.append(save_wav(out / f"{name}.wav", wav, self.sample_rate))
        if grid:
            import matplotlib.pyplot as plt

            from .digit_samples import spectrogram_grid

            plt.close(spectrogram_grid(wavs[:20], names[:20], self.sample_rate, out / "spectrograms.png"))
            paths.append(out / "spectrograms.png")
        return paths
