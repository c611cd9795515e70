"""The BigVGAN generator family: filters, Snake parametrisations, shapes, the published layout computed exactly,
weight norm, config checks (``multigan/audio/vocoders/bigvgan.py``, ``alias_free.py``)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from helpers.bigvgan_reference import (ReferenceActivation1d, generator_forward, random_reference_tensors,
                                      reference_filter)
from multigan.audio.vocoders.alias_free import (Activation1d, Snake, SnakeBeta, kaiser_beta, kaiser_sinc_filter,
                                               make_activation)
from multigan.audio.vocoders.bigvgan import BIGVGAN_CONFIGS, BigVGANConfigError, BigVGANGenerator
from multigan.audio.vocoders.imports.reference import map_state
from multigan.audio.vocoders.registry import GENERATORS
from multigan.audio.vocoders.vocoder import Vocoder, check_generator_config

LAYOUT = json.loads((Path(__file__).resolve().parent / "fixtures" / "bigvgan_reference_layout.json").read_text())


def _small(hop_rates, kernels, **kw) -> BigVGANGenerator:
    return BigVGANGenerator(n_mels=20, hop_size=math.prod(hop_rates), upsample_rates=hop_rates,
                            upsample_kernel_sizes=kernels, upsample_initial_channel=32,
                            resblock_kernel_sizes=[3, 7], resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], **kw)


def test_filter_is_the_published_kaiser_windowed_sinc() -> None:
    ours = kaiser_sinc_filter(0.25, 0.3, 12)
    assert ours.shape == (1, 1, 12)
    assert torch.allclose(ours, reference_filter(), atol=1e-7, rtol=0)  # numpy's kaiser and sinc
    assert kaiser_beta(12, 0.3) == pytest.approx(0.1102 * (2.285 * 5 * math.pi * 1.2 + 7.95 - 8.7))
    assert float(ours.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(ours.flip(-1), ours)
    # a wrong window (Hann) or a wrong cutoff gives other taps
    assert not torch.allclose(kaiser_sinc_filter(0.3, 0.3, 12), reference_filter(), atol=1e-3)


def test_anti_aliased_activation_keeps_the_length_and_low_passes() -> None:
    act = Activation1d(Snake(1, logscale=True))
    assert act(torch.randn(2, 1, 100)).shape == (2, 1, 100)
    # identity activation: up then down is a low-pass (a slow sine passes, a near-Nyquist tone is attenuated)
    ident = Activation1d(torch.nn.Identity())
    t = torch.arange(400, dtype=torch.float32)
    slow, fast = torch.sin(2 * math.pi * 0.02 * t), torch.sin(2 * math.pi * 0.48 * t)
    assert (ident(slow.view(1, 1, -1)) - slow)[..., 20:-20].abs().max() < 0.02
    assert ident(fast.view(1, 1, -1))[..., 20:-20].abs().max() < 0.6  # the 12-tap filter: a wide transition band


@pytest.mark.parametrize("name", ["snake", "snakebeta"])
def test_polyphase_path_equals_the_reference_style_activation(name: str) -> None:
    """The library's polyphase, time-major path against the published transposed-conv writing (numpy filter)."""
    torch.manual_seed(0)
    for channels, length, batch in ((24, 301, 2), (5, 1, 1), (3, 13, 3)):
        act = make_activation(name, channels, logscale=True)
        with torch.no_grad():
            for p in act.parameters():
                p.normal_(0.0, 0.5)
        ours, ref = Activation1d(act), ReferenceActivation1d(act)
        assert ours.polyphase is not None
        x = torch.randn(batch, channels, length, requires_grad=True)
        got, want = ours(x), ref(x)
        assert got.shape == want.shape == x.shape and want.abs().max() > 0.1
        assert (got - want).abs().max().item() <= 1e-5
        with torch.inference_mode():  # inference: Snake(Beta) runs in place on the phases
            assert (ours(x) - want).abs().max().item() <= 1e-5
        grad_got, = torch.autograd.grad(got.square().sum(), x)
        grad_want, = torch.autograd.grad(want.square().sum(), x)
        assert (grad_got - grad_want).abs().max().item() <= 1e-4
        # the general path (UpSample1d, act, DownSample1d) computes the same
        general = ours.downsample(act(ours.upsample(x)))
        assert (general - want).abs().max().item() <= 1e-5
    # a wrong Kaiser filter (half-width 0.25 instead of 0.3: another beta) is seen
    wrong = kaiser_sinc_filter(0.25, 0.25, 12)
    assert not torch.allclose(wrong, reference_filter(), atol=1e-4)
    ours.upsample.filter.copy_(wrong)
    ours.downsample.filter.copy_(wrong)
    assert (ours(x) - ref(x)).abs().max().item() > 1e-3
    with torch.inference_mode():
        assert (ours(x) - ref(x)).abs().max().item() > 1e-3


def test_snake_parametrisations() -> None:
    x = torch.tensor([[[0.5, 1.0, -2.0]]])
    s_log, s_lin = Snake(1, logscale=True), Snake(1, logscale=False)
    assert float(s_log.alpha.detach()) == 0.0 and float(s_lin.alpha.detach()) == 1.0  # log-scale starts at log(1)
    with torch.no_grad():
        s_log.alpha.fill_(math.log(2.0))
        s_lin.alpha.fill_(2.0)
    expect = x + torch.sin(2 * x) ** 2 / (2 + 1e-9)
    assert torch.allclose(s_log(x), expect, atol=1e-6) and torch.allclose(s_lin(x), expect, atol=1e-6)
    sb = SnakeBeta(1, logscale=True)
    with torch.no_grad():
        sb.alpha.fill_(math.log(3.0))
        sb.beta.fill_(math.log(0.5))
    assert torch.allclose(sb(x), x + torch.sin(3 * x) ** 2 / 0.5, atol=1e-5)


