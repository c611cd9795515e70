"""Tests for the HiFi-GAN generator (multigan.audio.vocoders.hifigan), MPD/MSD, its mel front end, the MR-STFT loss."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from multigan.audio.features import LogMel
from multigan.audio.losses import multi_resolution_stft_distance
from multigan.audio.vocoders.discriminators.mpd import MPDConfig, MultiPeriodDiscriminator
from multigan.audio.vocoders.discriminators.msd import MSDConfig, MultiScaleDiscriminator
from multigan.audio.vocoders.discriminators.registry import build_discriminators
from multigan.audio.vocoders.hifigan import (
    HIFIGAN_CONFIGS,
    HiFiGANConfigError,
    HiFiGANGenerator,
    validate_generator_config,
)
from multigan.audio.vocoders.vocoder import DEFAULT_MEL

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LJ_WAVS = DATA_DIR / "ljspeech-mini" / "wavs"


def hifigan_mel(**changes) -> LogMel:
    """The HiFi-GAN front end of the published mel settings with ``changes``."""
    return LogMel.from_settings({**DEFAULT_MEL, **changes})


# Small widths so that discriminator tests run fast on CPU.
SMALL_D = {"mpd_scale": 0.125, "msd_scale": 0.125}


def mpd_msd(mpd_scale: float = 1.0, msd_scale: float = 1.0):
    """HiFi-GAN's MPD + MSD pair, as a recipe's ``discriminator.use=[mpd,msd]`` builds it."""
    return build_discriminators([("mpd", 1.0), ("msd", 1.0)], {"mpd": MPDConfig(channels_scale=mpd_scale),
                                                               "msd": MSDConfig(channels_scale=msd_scale)})


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True)
def _seed_and_single_thread():
    """Seed, and run on one intra-op thread: these tensors are tiny, and on a shared
    2-core machine OpenMP spin-waiting with 2 threads makes them ~10-30x slower."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- configs


def test_presets_hold_published_hyperparameters() -> None:
    v1, v2, v3 = (HIFIGAN_CONFIGS[k] for k in ("v1", "v2", "v3"))
    assert v1["upsample_rates"] == [8, 8, 2, 2] and v1["upsample_kernel_sizes"] == [16, 16, 4, 4]
    assert v1["upsample_initial_channel"] == 512 and v2["upsample_initial_channel"] == 128
    assert v1["resblock"] == v2["resblock"] == "1" and v3["resblock"] == "2"
    assert v1["resblock_kernel_sizes"] == [3, 7, 11]
    assert v1["resblock_dilation_sizes"] == [[1, 3, 5]] * 3
    assert v3["upsample_rates"] == [8, 8, 4] and v3["upsample_kernel_sizes"] == [16, 16, 8]
    assert v3["upsample_initial_channel"] == 256
    assert v3["resblock_kernel_sizes"] == [3, 5, 7]
    assert v3["resblock_dilation_sizes"] == [[1, 2], [2, 6], [3, 12]]
    for cfg in HIFIGAN_CONFIGS.values():
        validate_generator_config(**cfg)  # type: ignore[arg-type]
        json.dumps(cfg)


def test_hop_mismatch_message() -> None:
    with pytest.raises(HiFiGANConfigError) as info:
        validate_generator_config([8, 8, 2, 2], [16, 16, 4, 4], hop_size=200)
    msg = str(info.value)
    assert "upsample_rates [8, 8, 2, 2] multiply to 256 but hop_size is 200" in msg
    assert "make their product equal hop_size (e.g." in msg
    # the suggestion really multiplies to the requested hop
    suggested = json.loads(msg.split("upsample_rates=")[1].split(" with")[0])
    assert math.prod(suggested) == 200
    # the generator constructor and from_preset validate as well
    assert isinstance(info.value, ValueError)
    with pytest.raises(HiFiGANConfigError, match="hop_size is 300"):
        HiFiGANGenerator.from_preset("v1", hop_size=300)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16]}, "one kernel size per upsampling stage"),
        ({"upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 2]}, "smaller than upsample_rates"),
        ({"resblock_kernel_sizes": [3, 7], "resblock_dilation_sizes": [[1, 3, 5]] * 3}, "one dilation list per kernel"),
        ({"resblock_kernel_sizes": [3, 4, 7], "resblock_dilation_sizes": [[1]] * 3}, "odd"),
        ({"resblock": "3"}, "resblock must be"),
        ({"upsample_initial_channel": 4}, "too small"),
    ],
)
def test_other_config_errors(kwargs: dict, pattern: str) -> None:
    cfg = dict(HIFIGAN_CONFIGS["v3"])
    cfg.update(kwargs)
    with pytest.raises(HiFiGANConfigError, match=pattern):
        validate_generator_config(**cfg)
    with pytest.raises(HiFiGANConfigError):
        HiFiGANGenerator(**cfg)
    with pytest.raises(HiFiGANConfigError, match=pattern):
        HiFiGANGenerator.validate_config(**kwargs)  # missing arguments: the V1 defaults


