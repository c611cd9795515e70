"""Pictures of audio: a grid of log-mel spectrograms (matplotlib and torchaudio, imported on first use)."""
from __future__ import annotations

from pathlib import Path

import torch


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


def close_figure(fig) -> None:
    """Free a figure made by :func:`spectrogram_grid` that no one else closes."""
    import matplotlib.pyplot as plt

    plt.close(fig)
