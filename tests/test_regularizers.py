"""Tests of multigan.regularizers with discriminators that are linear in their input (closed-form gradients)."""
from __future__ import annotations


import pytest
import torch

from multigan.regularizers import (
    feature_matching_loss, gradient_norm_penalty, r1_penalty, r2_penalty, wgan_gp_penalty,
)

SHAPES = [(3, 8), (3, 1, 8), (3, 1, 4, 5), (3, 6, 4)]  # (B,T) (B,1,T) (B,1,F,T) (B,L,H)


def _weights(shape, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape[1:], generator=g, dtype=torch.float64).float()


def linear_d(w: torch.Tensor):
    """logit_b = <w, x_b>: gradient w for every sample, so ||grad||^2 = ||w||^2 exactly."""
    return lambda x: (x * w).flatten(1).sum(1)


def _inputs(shape, seed=1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).requires_grad_(True)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("penalty", [r1_penalty, r2_penalty, gradient_norm_penalty])
def test_penalty_of_linear_d_is_squared_weight_norm(penalty, shape):
    w = _weights(shape)
    x = _inputs(shape)
    value = penalty(linear_d(w)(x), x)
    assert value.shape == ()
    assert value.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_penalty_with_logits_shaped_like_patches(shape):
    # a "patch" D whose logits keep a spatial axis: logits = x * w (elementwise); d(sum)/dx = w
    w = _weights(shape, seed=3)
    x = _inputs(shape)
    value = r1_penalty(x * w, x)
    assert value.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


def test_penalty_is_a_batch_mean_of_per_sample_norms():
    # logit_b = c_b * <w, x_b>: per-sample gradient c_b * w, penalty mean_b(c_b^2) * ||w||^2
    w = torch.tensor([1.0, 2.0, 2.0])  # ||w||^2 = 9
    c = torch.tensor([1.0, 2.0, 3.0, 0.0])
    x = torch.randn(4, 3, requires_grad=True)
    value = r1_penalty(c * (x * w).sum(1), x)
    assert value.item() == pytest.approx(9.0 * (1 + 4 + 9 + 0) / 4, rel=1e-6)


@pytest.mark.parametrize("shape", [(3, 8), (3, 1, 4, 5)])
def test_multi_sub_discriminator_uses_gradient_of_summed_logits(shape):
    w1, w2 = _weights(shape, seed=10), _weights(shape, seed=11)
    x = _inputs(shape)
    feat = (x * 2).flatten(1)
    out = [[feat, (x * w1).flatten(1).sum(1)], [feat.abs(), torch.zeros(3, 1), (x * w2).flatten(1).sum(1, keepdim=True)]]
    value = r1_penalty(out, x)
    # gradient of the sum of the logits is w1 + w2 (feature maps ignored)
    assert value.item() == pytest.approx((w1 + w2).pow(2).sum().item(), rel=1e-5)
    # list of tensors (no feature maps): same
    x2 = _inputs(shape)
    value2 = r2_penalty([linear_d(w1)(x2), linear_d(w2)(x2)], x2)
    assert value2.item() == pytest.approx((w1 + w2).pow(2).sum().item(), rel=1e-5)


@pytest.mark.parametrize("scale", [1024.0, 65536.0])
def test_grad_scale_gives_the_same_value(scale):
    shape = (3, 1, 4, 5)
    w = _weights(shape) * 1e-3  # small gradients, the case the scale exists for
    x = _inputs(shape)
    plain = r1_penalty(linear_d(w)(x), x)
    x2 = _inputs(shape)
    scaled = r1_penalty(linear_d(w)(x2), x2, grad_scale=scale)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)
    assert scaled.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


def test_penalty_is_differentiable_wrt_d_parameters():
    # create_graph=True: the penalty trains D. d/dw ||w||^2 = 2w.
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    x = torch.randn(5, 3, requires_grad=True)
    value = r1_penalty((x * w).sum(1), x)
    (gw,) = torch.autograd.grad(value, w)
    assert torch.allclose(gw, 2 * w.detach())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", [0.25, 1.0, 3.0])