def test_unknown_preset() -> None:
    with pytest.raises(KeyError, match="available"):
        HiFiGANGenerator.from_preset("v9")


# --------------------------------------------------------------------------- generator

TINY_G = {
    "n_mels": 20,
    "hop_size": 60,
    "resblock": "1",
    "upsample_rates": [5, 4, 3],
    "upsample_kernel_sizes": [10, 7, 3],  # 7 - 4 is odd: exercises output_padding
    "upsample_initial_channel": 32,
    "resblock_kernel_sizes": [3, 5],
    "resblock_dilation_sizes": [[1, 3], [1]],
}


@pytest.mark.parametrize("preset", ["v1", "v3"])
def test_generator_output_length_presets(preset: str) -> None:
    g = HiFiGANGenerator.from_preset(preset)
    assert g.hop_size == 256
    assert g.sample_noise(2, "cpu") is None
    mel = torch.randn(2, 80, 3)
    with torch.no_grad():
        y = g(g.sample_noise(2, "cpu"), cond=mel)
    assert y.shape == (2, 1, 3 * 256)
    assert y.abs().max() <= 1.0
    with torch.no_grad():
        assert torch.equal(g(mel), y)  # mel passed positionally works too


@pytest.mark.parametrize("frames", [1, 4, 9])
def test_generator_output_length_tiny_config(frames: int) -> None:
    g = HiFiGANGenerator(**TINY_G)
    y = g(None, torch.randn(3, 20, frames))
    assert y.shape == (3, 1, frames * 60)
    y.mean().backward()
    assert g.conv_pre.parametrizations.weight.original1.grad is not None


def test_generator_config_roundtrip_and_type2() -> None:
    g = HiFiGANGenerator(**dict(TINY_G, resblock=2, resblock_dilation_sizes=[[1, 2], [3]]))
    cfg = json.loads(json.dumps(g.config))
    assert cfg["resblock"] == "2"
    g2 = HiFiGANGenerator(**cfg)
    g2.load_state_dict(g.state_dict())
    mel = torch.randn(1, 20, 2)
    with torch.no_grad():
        assert torch.equal(g(None, mel), g2(None, mel))


@pytest.mark.parametrize("preset, expected_m", [("v1", 13.92), ("v2", 0.92), ("v3", 1.46)])
def test_generator_parameter_counts(preset: str, expected_m: float) -> None:
    with torch.device("meta"):
        g = HiFiGANGenerator.from_preset(preset)
    assert n_params(g) / 1e6 == pytest.approx(expected_m, rel=0.02)


def test_weight_norm_removal_keeps_output() -> None:
    g = HiFiGANGenerator.from_preset("v3").eval()
    mel = torch.randn(2, 80, 4)
    with torch.no_grad():
        before = g(None, mel)
        g.remove_weight_norm()
        after = g(None, mel)
    assert not any("parametrizations" in k for k in g.state_dict())
    assert torch.allclose(before, after, atol=1e-5)
    g.remove_weight_norm()  # idempotent


