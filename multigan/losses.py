"""Adversarial losses as pure functions of discriminator logits.

Each loss is a pair ``d(real, fake)`` / ``g(fake, real)`` on logits of any shape. ``LOSSES`` maps a name to
the pair; :func:`discriminator_loss` and :func:`generator_loss` apply a pair to every sub-discriminator
of a discriminator's output (see :func:`sub_outputs`) and sum or average the results.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
FeatureMaps = list[Tensor]


def sub_outputs(out: Tensor | Sequence) -> list[FeatureMaps]:
    """Normalise a discriminator output to a list of sub-discriminators, each a list of feature maps.

    The last feature map of each sub-discriminator is its logits. A plain tensor is one sub-discriminator
    without features; a list of tensors is several sub-discriminators without features; a list of lists is
    returned as it is (the HiFi-GAN convention).
    """
    if isinstance(out, Tensor):
        return [[out]]
    subs = list(out)
    if not subs:
        raise ValueError("the discriminator returned an empty list of outputs")
    if all(isinstance(s, Tensor) for s in subs):
        return [[s] for s in subs]
    return [list(s) for s in subs]


def logits_of(out: Tensor | Sequence) -> list[Tensor]:
    """The logits (last feature map) of every sub-discriminator."""
    return [fmaps[-1] for fmaps in sub_outputs(out)]


# --- the pairs --------------------------------------------------------------------------------------------

def ns_d(real: Tensor, fake: Tensor) -> Tensor:
    """Non-saturating (standard) GAN, discriminator: -log D(x) - log(1 - D(G(z)))."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Non-saturating GAN, generator: -log D(G(z))."""
    return F.softplus(-fake).mean()


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge loss, discriminator: relu(1 - D(x)) + relu(1 + D(G(z)))."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Hinge loss, generator: -D(G(z))."""
    return -fake.mean()


def lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """Least squares (LSGAN, as in HiFi-GAN): (D(x) - 1)^2 + D(G(z))^2."""
    return (real - 1.0).pow(2).mean() + fake.pow(2).mean()


def lsgan_g(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Least squares, generator: (D(G(z)) - 1)^2."""
    return (fake - 1.0).pow(2).mean()


def wgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """Wasserstein critic: D(G(z)) - D(x) (pair with a gradient penalty)."""
    return fake.mean() - real.mean()


def wgan_g(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Wasserstein generator: -D(G(z))."""
    return -fake.mean()


def _check_paired(real: Tensor, fake: Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(f"relativistic losses pair real and fake logits one to one: shapes {tuple(real.shape)} "
                         f"and {tuple(fake.shape)} differ (use equal real and fake batch sizes)")


def rpgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """Relativistic pairing GAN (RpGAN), discriminator: softplus(-(D(x) - D(G(z)))), paired per sample."""
    _check_paired(real, fake)
    return F.softplus(-(real - fake)).mean()


def rpgan_g(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Relativistic pairing GAN, generator: softplus(-(D(G(z)) - D(x))); needs real logits."""
    if real is None:
        raise ValueError("the relativistic generator loss needs the real logits")
    _check_paired(real, fake)
    return F.softplus(-(fake - real)).mean()


@dataclass(frozen=True)
class GANLoss:
    """A named pair of loss functions; ``needs_real_in_g`` tells the trainer to pass real logits to ``g``."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor, Tensor | None], Tensor]
    needs_real_in_g: bool = False


LOSSES: dict[str, GANLoss] = {
    "ns": GANLoss(ns_d, ns_g),
    "hinge": GANLoss(hinge_d, hinge_g),
    "lsgan": GANLoss(lsgan_d, lsgan_g),
    "wgan": GANLoss(wgan_d, wgan_g),
    "rpgan": GANLoss(rpgan_d, rpgan_g, needs_real_in_g=True),
}


def _reduce(values: list[Tensor], reduction: str) -> Tensor:
    total = torch.stack([v.float() for v in values]).sum()
    return total if reduction == "sum" else total / len(values)


def discriminator_loss(name: str, real_out, fake_out, reduction: str = "sum") -> Tensor:
    """Apply loss ``name``'s discriminator term to every sub-discriminator and sum (or average)."""
    pair = LOSSES[name]
    real, fake = logits_of(real_out), logits_of(fake_out)
    if len(real) != len(fake):
        raise ValueError(f"real and fake outputs have {len(real)} and {len(fake)} sub-discriminators")
    return _reduce([pair.d(r.float(), f.float()) for r, f in zip(real, fake)], reduction)


def generator_loss(name: str, fake_out, real_out=None, reduction: str = "sum") -> Tensor:
    """Apply loss ``name``'s generator term to every sub-discriminator and sum (or average)."""
    pair = LOSSES[name]
    fake = logits_of(fake_out)
    real = logits_of(real_out) if real_out is not None else [None] * len(fake)
    return _reduce([pair.g(f.float(), None if r is None else r.float()) for f, r in zip(fake, real)], reduction)
