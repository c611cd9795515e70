"""fp16 on the CPU (autocast + an enabled GradScaler): gradient penalties stay finite and match float32 at any
scaler scale; an overflowing step is skipped by the scaler, not fatal; persistent overflow still stops."""
from __future__ import annotations

import pytest
import torch

import multigan
from multigan import regularizers as R
from multigan.precision import PENALTY_SCALE_MAX, penalty_scale
from multigan.toy import RingDataset, RingDiscriminator, RingGenerator, first_item


def _disc_and_points():
    torch.manual_seed(0)
    d = RingDiscriminator(64, 3)
    real = RingDataset(64, seed=1).points[:32]
    fake = 0.5 * torch.randn(32, 2)
    return d, real, fake


def _penalties(d, real, fake, scale):
    real, fake = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.float16, enabled=scale is not False):
        real_out, fake_out = d(real), d(fake)
    grad_scale = None if scale is False else scale
    with torch.autocast("cpu", dtype=torch.float16, enabled=scale is not False):
        gp = R.wgan_gp_penalty(d, real, fake, grad_scale, generator=torch.Generator().manual_seed(0))
    return {"r1": R.r1_penalty(real_out, real, grad_scale), "r2": R.r2_penalty(fake_out, fake, grad_scale), "gp": gp}


@pytest.mark.parametrize("init_scale", [1.0, 2.0 ** 10, 65536.0, 2.0 ** 24])
def test_fp16_penalties_match_fp32_at_any_scaler_scale(init_scale):
    d, real, fake = _disc_and_points()
    reference = _penalties(d, real, fake, False)  # float32
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    scale = penalty_scale(scaler)
    assert scale == min(init_scale, PENALTY_SCALE_MAX)
    half = _penalties(d, real, fake, scale)
    for name, ref in reference.items():
        value = float(half[name].detach())
        assert torch.isfinite(half[name]), f"{name} is not finite under fp16 at scale {init_scale}"
        assert value == pytest.approx(float(ref.detach()), rel=1e-2), name


def test_unbounded_scaler_scale_overflows_fp16():
    """Why the bound exists: the GradScaler's own 65,536 times an inner gradient is inf in float16."""
    d, real, fake = _disc_and_points()
    assert not torch.isfinite(_penalties(d, real, fake, 65536.0)["r1"])


def _trainer(tmp_path, precision: str, extra=(), **train) -> multigan.Trainer:
    torch.manual_seed(0)
    cfg = multigan.TrainConfig(**{"max_steps": 4, "batch_size": 32, "loss": "rpgan", "r1_gamma": 1.0,
                                  "r2_gamma": 1.0, "gp_weight": 0.5, "ema_decay": 0.9, "device": "cpu",
                                  "cpu_threads": 1, "progress": False, "val_every": 0, "ckpt_every": 100,
                                  "mixed_precision": precision, **train})
    cfg.validate()
    return multigan.Trainer(RingGenerator(4, 32, 2), RingDiscriminator(32, 2), cfg, RingDataset(512),
                            tmp_path / precision, collate_fn=first_item, extra_losses=list(extra))


def test_fp16_training_steps_are_finite_and_match_fp32(tmp_path):
    fp32, fp16 = _trainer(tmp_path, "no"), _trainer(tmp_path, "fp16")
    assert fp16.scaler_d.is_enabled() and fp16.scaler_d.get_scale() == 65536.0
    torch.manual_seed(1)  # the same noise and GP interpolation weights for both
    a = fp32.train_step()
    torch.manual_seed(1)
    b = fp16.train_step()
    assert not fp16.d_skipped and not fp16.g_skipped
    for key in ("d_r1", "d_r2", "d_gp", "d_adv", "g_adv"):
        assert b[key] == pytest.approx(a[key], rel=1e-2), key
    for _ in range(3):
        assert all(torch.isfinite(torch.tensor(list(fp16.train_step().values()))))


class _OverflowOnce:
    """A G loss that is infinite on the calls listed in ``bad`` (counting from 0), zero otherwise."""

    def __init__(self, bad):
        self.bad, self.calls = set(bad), 0

    def __call__(self, fake, batch):
        factor = float("inf") if self.calls in self.bad else 0.0
        self.calls += 1
        return factor * fake.float().pow(2).mean()


def test_an_overflowing_fp16_step_is_skipped_not_fatal(tmp_path):
    loss = _OverflowOnce({1})
    t = _trainer(tmp_path, "fp16", [multigan.ExtraLoss("overflow", 1.0, loss)], r2_gamma=0.0, gp_weight=0.0)
    before = {k: v.clone() for k, v in t.G.state_dict().items()}
    t.train_step()
    after_first = {k: v.clone() for k, v in t.G.state_dict().items()}
    assert any(not torch.equal(before[k], after_first[k]) for k in before)
    t.train_step()  # inf G loss: the scaler skips G's update and halves its scale
    assert t.g_skipped and t.scaler_g.get_scale() == 32768.0
    assert all(torch.equal(after_first[k], v) for k, v in t.G.state_dict().items()), "a skipped step changed G"
    t.train_step()
    assert not t.g_skipped and t.guard.skipped_in_row == 0 and t.guard.skipped_total == 1 and t.step == 3


def test_persistent_overflow_still_stops_with_the_count(tmp_path):
    t = _trainer(tmp_path, "fp16", [multigan.ExtraLoss("overflow", 1.0, _OverflowOnce(range(100)))],
                 max_skipped_steps=3, r2_gamma=0.0, gp_weight=0.0)
    with pytest.raises(multigan.TrainingDiverged, match="skipped 4 steps in a row"):
        for _ in range(10):
            t.train_step()
    assert t.step == 3


def test_without_a_scaler_a_non_finite_loss_stops_at_once(tmp_path):
    t = _trainer(tmp_path, "no", [multigan.ExtraLoss("overflow", 1.0, _OverflowOnce({0}))])
    with pytest.raises(multigan.TrainingDiverged, match="loss g_overflow is"):
        t.train_step()