def test_folded_state_dict_and_generate() -> None:
    g = HiFiGANGenerator(**TINY_G).eval()
    mel = torch.randn(2, 20, 3)
    with torch.no_grad():
        ref = g(None, mel)
    g.remove_weight_norm()
    fresh = HiFiGANGenerator(**g.export_config())
    fresh.load_state_dict(g.state_dict())  # folds itself first
    assert fresh._weight_norm_removed
    out = fresh.eval().generate(mel)
    assert out.shape == (2, 3 * 60)
    assert torch.allclose(out, ref[:, 0], atol=1e-5)


def test_export_and_load_roundtrip(tmp_path: Path) -> None:
    import multigan
    from multigan.checkpoint import export_generator

    g = HiFiGANGenerator(**TINY_G).eval()
    export_generator(g, tmp_path / "export")
    loaded = multigan.load(tmp_path / "export")
    assert isinstance(loaded, HiFiGANGenerator) and loaded.config == g.config
    mel = torch.randn(1, 20, 4)
    assert torch.equal(loaded.generate(mel), g.generate(mel))


def test_loads_reference_style_weight_norm_state_dict() -> None:
    g = HiFiGANGenerator(**TINY_G).eval()
    ref_style = {
        k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): v
        for k, v in g.state_dict().items()
    }
    assert any(k.endswith("weight_g") for k in ref_style)
    g2 = HiFiGANGenerator(**TINY_G).eval()
    g2.load_state_dict(ref_style)
    mel = torch.randn(1, 20, 3)
    with torch.no_grad():
        assert torch.equal(g(None, mel), g2(None, mel))


# --------------------------------------------------------------------------- discriminators


def _check_structure(outs: list, n_sub: int, n_maps: int, batch: int) -> None:
    assert isinstance(outs, list) and len(outs) == n_sub
    for fmaps in outs:
        assert isinstance(fmaps, list) and len(fmaps) == n_maps
        for f in fmaps:
            assert isinstance(f, torch.Tensor) and f.shape[0] == batch
        assert fmaps[-1].dim() == 2  # logits [B, N]


def test_mpd_msd_structure() -> None:
    x = torch.randn(3, 1, 2000)  # not a multiple of any period > 2
    mpd = MultiPeriodDiscriminator(channels_scale=0.125)
    msd = MultiScaleDiscriminator(channels_scale=0.125)
    _check_structure(mpd(x), 5, 7, 3)
    _check_structure(msd(x), 3, 9, 3)
    # MPD folds by period: the 2-D feature maps have the period as last dimension
    assert [o[0].shape[-1] for o in mpd(x)] == [2, 3, 5, 7, 11]
    both = mpd_msd(**SMALL_D)
    outs = both(x, cond=torch.randn(3, 80, 8))
    _check_structure(outs[:5], 5, 7, 3)
    _check_structure(outs[5:], 3, 9, 3)
    # [B, T] input is accepted as [B, 1, T]
    assert [o[-1].shape for o in both(x[:, 0])] == [o[-1].shape for o in outs]


def test_full_size_discriminator_structure() -> None:
    d = mpd_msd()
    with torch.no_grad():
        outs = d(torch.randn(1, 1, 1024))
    _check_structure(outs[:5], 5, 7, 1)
    _check_structure(outs[5:], 3, 9, 1)
    assert d.msd.discriminators[0].convs[0].parametrizations.weight[0].__class__.__name__ == "_SpectralNorm"
    assert d.msd.discriminators[1].convs[0].parametrizations.weight[0].__class__.__name__ == "_WeightNorm"


def test_discriminator_parameter_counts() -> None:
    with torch.device("meta"):
        mpd, msd = MultiPeriodDiscriminator(), MultiScaleDiscriminator()
        both = mpd_msd()
        small = mpd_msd(0.25, 0.25)
    assert n_params(mpd) / 1e6 == pytest.approx(41.1, rel=0.02)
    assert n_params(msd) / 1e6 == pytest.approx(29.6, rel=0.02)
    assert n_params(both) == n_params(mpd) + n_params(msd)
    assert n_params(small) < n_params(both) / 10
    assert small.msd.channels == [32, 32, 64, 128, 256, 256, 256]


