"""The 2-D toy problem that proves the trainer learns: a ring of Gaussian modes, MLP G and D, and metrics."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from .errors import MultiganError
from .generator import ExportableGenerator


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``modes`` centres, evenly spaced on a circle, as ``[modes, 2]``."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


class RingDataset(Dataset):
    """``size`` points drawn once (from ``seed``) from the mixture; items are ``{"real": [2]}``."""

    def __init__(self, size: int = 100_000, modes: int = 8, radius: float = 2.0, std: float = 0.02, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        which = torch.randint(modes, (size,), generator=g)
        self.points = ring_centers(modes, radius)[which] + std * torch.randn(size, 2, generator=g)

    def __len__(self) -> int:
        return len(self.points)

    def __getitems__(self, indices: list[int]) -> list[dict]:
        return [{"real": self.points[indices]}]  # one pre-batched item (collated by ``first_item``)


def first_item(items: list[dict]) -> dict:
    """Collate for datasets whose ``__getitems__`` already returns one batched item."""
    return items[0]


def mlp(sizes: list[int], act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """Linear layers with ``act`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act(0.2) if act is nn.LeakyReLU else act())
    return nn.Sequential(*layers)


class RingGenerator(ExportableGenerator):
    """MLP from ``z_dim`` Gaussian noise to a 2-D point."""

    def __init__(self, z_dim: int = 16, hidden: int = 256, layers: int = 3):
        super().__init__(z_dim=z_dim, hidden=hidden, layers=layers)
        self.z_dim = z_dim
        self.net = mlp([z_dim] + [hidden] * layers + [2], act=nn.ReLU)

    def sample_noise(self, batch: int, device="cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(batch, self.z_dim, device=device, generator=generator)

    def forward(self, noise: torch.Tensor, cond=None) -> torch.Tensor:
        return self.net(noise)

    @torch.no_grad()
    def generate(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` points ``[n, 2]``; the same ``seed`` gives the same points."""
        if n < 1:
            raise MultiganError(f"the number of samples must be >= 1, got {n}")
        g = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        return self(self.sample_noise(n, self.device, g))

    def write_samples(self, n: int, out: Path, seed: int | None = None) -> Path:
        """Write ``n`` points as CSV (``x,y`` per line) to ``out`` (a file, or ``out/samples.csv`` for a folder)."""
        out = Path(out)
        if out.is_dir() or not out.suffix:
            out = out / "samples.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        points = self.generate(n, seed=seed).cpu().tolist()
        out.write_text("x,y\n" + "".join(f"{x:.6f},{y:.6f}\n" for x, y in points))
        return out


class RingDiscriminator(nn.Module):
    """MLP from a 2-D point to one logit."""

    def __init__(self, hidden: int = 256, layers: int = 3):
        super().__init__()
        self.net = mlp([2] + [hidden] * layers + [1])

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def ring_metrics(samples: torch.Tensor, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                 min_share: float = 0.01) -> dict[str, float]:
    """``modes_covered``: modes holding >= ``min_share`` of samples within 3 std; ``high_quality``: share within 3 std of any mode."""
    dist = torch.cdist(samples.float().cpu(), ring_centers(modes, radius))
    nearest, which = dist.min(dim=1)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=modes).float() / len(samples)
    return {"modes_covered": float((counts >= min_share).sum()), "high_quality": float(good.float().mean())}


def plot_samples(samples: torch.Tensor, path: str | Path, modes: int = 8, radius: float = 2.0,
                 title: str = "") -> Path:
    """Scatter plot of samples over the true mode centres, saved as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    pts = samples.float().cpu()
    ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.3, label="samples")
    c = ring_centers(modes, radius)
    ax.scatter(c[:, 0], c[:, 1], s=30, c="red", marker="x", label="modes")
    lim = radius * 1.6
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
