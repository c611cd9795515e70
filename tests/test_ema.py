"""The EMA averages floating-point parameters and copies buffers: finite for every generator in the
repository (the text generators hold a -inf logit mask, which an interpolating EMA turns into NaN)."""
from __future__ import annotations

import pytest
import torch

from multigan.ema import build_ema, update_ema

TEXT = {"vocab_size": 23, "seq_len": 9, "bos_id": 1, "eos_id": 2, "pad_id": 0}


def _ring():
    from multigan.toy import RingGenerator
    return RingGenerator(4, 16, 2)


def _wavegan():
    from multigan.audio.wavegan import WaveGANGenerator
    return WaveGANGenerator(length=8192, num_classes=10, dim=4)


def _specgan():
    from multigan.audio.specgan import SpecGANGenerator
    return SpecGANGenerator(num_classes=10, dim=4, griffin_lim_iters=2)


def _vocoder():
    from multigan.audio.vocoders.vocoder import Vocoder
    return Vocoder(generator={"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
                              "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                              "resblock_dilation_sizes": [[1, 2]]})


def _relgan():
    from multigan.text.relgan import RelGANGenerator
    return RelGANGenerator(**TEXT, embed_dim=8, head_size=8)


def _lstm():
    from multigan.text.lstm import LSTMGenerator
    return LSTMGenerator(**TEXT, embed_dim=8, hidden_dim=8)


def _gpt2():
    pytest.importorskip("transformers")
    from multigan.text.hf import GPT2Generator
    return GPT2Generator(**TEXT, n_embd=16, n_layer=1, n_head=2, dropout=0.0)


@pytest.mark.parametrize("build", [_ring, _wavegan, _specgan, _vocoder, _relgan, _lstm, _gpt2],
                         ids=lambda f: f.__name__.strip("_"))
def test_ema_is_finite_and_copies_buffers(build):
    torch.manual_seed(0)
    g = build()
    ema = build_ema(g, 0.999)
    for step in range(3):
        with torch.no_grad():
            for p in g.parameters():
                p.add_(0.01 * torch.randn_like(p))
            for b in g.buffers():
                if b.is_floating_point() and torch.isfinite(b).all() and b.numel():
                    b.mul_(1.5)  # a schedule (e.g. the text generators' inverse temperature) moves a buffer
        update_ema(ema, g)
    for (name, averaged), live in zip(ema.module.named_parameters(), g.parameters()):
        assert torch.isfinite(averaged).all(), f"EMA parameter {name} is not finite"
    assert any(not torch.equal(a, p) for a, p in zip(ema.module.parameters(), g.parameters())), "not averaging"
    for (name, averaged), live in zip(ema.module.named_buffers(), g.buffers()):
        assert torch.equal(averaged, live), f"EMA buffer {name} was not copied from the live generator"


def test_text_ema_keeps_the_minus_inf_mask_and_samples():
    torch.manual_seed(0)
    g = _relgan()
    assert torch.isinf(g.logit_mask).any()  # what made the old EMA NaN
    ema = build_ema(g, 0.9)
    for _ in range(2):
        update_ema(ema, g)
    out = ema.module(ema.module.sample_noise(4))
    assert torch.isfinite(out).all()
    assert torch.isfinite(ema.module.token_nll(torch.tensor([[5, 6, 2, 0, 0, 0, 0, 0, 0]]))).all()


def test_copy_before_ema_start_makes_the_ema_equal_g():
    torch.manual_seed(0)
    g = _relgan()
    ema = build_ema(g, 0.5)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    update_ema(ema, g, copy=True)
    assert all(torch.equal(a, b) for a, b in zip(ema.module.parameters(), g.parameters()))
