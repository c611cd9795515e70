"""Tests of multigan.losses: closed forms, gradient signs, shapes, sub-discriminator handling."""
from __future__ import annotations

import math

import pytest
import torch

from multigan.losses import (
    LOSSES, discriminator_loss, generator_loss, logits_of, sub_outputs,
)

LOG2 = math.log(2.0)


def sp(x: float) -> float:
    """softplus in float64 for reference values."""
    return math.log1p(math.exp(x))


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# --- closed forms at hand-picked logits --------------------------------------------------------------------

def test_registry_names():
    assert set(LOSSES) == {"ns", "hinge", "lsgan", "wgan", "rpgan"}
    assert [n for n, p in LOSSES.items() if p.needs_real_in_g] == ["rpgan"]


def test_ns_closed_form():
    d, g = LOSSES["ns"].d, LOSSES["ns"].g
    assert d(t(0.0), t(0.0)).item() == pytest.approx(2 * LOG2, abs=1e-6)
    # -log sigmoid(2) - log(1 - sigmoid(-1)) = softplus(-2) + softplus(-1)
    assert d(t(2.0), t(-1.0)).item() == pytest.approx(sp(-2.0) + sp(-1.0), abs=1e-6)
    # means over the batch: real [0, 3], fake [1, -2]
    want = (sp(0.0) + sp(-3.0)) / 2 + (sp(1.0) + sp(-2.0)) / 2
    assert d(t(0.0, 3.0), t(1.0, -2.0)).item() == pytest.approx(want, abs=1e-6)
    assert g(t(0.0)).item() == pytest.approx(LOG2, abs=1e-6)
    assert g(t(1.5, -0.5)).item() == pytest.approx((sp(-1.5) + sp(0.5)) / 2, abs=1e-6)
    # numerically stable at large logits
    assert d(t(100.0), t(-100.0)).item() == pytest.approx(0.0, abs=1e-6)
    assert g(t(-100.0)).item() == pytest.approx(100.0, rel=1e-6)


def test_hinge_closed_form():
    d, g = LOSSES["hinge"].d, LOSSES["hinge"].g
    assert d(t(0.0), t(0.0)).item() == pytest.approx(2.0)
    assert d(t(1.0), t(-1.0)).item() == pytest.approx(0.0)  # exactly at the margins
    assert d(t(3.0), t(-5.0)).item() == pytest.approx(0.0)  # beyond the margins: no loss
    assert d(t(0.5), t(-0.25)).item() == pytest.approx(0.5 + 0.75)
    assert d(t(-1.0, 2.0), t(0.0, -3.0)).item() == pytest.approx((2.0 + 0.0) / 2 + (1.0 + 0.0) / 2)
    assert g(t(0.7)).item() == pytest.approx(-0.7)
    assert g(t(1.0, -3.0)).item() == pytest.approx(1.0)


def test_lsgan_closed_form():
    d, g = LOSSES["lsgan"].d, LOSSES["lsgan"].g
    assert d(t(1.0), t(0.0)).item() == pytest.approx(0.0)
    assert d(t(0.0), t(1.0)).item() == pytest.approx(2.0)
    assert d(t(3.0, -1.0), t(2.0, 0.0)).item() == pytest.approx((4.0 + 4.0) / 2 + (4.0 + 0.0) / 2)
    assert g(t(1.0)).item() == pytest.approx(0.0)
    assert g(t(0.0, 3.0)).item() == pytest.approx((1.0 + 4.0) / 2)


def test_wgan_closed_form():
    d, g = LOSSES["wgan"].d, LOSSES["wgan"].g
    assert d(t(2.0, 4.0), t(1.0, -1.0)).item() == pytest.approx(0.0 - 3.0)
    assert d(t(0.0), t(5.0)).item() == pytest.approx(5.0)
    assert g(t(2.0, 4.0)).item() == pytest.approx(-3.0)


def test_rpgan_pairs_per_sample():
    d, g = LOSSES["rpgan"].d, LOSSES["rpgan"].g
    assert d(t(0.0), t(0.0)).item() == pytest.approx(LOG2, abs=1e-6)
    real, fake = t(2.0, -1.0), t(1.0, 3.0)
    # pairs (2, 1) and (-1, 3), not every real with every fake
    assert d(real, fake).item() == pytest.approx((sp(-1.0) + sp(4.0)) / 2, abs=1e-6)
    assert g(fake, real).item() == pytest.approx((sp(1.0) + sp(-4.0)) / 2, abs=1e-6)
    # swapping the pairing changes the value: it is really paired
    assert d(real, fake.flip(0)).item() != pytest.approx(d(real, fake).item())
    # D and G are mirror images: d(real, fake) == g(real, fake) with roles swapped
    assert d(real, fake).item() == pytest.approx(g(real, fake).item(), abs=1e-6)


def test_rpgan_generator_needs_real():
    with pytest.raises(ValueError, match="real logits"):
        LOSSES["rpgan"].g(t(0.0), None)
    with pytest.raises(ValueError, match="real logits"):
        generator_loss("rpgan", t(0.0, 1.0))
    # with real logits it works through the wrapper too
    assert generator_loss("rpgan", t(0.0), t(0.0)).item() == pytest.approx(LOG2, abs=1e-6)


