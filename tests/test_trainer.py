"""The adversarial loop: phases, freezing, n_critic, accumulation, EMA, warm-up, NaN guard, early stopping."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import multigan
from multigan.checkpoint import list_checkpoints
from multigan.toy import RingDataset, RingDiscriminator, RingGenerator, first_item


def tiny_cfg(**overrides) -> multigan.TrainConfig:
    base = dict(max_steps=4, batch_size=16, loss="ns", val_every=0, ckpt_every=1000, progress=False,
                device="cpu", ema_decay=0.9, log_every=1000)
    base.update(overrides)
    cfg = multigan.TrainConfig(**base)
    cfg.validate()
    return cfg


def make_trainer(tmp_path, gen=None, disc=None, dataset_size=512, **overrides) -> multigan.Trainer:
    torch.manual_seed(0)
    gen = gen or RingGenerator(z_dim=4, hidden=16, layers=2)
    disc = disc or RingDiscriminator(hidden=16, layers=2)
    return multigan.Trainer(gen, disc, tiny_cfg(**overrides), RingDataset(dataset_size, seed=0), tmp_path / "run",
                            collate_fn=first_item)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class CountingD(RingDiscriminator):
    """Counts forward calls and whether they were made with grad enabled."""

    def __init__(self):
        super().__init__(hidden=16, layers=2)
        self.calls = 0

    def forward(self, x, cond=None):
        self.calls += 1
        return super().forward(x, cond)


class CountingG(RingGenerator):
    def __init__(self):
        super().__init__(z_dim=4, hidden=16, layers=2)
        self.calls = 0

    def forward(self, noise, cond=None):
        self.calls += 1
        return super().forward(noise, cond)


def test_d_phase_leaves_g_untouched_and_g_phase_leaves_d_untouched(tmp_path):
    t = make_trainer(tmp_path, grad_accum=3, r1_gamma=1.0, loss="rpgan", fm_weight=0.0)
    batches = t._next_batches()
    g0, d0 = snapshot(t.G), snapshot(t.D)
    with torch.no_grad():
        fakes = [t._generate(b, t.G) for b in batches]
    t.d_phase(batches, fakes)
    assert same(snapshot(t.G), g0), "the D phase changed G"
    assert all(p.grad is None for p in t.G.parameters()), "the D phase produced G gradients"
    assert not same(snapshot(t.D), d0)
    d1 = snapshot(t.D)
    t.opt_d.zero_grad(set_to_none=True)
    t.g_phase(batches, None)
    assert same(snapshot(t.D), d1), "the G phase changed D"
    assert all(p.grad is None for p in t.D.parameters()), "G-phase gradients leaked into D"
    assert all(p.requires_grad for p in list(t.G.parameters()) + list(t.D.parameters())), "a network stayed frozen"


def test_n_critic_and_accumulation_counts(tmp_path):
    d, g = CountingD(), CountingG()
    t = make_trainer(tmp_path, gen=g, disc=d, n_critic=3, grad_accum=2, loss="rpgan")
    steps_before = t.opt_d.state_dict()["state"]
    assert steps_before == {}
    losses = t.train_step()
    # 3 D phases x 2 micro-batches x (real + fake) + G phase: 2 micro-batches x (fake + real for rpgan)
    assert d.calls == 3 * 2 * 2 + 2 * 2
    assert g.calls == 3 * 2 + 2  # fakes for each D micro-batch, fresh fakes for the G phase
    assert t.d_steps == 3 and t.step == 1
    assert t.source.position == 3 * 2  # the G phase reuses the last D phase's real batches
    assert int(t.opt_d.state_dict()["state"][0]["step"]) == 3
    assert int(t.opt_g.state_dict()["state"][0]["step"]) == 1
    assert set(losses) == {"d_adv", "g_adv"}


def test_reuse_fakes_runs_generator_once_per_iteration(tmp_path):
    g = CountingG()
    t = make_trainer(tmp_path, gen=g, reuse_fakes=True)
    g0 = snapshot(t.G)
    t.train_step()
    assert g.calls == 1
    assert not same(snapshot(t.G), g0), "G did not learn from the reused fakes"


def test_accumulation_matches_one_large_batch(tmp_path):
    """Two micro-batches of 8 give the same D gradient as one batch of 16 (same items)."""
    t = make_trainer(tmp_path, grad_accum=2, batch_size=8)
    big = make_trainer(tmp_path, grad_accum=1, batch_size=16)
    big.D.load_state_dict(t.D.state_dict())
    batches = t._next_batches()
    joined = {"real": torch.cat([b["real"] for b in batches])}
    fakes = [torch.randn(8, 2), torch.randn(8, 2)]
    t.d_phase(batches, fakes)
    big.d_phase([joined], [torch.cat(fakes)])
    for (k, a), b in zip(t.D.state_dict().items(), big.D.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


@pytest.mark.parametrize("loss", ["ns", "rpgan"])
def test_reused_fakes_with_accumulation_match_one_large_batch(tmp_path, loss):
    """G phase with reused fakes (one summed backward): two micro-batches of 8 step G as one batch of 16."""
    t = make_trainer(tmp_path, grad_accum=2, batch_size=8, loss=loss, reuse_fakes=True)
    big = make_trainer(tmp_path, grad_accum=1, batch_size=16, loss=loss, reuse_fakes=True)
    big.G.load_state_dict(t.G.state_dict())
    batches = t._next_batches()
    noise = torch.randn(16, 4)
    fakes = [t.G(noise[:8]), t.G(noise[8:])]
    t.g_phase(batches, fakes)
    big.g_phase([{"real": torch.cat([b["real"] for b in batches])}], [big.G(noise)])
    for (k, a), b in zip(t.G.state_dict().items(), big.G.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_lazy_regularisation_adjusts_d_optimiser(tmp_path):
    """StyleGAN2: a penalty every k D steps -> D's lr x c and betas ** c with c = k / (k + 1)."""
    t = make_trainer(tmp_path, r1_gamma=1.0, reg_every=4, d_lr=1e-3, g_lr=1e-3, betas=(0.5, 0.99))
    group = t.opt_d.param_groups[0]
    assert group["lr"] == pytest.approx(1e-3 * 0.8)
    assert group["betas"] == pytest.approx((0.5 ** 0.8, 0.99 ** 0.8))
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3) and t.opt_g.param_groups[0]["betas"] == (0.5, 0.99)
    for overrides in ({"lazy_reg_adjust": False, "r1_gamma": 1.0}, {"r1_gamma": 0.0}):
        plain = make_trainer(tmp_path, reg_every=4, d_lr=1e-3, betas=(0.5, 0.99), **overrides)
        assert plain.opt_d.param_groups[0]["lr"] == pytest.approx(1e-3)
        assert plain.opt_d.param_groups[0]["betas"] == (0.5, 0.99)