def test_discriminator_channel_options() -> None:
    mpd = MultiPeriodDiscriminator(channels=[4, 8, 8, 16, 16])
    msd = MultiScaleDiscriminator(channels=[16, 16, 16, 32, 32, 32, 32])
    assert mpd.channels == [4, 8, 8, 16, 16] and msd.channels == [16, 16, 16, 32, 32, 32, 32]
    for d, cls in ((mpd, MultiPeriodDiscriminator), (msd, MultiScaleDiscriminator)):
        json.dumps(d.config)
        assert n_params(cls(**d.config)) == n_params(d)
    with pytest.raises(ValueError, match="multiples of"):
        MultiScaleDiscriminator(channels=[8, 8, 16, 16, 16, 16, 16])


def test_discriminator_backward_two_passes() -> None:
    # spectral norm updates buffers each forward: real and fake passes must still backprop
    d = mpd_msd(**SMALL_D)
    real = torch.randn(2, 1, 1024)
    fake = torch.randn(2, 1, 1024, requires_grad=True)
    loss = sum(((1 - o[-1]) ** 2).mean() for o in d(real)) + sum((o[-1] ** 2).mean() for o in d(fake))
    loss.backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all()


def test_bf16_autocast() -> None:
    g = HiFiGANGenerator.from_preset("v3")
    d = mpd_msd(**SMALL_D)
    mel_fn = hifigan_mel()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = g(None, torch.randn(2, 80, 4))
        outs = d(y)
        loss = sum(o[-1].float().mean() for o in outs)
        mel = mel_fn(y[:, 0])
    loss.backward()
    assert y.shape == (2, 1, 1024)
    assert all(torch.isfinite(o[-1].float()).all() for o in outs)
    assert mel.dtype == torch.float32 and mel.shape == (2, 80, 4)
    assert g.conv_post.parametrizations.weight.original1.grad is not None


# --------------------------------------------------------------------------- mel


