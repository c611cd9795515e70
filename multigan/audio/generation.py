"""What every audio generator offers once trained: ``generate``, ``write_samples`` and label checks.

    g = multigan.load(run_dir)
    wavs = g.generate(10, label=7, seed=0)      # [10, samples] in [-1, 1], all of class 7

``digit=`` is accepted wherever ``label=`` is (an alias kept for the spoken-digit models and their users).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import MultiganError
from ..generator import ExportableGenerator
from .io import save_wav
from .plots import close_figure, spectrogram_grid


def _label_or_alias(label: int | str | None, digit: int | None) -> int | str | None:
    """The class asked for by ``label=`` or by its alias ``digit=`` (not both)."""
    if digit is None:
        return label
    if label is not None:
        raise MultiganError(f"give the class once: label={label} and digit={digit} were both given")
    return digit


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
    sample_options = ("digit",)

    def sample_noise(self, batch: int, device="cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal latents ``[batch, z_dim]``."""
        return torch.randn(batch, self.z_dim, device=device, generator=generator)

    def to_audio(self, output: torch.Tensor) -> torch.Tensor:
        """The model's output as waveforms ``[B, samples]``."""
        return output.reshape(output.shape[0], -1)

    @property
    def label_names(self) -> list[str] | None:
        """The name of each class index, as the training data named them (stored in the export's meta by
        the recipes); None when unknown, and then a label is the class index itself."""
        names = getattr(self, "export_meta", {}).get("label_names")
        return [str(name) for name in names] if names else None

    def class_index(self, label: int | str) -> int:
        """The class index of ``label``: a label name when the export holds them (``7`` is the class named
        "7", whatever its index), else an index."""
        names = self.label_names
        if names is not None:
            if str(label) not in names:
                raise MultiganError(f"label {label!r}: this model was trained on the labels {', '.join(names)}")
            return names.index(str(label))
        if not 0 <= int(label) < self.num_classes:
            raise MultiganError(f"class {label}: this model was conditioned on classes 0-{self.num_classes - 1}")
        return int(label)

    def label_name(self, index: int) -> str:
        """The name of class ``index`` (the index itself when the names are unknown)."""
        names = self.label_names
        return names[index] if names is not None else str(index)

    def labels_for(self, n: int, label: int | str | None) -> torch.Tensor | None:
        """Class indices for ``n`` samples: all of ``label``'s class, or cycling through every class when None."""
        if not self.num_classes:
            if label is not None:
                raise MultiganError(f"this {type(self).__name__} is unconditional: it cannot generate a given "
                                    f"class ({label}); leave the label out")
            return None
        if label is None:
            return torch.arange(n, device=self.device) % self.num_classes
        return torch.full((n,), self.class_index(label), dtype=torch.long, device=self.device)

    @torch.no_grad()
    def generate(self, n: int, label: int | str | None = None, seed: int | None = None, batch_size: int = 64, *,
                 digit: int | None = None) -> torch.Tensor:
        """``n`` waveforms ``[n, samples]`` in [-1, 1]; the same ``seed`` gives the same audio.

        ``label`` (or its alias ``digit``) selects the class of a conditional model; without it, classes
        cycle 0, 1, 2, ...
        """
        if n < 1:
            raise MultiganError(f"the number of samples must be >= 1, got {n}")
        labels = self.labels_for(n, _label_or_alias(label, digit))
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

    def write_samples(self, n: int, out: str | Path, seed: int | None = 0, label: int | str | None = None,
                      grid: bool = True, *, digit: int | None = None) -> list[Path]:
        """Write ``n`` WAVs to folder ``out`` named ``{label name}_{index}.wav`` (``{index}.wav`` when unconditional),
        plus ``spectrograms.png``, a grid of (up to 20 of) their spectrograms, when ``grid`` is set.

        ``label`` (or its alias ``digit``) selects one class; without it, classes cycle 0, 1, 2, ...
        """
        out = Path(out)
        label = _label_or_alias(label, digit)
        wavs = self.generate(n, label, seed=seed)
        labels = self.labels_for(n, label)
        paths, names, counts = [], [], {}
        for i, wav in enumerate(wavs):
            if labels is None:
                name = f"{i}"
            else:
                c = self.label_name(int(labels[i]))
                name = f"{c}_{counts.setdefault(c, 0)}"
                counts[c] += 1
            names.append(name)
            paths.append(save_wav(out / f"{name}.wav", wav, self.sample_rate))
        if grid:
            close_figure(spectrogram_grid(wavs[:20], names[:20], self.sample_rate, out / "spectrograms.png"))
            paths.append(out / "spectrograms.png")
        return paths