@pytest.mark.parametrize("rates,kernels", [([4, 4, 4], [8, 8, 8]), ([4, 4, 2, 2, 2, 2], [8, 8, 4, 4, 4, 4]),
                                           ([8, 4, 2, 2, 2, 2], [16, 8, 4, 4, 4, 4]), ([5, 5, 3, 2], [11, 11, 7, 4])])
def test_output_length_is_frames_times_hop(rates, kernels) -> None:
    g = BigVGANGenerator(n_mels=20, hop_size=math.prod(rates), upsample_rates=rates, upsample_kernel_sizes=kernels,
                         upsample_initial_channel=64, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]])
    y = g(torch.randn(2, 20, 7))
    assert y.shape == (2, 1, 7 * math.prod(rates)) and y.abs().max() <= 1.0


@pytest.mark.parametrize("name", ["tiny", "tiny2"])
def test_matches_the_published_forward_written_in_plain_ops(name: str) -> None:
    """AMPBlock1 + SnakeBeta (log scale, clamp, no final bias) and AMPBlock2 + Snake (linear, tanh, bias)."""
    cfg = LAYOUT["configs"][name]
    ref = random_reference_tensors(LAYOUT["generator"][name], seed=3)
    g = BigVGANGenerator(n_mels=cfg["num_mels"], hop_size=64, **{k: v for k, v in cfg.items() if k != "num_mels"})
    g.load_state_dict({k: v for k, v in map_state(ref).items() if not k.endswith("filter")})
    mel = torch.randn(2, cfg["num_mels"], 12, generator=torch.Generator().manual_seed(1))
    expect = generator_forward(ref, cfg, mel)
    with torch.no_grad():
        out = g(mel)
        assert (out - expect).abs().max() <= 1e-4
        assert expect.abs().max() < 0.99  # not saturated: the comparison sees the values
        folded = g.remove_weight_norm()(mel)
    assert (folded - expect).abs().max() <= 1e-4
    assert not any(".parametrizations." in k for k in g.state_dict())
    # a wrong Snake parametrisation (linear instead of log scale) is caught by the same comparison
    wrong = {**cfg, "snake_logscale": not cfg["snake_logscale"]}
    assert (generator_forward(ref, wrong, mel) - expect).abs().max() > 1e-3


def test_published_sizes_and_registry() -> None:
    assert GENERATORS["bigvgan"] is BigVGANGenerator
    with torch.device("meta"):
        counts = {n: sum(p.numel() for p in BigVGANGenerator.from_preset(n, n_mels=100).parameters())
                  for n in ("base", "v2")}
    assert round(counts["base"] / 1e6, 1) == 14.0 and round(counts["v2"] / 1e6, 1) == 112.4  # published 14 M / 112 M
    assert BIGVGAN_CONFIGS["v2"]["activation"] == "snakebeta" and not BIGVGAN_CONFIGS["v2"]["use_tanh_at_final"]


def test_validate_config_refuses_upsampling_that_misses_the_hop() -> None:
    with pytest.raises(BigVGANConfigError, match=r"multiply to 128 but hop_size is 256"):
        BigVGANGenerator.validate_config(hop_size=256, upsample_rates=[4, 4, 2, 2, 2],
                                         upsample_kernel_sizes=[8, 8, 4, 4, 4])
    with pytest.raises(BigVGANConfigError, match="multiply to"):
        check_generator_config({"upsample_rates": [8, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4]},
                               {**Vocoder().config["mel"], "hop_size": 256}, "bigvgan")
    with pytest.raises(BigVGANConfigError, match="activation"):
        BigVGANGenerator.validate_config(activation="relu")
    with pytest.raises(BigVGANConfigError, match="unknown"):
        BigVGANGenerator.validate_config(resblock_size=3)
    BigVGANGenerator.validate_config(hop_size=512, **BIGVGAN_CONFIGS["v2-512x"])


def test_vocoder_of_the_family_round_trips_through_export(tmp_path: Path) -> None:
    import multigan
    from multigan import checkpoint as ckpt

    mel = {"sample_rate": 16000, "n_fft": 256, "hop_size": 64, "win_size": 256, "n_mels": 20, "fmin": 0.0,
           "fmax": None}
    voc = Vocoder(generator={"upsample_rates": [4, 4, 4], "upsample_kernel_sizes": [8, 8, 8],
                             "upsample_initial_channel": 32, "resblock_kernel_sizes": [3],
                             "resblock_dilation_sizes": [[1, 3]]}, mel=mel, generator_class="bigvgan").eval()
    x = torch.randn(1, 20, 9)
    with torch.no_grad():
        expect = voc(x)
    ckpt.export_generator(voc, tmp_path / "export", {"step": 0})
    loaded = multigan.load(tmp_path)
    with torch.no_grad():
        assert (loaded(x) - expect).abs().max() <= 1e-5
    assert loaded.config["generator_class"] == "bigvgan"