def test_time_budget_stops_at_a_validation(tmp_path):
    t = make_trainer(tmp_path, max_steps=50, val_every=3, ckpt_every=100, max_minutes=1e-9)
    t.validate_fn = lambda ctx: {"m": 1.0}
    result = t.fit()
    assert result.stop_reason == "time_budget" and result.step == 3
    assert [s for s, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [3]


def test_callbacks_run_on_every_step_and_may_stop(tmp_path):
    class Recorder(multigan.Callback):
        def __init__(self):
            self.started, self.steps, self.validations = 0, [], []

        def on_fit_start(self, trainer):
            self.started += 1

        def on_step_end(self, trainer, losses):
            self.steps.append(trainer.step)
            assert "d_adv" in losses and "g_adv" in losses

        def on_validation_end(self, trainer, metrics):
            self.validations.append((trainer.step, metrics["m"]))
            return "enough" if trainer.step >= 4 else None

    rec = Recorder()
    t = make_trainer(tmp_path, max_steps=10, val_every=2, ckpt_every=100)
    t.callbacks.append(rec)
    t.validate_fn = lambda ctx: {"m": float(ctx.step)}
    result = t.fit()
    assert rec.started == 1 and rec.steps == [1, 2, 3, 4] and rec.validations == [(2, 2.0), (4, 4.0)]
    assert result.stop_reason == "enough" and result.step == 4
    assert [s for s, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [4]


def test_ema_moves_and_is_exported(tmp_path):
    t = make_trainer(tmp_path, max_steps=6, ema_decay=0.5)
    ema0 = snapshot(t.ema.module)
    t.fit()
    ema = snapshot(t.ema.module)
    assert not same(ema, ema0), "the EMA did not move"
    assert not same(ema, snapshot(t.G)), "the EMA equals G: it is not averaging"
    exported = multigan.load(tmp_path / "run")
    assert same(snapshot(exported), ema), "the export is not the EMA generator"


def test_ema_copies_g_before_ema_start(tmp_path):
    t = make_trainer(tmp_path, max_steps=3, ema_decay=0.99, ema_start=100)
    t.fit()
    assert same(snapshot(t.ema.module), snapshot(t.G))


def test_adversarial_warmup_trains_g_on_extra_losses_only(tmp_path):
    extra = multigan.ExtraLoss("center", 1.0, lambda fake, batch: fake.pow(2).mean())
    torch.manual_seed(0)
    t = multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2), tiny_cfg(adv_start_step=2),
                         RingDataset(512), tmp_path / "run", extra_losses=[extra], collate_fn=first_item)
    d0 = snapshot(t.D)
    first = t.train_step()
    assert set(first) == {"g_center"}
    t.train_step()
    assert same(snapshot(t.D), d0), "D trained during the warm-up"
    third = t.train_step()
    assert {"d_adv", "g_adv", "g_center"} <= set(third)
    assert not same(snapshot(t.D), d0)


