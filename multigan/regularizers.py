"""Discriminator regularisers that work on any input shape, and feature matching.

R1/R2/WGAN-GP differentiate the discriminator's logits with respect to its *input*, flattened per sample
(``flatten(1)``), so the same code serves waveforms ``(B, T)``/``(B, 1, T)``, spectrograms
``(B, 1, F, T)`` and token embeddings ``(B, L, H)``.

Under fp16 mixed precision the logits are multiplied by ``grad_scale`` before differentiation and the
gradients divided by it afterwards (in float32), so small gradients do not underflow. The trainer passes
:func:`multigan.precision.penalty_scale`: the GradScaler's scale bounded by 256, since the scaler's own
65,536 times a gradient overflows float16.
"""
from __future__ import annotations

from typing import Callable

import torch

from .losses import logits_of, sub_outputs

Tensor = torch.Tensor


def _input_gradients(out, inputs: Tensor, grad_scale: float | None) -> Tensor:
    logits = torch.stack([lg.float().sum() for lg in logits_of(out)]).sum()
    if grad_scale is not None:
        logits = logits * grad_scale
    (grad,) = torch.autograd.grad(logits, inputs, create_graph=True)
    grad = grad.float()
    if grad_scale is not None:
        grad = grad / grad_scale
    return grad.flatten(1)


def gradient_norm_penalty(out, inputs: Tensor, grad_scale: float | None = None) -> Tensor:
    """Mean over the batch of ``||d logits / d inputs||^2`` (the R1/R2 term, without gamma/2).

    ``out`` is the discriminator output computed from ``inputs`` (which must require grad); with several
    sub-discriminators the gradient of the sum of their logits is used.
    """
    return _input_gradients(out, inputs, grad_scale).pow(2).sum(1).mean()


def r1_penalty(real_out, real: Tensor, grad_scale: float | None = None) -> Tensor:
    """R1 (Mescheder et al. 2018): gradient penalty on real data."""
    return gradient_norm_penalty(real_out, real, grad_scale)


def r2_penalty(fake_out, fake: Tensor, grad_scale: float | None = None) -> Tensor:
    """R2: gradient penalty on generated data."""
    return gradient_norm_penalty(fake_out, fake, grad_scale)


def wgan_gp_penalty(
    discriminator: Callable[[Tensor], object],
    real: Tensor,
    fake: Tensor,
    grad_scale: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): ``(||grad D(x_hat)|| - 1)^2`` on random interpolates.

    ``discriminator`` is called on the interpolates (bind any condition with a lambda).
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype, generator=generator)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    grad = _input_gradients(discriminator(mixed), mixed, grad_scale)
    return (grad.norm(2, dim=1) - 1).pow(2).mean()


def feature_matching_loss(real_out, fake_out) -> Tensor:
    """L1 distance between real and fake feature maps, summed over sub-discriminators (HiFi-GAN).

    Each sub-discriminator's maps except the last (the logits) contribute ``mean(|real - fake|)``. Real
    maps are used as constants: compute them under ``no_grad``.
    """
    total = None
    for real_maps, fake_maps in zip(sub_outputs(real_out), sub_outputs(fake_out)):
        for r, f in zip(real_maps[:-1], fake_maps[:-1]):
            term = (r.detach().float() - f.float()).abs().mean()
            total = term if total is None else total + term
    if total is None:
        raise ValueError("feature matching needs discriminators that return feature maps before their logits")
    return total