def test_wgan_gp_of_linear_d(shape, norm):
    w = _weights(shape)
    w = w / w.norm() * norm
    real, fake = torch.randn(shape), torch.randn(shape)
    gen = torch.Generator().manual_seed(0)
    value = wgan_gp_penalty(linear_d(w), real, fake, generator=gen)
    assert value.item() == pytest.approx((norm - 1.0) ** 2, abs=1e-5)
    value_scaled = wgan_gp_penalty(linear_d(w), real, fake, grad_scale=1024.0, generator=gen)
    assert value_scaled.item() == pytest.approx((norm - 1.0) ** 2, abs=1e-5)


def test_wgan_gp_uses_interpolates_between_real_and_fake():
    # D(x) = sum(x^2)/2 -> grad = x_hat; with real == fake == v every interpolate is v
    v = torch.full((2, 4), 0.5)  # ||v_b|| = 1 -> penalty 0
    value = wgan_gp_penalty(lambda x: x.pow(2).sum(1) / 2, v, v.clone())
    assert value.item() == pytest.approx(0.0, abs=1e-7)
    v3 = torch.full((2, 4), 1.5)  # ||v_b|| = 3 -> (3 - 1)^2 = 4
    value3 = wgan_gp_penalty(lambda x: x.pow(2).sum(1) / 2, v3, v3.clone())
    assert value3.item() == pytest.approx(4.0, rel=1e-6)
    # the same torch.Generator seed gives the same interpolates and value
    real, fake = torch.randn(3, 4), torch.randn(3, 4)
    d = lambda x: x.pow(2).sum(1) / 2  # noqa: E731
    a = wgan_gp_penalty(d, real, fake, generator=torch.Generator().manual_seed(7))
    b = wgan_gp_penalty(d, real, fake, generator=torch.Generator().manual_seed(7))
    assert a.item() == b.item()


def test_wgan_gp_does_not_backprop_into_real_or_fake():
    real = torch.randn(2, 3, requires_grad=True)
    fake = torch.randn(2, 3, requires_grad=True)
    w = torch.tensor([1.0, 2.0, 2.0], requires_grad=True)
    value = wgan_gp_penalty(lambda x: (x * w).sum(1), real, fake)
    value.backward()
    assert real.grad is None and fake.grad is None
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 2 * w / 3
    assert torch.allclose(w.grad, 4 * w.detach() / 3, atol=1e-6)


# --- feature matching ---------------------------------------------------------------------------------------

def test_feature_matching_hand_computed():
    r1, f1 = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 2.0], [5.0, 4.0]])  # mean|d| = 3/4
    r2, f2 = torch.tensor([1.0, -1.0, 0.0]), torch.tensor([2.0, 1.0, 0.0])  # mean|d| = 1
    r3, f3 = torch.zeros(1, 2, 2), torch.full((1, 2, 2), -0.5)  # 0.5
    real_logits, fake_logits = torch.tensor([100.0]), torch.tensor([-100.0])  # ignored
    real_out = [[r1, r2, real_logits], [r3, real_logits]]
    fake_out = [[f1, f2, fake_logits], [f3, fake_logits]]
    value = feature_matching_loss(real_out, fake_out)
    assert value.item() == pytest.approx(0.75 + 1.0 + 0.5)


def test_feature_matching_gradient_only_to_fake():
    r = torch.tensor([1.0, 2.0], requires_grad=True)
    f = torch.tensor([3.0, 0.0], requires_grad=True)
    value = feature_matching_loss([[r, torch.zeros(1)]], [[f, torch.zeros(1)]])
    value.backward()
    assert r.grad is None
    assert torch.allclose(f.grad, torch.tensor([0.5, -0.5]))


@pytest.mark.parametrize("out", [torch.zeros(2), [torch.zeros(2), torch.zeros(2)], [[torch.zeros(2)]]])
def test_feature_matching_without_features_raises(out):
    with pytest.raises(ValueError, match="feature maps"):
        feature_matching_loss(out, out)