class NaNAfter(RingDiscriminator):
    def __init__(self, bad_from_call: int):
        super().__init__(hidden=16, layers=2)
        self.calls, self.bad_from_call = 0, bad_from_call

    def forward(self, x, cond=None):
        self.calls += 1
        out = super().forward(x, cond)
        return out * float("nan") if self.calls >= self.bad_from_call else out


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    # 3 D calls per step (real, fake, G-phase fake): NaN appears during step 5
    t = make_trainer(tmp_path, disc=NaNAfter(bad_from_call=13), max_steps=20, ckpt_every=2)
    with pytest.raises(multigan.TrainingDiverged) as err:
        t.fit()
    msg = str(err.value)
    assert "step 5" in msg and "d_adv" in msg and "step-00000004" in msg
    assert [s for s, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [2, 4]


def test_early_stopping_keeps_best_and_exports_it(tmp_path):
    values = iter([1.0, 3.0, 2.0, 2.5, 0.5, 9.0])

    def validate(ctx):
        return {"quality": next(values)}

    torch.manual_seed(0)
    cfg = tiny_cfg(max_steps=100, val_every=2, ckpt_every=1, keep_last=1, early_stop_metric="quality",
                   early_stop_mode="max", patience=3)
    t = multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2), cfg, RingDataset(512),
                         tmp_path / "run", validate=validate, collate_fn=first_item)
    result = t.fit()
    assert result.stop_reason == "early_stopping" and result.step == 10
    assert result.best_metric == 3.0 and result.best_step == 4
    steps = [s for s, _ in list_checkpoints(tmp_path / "run" / "checkpoints")]
    assert steps == [4, 10], "the best checkpoint must survive pruning"
    meta = json.loads((tmp_path / "run" / "export" / "generator.json").read_text())["meta"]
    assert meta["step"] == 4 and meta["best_value"] == 3.0
    lines = (tmp_path / "run" / "validation.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4, 6, 8, 10]


def test_validation_does_not_perturb_training(tmp_path):
    """Validating (which draws random numbers) must not change the trajectory."""
    def validate(ctx):
        torch.rand(100)
        return {"x": float(ctx.generator.generate(10, seed=1).mean())}

    a = make_trainer(tmp_path / "a", max_steps=6)
    a.fit()
    torch.manual_seed(0)
    b = multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2), tiny_cfg(max_steps=6, val_every=2),
                         RingDataset(512, seed=0), tmp_path / "b" / "run", validate=validate, collate_fn=first_item)
    b.fit()
    assert same(snapshot(a.G), snapshot(b.G))


@pytest.mark.parametrize("loss,extra", [("hinge", {}), ("lsgan", {"n_critic": 2}), ("wgan", {"gp_weight": 10.0}),
                                        ("ns", {"r2_gamma": 1.0, "reg_every": 2}),
                                        ("rpgan", {"mixed_precision": "bf16", "grad_clip": 1.0})])
def test_every_loss_and_regulariser_trains(tmp_path, loss, extra):
    t = make_trainer(tmp_path, loss=loss, max_steps=3, **extra)
    g0 = snapshot(t.G)
    result = t.fit()
    assert result.step == 3
    assert not same(snapshot(t.G), g0)


class FeatureD(nn.Module):
    """A discriminator returning two sub-discriminators with feature maps (HiFi-GAN convention)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 8), nn.Linear(2, 8)
        self.ha, self.hb = nn.Linear(8, 1), nn.Linear(8, 1)

    def forward(self, x, cond=None):
        fa, fb = torch.tanh(self.a(x)), torch.tanh(self.b(x))
        return [[fa, self.ha(fa)], [fb, self.hb(fb)]]


def test_feature_matching_with_multi_sub_discriminators(tmp_path):
    t = make_trainer(tmp_path, disc=FeatureD(), loss="lsgan", fm_weight=2.0, max_steps=2)
    losses = t.train_step()
    assert {"d_adv", "g_adv", "g_fm"} <= set(losses) and losses["g_fm"] > 0


def test_validation_sees_training_compute_carried_across_resume(tmp_path):
    """ctx.train_cpu_seconds / train_wall_seconds: time in training steps only, continued after --resume."""
    seen = []

    def validate(ctx):
        seen.append((ctx.step, ctx.train_cpu_seconds, ctx.train_wall_seconds))
        return {}

    def trainer(max_steps):
        torch.manual_seed(0)
        return multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2),
                                tiny_cfg(max_steps=max_steps, val_every=2, ckpt_every=2), RingDataset(512, seed=0),
                                tmp_path / "run", validate=validate, collate_fn=first_item)

    first = trainer(4)
    first.fit()
    assert [s for s, _, _ in seen] == [2, 4] and 0 < seen[0][2] < seen[1][2] and seen[0][1] <= seen[1][1]
    saved = dict(first.compute)
    resumed = trainer(6)
    resumed.fit(resume=True)
    assert seen[2][0] == 6 and seen[2][2] > saved["wall_seconds"]  # continued, not restarted from 0
    assert resumed.compute["wall_seconds"] > saved["wall_seconds"]
    assert resumed.compute["cpu_seconds"] >= saved["cpu_seconds"]
