"""Sampling, logging and plotting for class-conditional audio GANs (the spoken-digit recipes).

:func:`make_digit_validation` builds the trainer's validation callback: it generates a fixed-seed set of
samples per class, scores them with an evaluator, writes per-digit audio and a spectrogram grid to
TensorBoard and keeps a few WAVs plus a grid PNG per validation in the run directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .generation import AudioGenerator
from .io import save_wav


def spectrogram_grid(wavs: torch.Tensor, labels: list[str], sample_rate: int, path: str | Path | None = None,
                     columns: int = 5):
    """A matplotlib figure of log-mel spectrograms, one panel per waveform; saved as PNG when ``path`` is given."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .features import LogMel

    mel = LogMel(sample_rate, n_fft=256, hop=64, n_mels=64)(wavs.float().cpu())
    rows = (len(wavs) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, spec, label in zip(axes.flat, mel, labels):
        ax.imshow(spec.numpy(), origin="lower", aspect="auto", cmap="magma")
        ax.set_title(label, fontsize=8)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
    return fig


def make_digit_validation(evaluate: Callable[[torch.Tensor, torch.Tensor | None], dict], per_class: int = 50,
                          keep_wavs: int = 1, seed: int = 1234) -> Callable:
    """A validation callback: ``per_class`` samples of every class (one class if unconditional), scored by
    ``evaluate(wavs, labels) -> metrics``; audio/images go to TensorBoard and ``run_dir/samples/step-N/``."""

    def validate(ctx) -> dict:
        g: AudioGenerator = ctx.generator
        classes = g.num_classes or 1
        wavs = g.generate(per_class * classes, seed=seed)
        labels = g.labels_for(per_class * classes, None)
        metrics = evaluate(wavs, None if labels is None else labels.cpu())
        folder = Path(ctx.run_dir) / "samples" / f"step-{ctx.step:08d}"
        show = list(range(classes))  # the first sample of each class (labels cycle 0, 1, 2, ...)
        names = [f"digit {i}" if g.num_classes else f"sample {i}" for i in show]
        for i in show:
            for k in range(keep_wavs):  # sample i + k * classes has class i
                save_wav(folder / f"{i}_{k}.wav", wavs[i + k * classes], g.sample_rate)
            if ctx.writer is not None:
                ctx.writer.add_audio(f"audio/{i}", wavs[i].unsqueeze(0), ctx.step, g.sample_rate)
        fig = spectrogram_grid(wavs[show], names, g.sample_rate, folder / "spectrograms.png")
        if ctx.writer is not None:
            ctx.writer.add_figure("spectrograms", fig, ctx.step)
        else:
            import matplotlib.pyplot as plt
            plt.close(fig)
        return metrics

    return validate