# --- gradient signs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_signs(name):
    gen = torch.Generator().manual_seed(0)
    # logits inside every loss's active region (hinge: |x| < 1; lsgan: real < 1, fake > 0 / fake < 1)
    real = (torch.rand(6, generator=gen) * 0.5 + 0.1).requires_grad_(True)   # in (0.1, 0.6)
    fake = (torch.rand(6, generator=gen) * 0.5 + 0.1).requires_grad_(True)
    pair = LOSSES[name]
    real_g, fake_g = torch.autograd.grad(pair.d(real, fake), (real, fake))
    # D loss goes down when real logits go up and fake logits go down
    assert (real_g < 0).all(), real_g
    assert (fake_g > 0).all(), fake_g
    real2 = real.detach().clone()
    fake2 = fake.detach().clone().requires_grad_(True)
    (g_grad,) = torch.autograd.grad(pair.g(fake2, real2), (fake2,))
    # G loss goes down when fake logits go up
    assert (g_grad < 0).all(), g_grad
    # and a finite step in that direction really lowers the loss
    with torch.no_grad():
        assert pair.d(real + 0.05, fake - 0.05) < pair.d(real, fake)
        assert pair.g(fake2 + 0.05, real2) < pair.g(fake2, real2)


# --- shapes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4,), (4, 1, 5), (4, 1, 3, 5)])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_any_logit_shape_matches_flat(name, shape):
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
    pair = LOSSES[name]
    d = pair.d(real, fake)
    g = pair.g(fake, real)
    assert d.shape == () and g.shape == ()
    # the same logits flattened give the same (mean-reduced) value
    assert d.item() == pytest.approx(pair.d(real.flatten(), fake.flatten()).item(), abs=1e-6)
    assert g.item() == pytest.approx(pair.g(fake.flatten(), real.flatten()).item(), abs=1e-6)
    # and the wrappers agree for a single sub-discriminator
    assert discriminator_loss(name, real, fake).item() == pytest.approx(d.item(), abs=1e-6)
    assert generator_loss(name, fake, real).item() == pytest.approx(g.item(), abs=1e-6)


def test_half_precision_logits_are_computed_in_float32():
    real, fake = t(0.0, 1.0).half(), t(0.0, -1.0).half()
    out = discriminator_loss("ns", real, fake)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(LOSSES["ns"].d(real.float(), fake.float()).item(), abs=1e-6)


# --- sub-discriminators --------------------------------------------------------------------------------------

def test_sub_outputs_normalisation():
    a, b, f1, f2 = torch.zeros(2), torch.ones(2), torch.full((2, 3), 5.0), torch.full((2, 4), 6.0)
    one = sub_outputs(a)
    assert len(one) == 1 and len(one[0]) == 1 and one[0][0] is a
    several = sub_outputs([a, b])
    assert len(several) == 2 and [len(s) for s in several] == [1, 1]
    assert several[0][0] is a and several[1][0] is b
    nested = sub_outputs([[f1, a], (f2, b)])  # HiFi-GAN style: feature maps then logits
    assert [len(s) for s in nested] == [2, 2]
    assert nested[0][0] is f1 and nested[1][0] is f2
    assert all(isinstance(s, list) for s in nested)
    assert [x is y for x, y in zip(logits_of([[f1, a], [f2, b]]), [a, b])] == [True, True]
    assert logits_of(a)[0] is a
    with pytest.raises(ValueError, match="empty"):
        sub_outputs([])


def _two_subs(values_a, values_b, with_features: bool):
    a, b = t(*values_a), t(*values_b)
    if not with_features:
        return [a, b]
    return [[torch.randn(2, 3), a], [torch.randn(2, 5), torch.randn(2, 1), b]]


@pytest.mark.parametrize("with_features", [False, True])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_sum_and_mean_over_sub_discriminators(name, with_features):
    pair = LOSSES[name]
    real_a, real_b, fake_a, fake_b = (0.5, -1.0), (2.0, 0.0), (0.1, 0.3), (-0.4, 1.2)
    real_out = _two_subs(real_a, real_b, with_features)
    fake_out = _two_subs(fake_a, fake_b, with_features)
    d_terms = [pair.d(t(*real_a), t(*fake_a)).item(), pair.d(t(*real_b), t(*fake_b)).item()]
    g_terms = [pair.g(t(*fake_a), t(*real_a)).item(), pair.g(t(*fake_b), t(*real_b)).item()]
    assert discriminator_loss(name, real_out, fake_out, "sum").item() == pytest.approx(sum(d_terms), abs=1e-6)
    assert discriminator_loss(name, real_out, fake_out, "mean").item() == pytest.approx(sum(d_terms) / 2, abs=1e-6)
    assert discriminator_loss(name, real_out, fake_out).item() == pytest.approx(sum(d_terms), abs=1e-6)  # default
    assert generator_loss(name, fake_out, real_out, "sum").item() == pytest.approx(sum(g_terms), abs=1e-6)
    assert generator_loss(name, fake_out, real_out, "mean").item() == pytest.approx(sum(g_terms) / 2, abs=1e-6)


def test_sub_discriminator_count_mismatch():
    with pytest.raises(ValueError, match="2 and 1 sub-discriminators"):
        discriminator_loss("ns", [t(0.0), t(0.0)], t(0.0))


def test_generator_loss_without_real_for_non_relativistic():
    # ns G on two subs with logits 0 -> 2 log 2 (sum), log 2 (mean); no real logits needed
    assert generator_loss("ns", [t(0.0), t(0.0)]).item() == pytest.approx(2 * LOG2, abs=1e-6)
    assert generator_loss("ns", [t(0.0), t(0.0)], reduction="mean").item() == pytest.approx(LOG2, abs=1e-6)


def test_wrapper_loss_backpropagates_to_every_sub():
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(3, 1, 4, requires_grad=True)
    loss = generator_loss("hinge", [[torch.randn(3, 2), a], [b]])
    ga, gb = torch.autograd.grad(loss, (a, b))
    assert torch.allclose(ga, torch.full_like(a, -1 / 3))
    assert torch.allclose(gb, torch.full_like(b, -1 / 12))