def _reference_log_mel(y: np.ndarray, sr: int, n_fft: int, hop: int, win: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """HiFi-GAN mel in numpy/librosa: reflect pad, center=False framing, |STFT|, slaney mel, log."""
    import librosa

    pad = (n_fft - hop) // 2
    yp = np.pad(y.astype(np.float64), (pad, pad), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]  # [frames, n_fft]
    window = np.zeros(n_fft)
    off = (n_fft - win) // 2
    window[off : off + win] = librosa.filters.get_window("hann", win, fftbins=True)
    spec = np.fft.rfft(frames * window, axis=1).T  # [n_freqs, frames]
    mag = np.sqrt(np.abs(spec) ** 2 + 1e-9)
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.log(np.clip(basis @ mag, 1e-5, None))


@pytest.mark.skipif(not LJ_WAVS.is_dir(), reason="LJ Speech mini set not available")
def test_mel_matches_librosa_on_ljspeech() -> None:
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    wav = sorted(LJ_WAVS.glob("*.wav"))[0]
    y, sr = sf.read(str(wav), dtype="float32")
    assert sr == 22050
    y = y[: 2 * sr]
    y = y[: len(y) // 256 * 256]
    ext = hifigan_mel()
    assert len(list(ext.buffers())) == 2 and not ext.state_dict()  # window and filterbank, rebuilt from settings
    mel = ext(torch.from_numpy(y)[None, None])[:, 0]
    assert mel.shape == (1, 80, len(y) // 256)
    ref = _reference_log_mel(y, sr, 1024, 256, 1024, 80, 0.0, 8000.0)
    assert ref.shape == mel.shape[1:]
    err = np.abs(mel[0].numpy() - ref)
    assert err.max() < 2e-3 and err.mean() < 1e-4
    # fmax=None (HiFi-GAN's mel for the L1 loss) and [B, T] input
    ext_full = hifigan_mel(fmax=None)
    mel_full = ext_full(torch.from_numpy(y)[None])
    ref_full = _reference_log_mel(y, sr, 1024, 256, 1024, 80, 0.0, sr / 2)
    assert np.abs(mel_full[0].numpy() - ref_full).max() < 2e-3


def test_one_log_mel_reproduces_torchaudio_and_the_reference_exactly() -> None:
    """LogMel's default style is torchaudio's MelSpectrogram, its hifigan style the reference's mel, bit for bit."""
    import torchaudio

    y = torch.rand(3, 4000) - 0.5
    ta = torchaudio.transforms.MelSpectrogram(8000, n_fft=512, hop_length=128, n_mels=64, power=1.0, norm="slaney",
                                              mel_scale="slaney")
    assert torch.equal(LogMel(8000, 512, 128, 64)(y), torch.log(torch.clamp(ta(y), min=1e-5)))
    pad = (1024 - 256) // 2
    padded = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(padded, 1024, 256, 1024, torch.hann_window(1024), center=False, return_complex=True)
    basis = torchaudio.functional.melscale_fbanks(513, 0.0, 8000.0, 80, 22050, norm="slaney", mel_scale="slaney")
    magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    reference = torch.log(torch.clamp(torch.matmul(basis.T.contiguous(), magnitude), min=1e-5))
    assert torch.equal(hifigan_mel()(y), reference)
    assert LogMel(8000, 512, 128, 64).state_dict().keys() == {"mel.spectrogram.window", "mel.mel_scale.fb"}
    with pytest.raises(ValueError, match="style='hifigan' fixes"):
        LogMel(8000, 512, 128, 64, power=2.0, style="hifigan")


def test_mel_frames_and_win_smaller_than_fft() -> None:
    y = torch.randn(2, 256 * 7).clamp(-1, 1) * 0.5
    assert hifigan_mel()(y).shape == (2, 80, 7)
    ext = hifigan_mel(sample_rate=16000, n_fft=512, hop_size=128, win_size=400, n_mels=40, fmax=None)
    mel = ext(y[:, : 128 * 9])
    assert mel.shape == (2, 40, 9)
    pytest.importorskip("librosa")
    ref = _reference_log_mel(y[0, : 128 * 9].numpy(), 16000, 512, 128, 400, 40, 0.0, 8000.0)
    assert np.abs(mel[0].numpy() - ref).max() < 2e-3


# --------------------------------------------------------------------------- MR-STFT


def test_multi_resolution_stft_distance() -> None:
    y = torch.randn(2, 1, 4096) * 0.3
    x = y + 0.05 * torch.randn_like(y)
    assert multi_resolution_stft_distance(y, y).item() == pytest.approx(0.0, abs=1e-6)
    d_close = multi_resolution_stft_distance(x, y)
    d_far = multi_resolution_stft_distance(torch.randn_like(y) * 0.3, y)
    assert 0 < d_close.item() < d_far.item()
    sc, mag = multi_resolution_stft_distance(x, y, return_components=True)
    assert torch.allclose(sc + mag, d_close)
    xg = x.clone().requires_grad_(True)
    multi_resolution_stft_distance(xg[:, 0], y[:, 0]).backward()  # [B, T] also accepted
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    with pytest.raises(ValueError, match="same shape"):
        multi_resolution_stft_distance(x[..., :-1], y)


# --------------------------------------------------------------------------- published feature matching


def test_feature_maps_are_the_reference_ones() -> None:
    # The reference feature-matching loss sums mean |real - fake| over every conv output of every
    # sub-discriminator, conv_post's included: 5 + 1 maps per period, 7 + 1 per scale. The core uses all
    # items but the last (the flattened logits), so item -2 must be conv_post's output.
    from multigan.regularizers import feature_matching_loss

    d = mpd_msd(**SMALL_D)
    real, fake = torch.randn(2, 1, 1024), torch.randn(2, 1, 1024)
    with torch.no_grad():
        r_out, f_out = d(real), d(fake)
    assert [len(o) - 1 for o in r_out] == [6] * 5 + [8] * 3
    for o in r_out:
        assert torch.equal(torch.flatten(o[-2], 1), o[-1])
    reference = sum(torch.mean(torch.abs(rl - gl)) for r, f in zip(r_out, f_out) for rl, gl in zip(r[:-1], f[:-1]))
    assert torch.allclose(feature_matching_loss(r_out, f_out), reference)
