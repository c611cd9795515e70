"""The Vocos family (ConvNeXt + inverse-STFT head), the multi-resolution STFT discriminator, the multi-scale mel
loss and the Vocos recipe: shapes, exact inverse STFT, the discriminator convention, training, export, vocode."""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

import multigan
from multigan.audio.features import LogMel
from multigan.audio.losses import MultiScaleMelL1
from multigan.audio.vocoders.cli import register
from multigan.audio.vocoders.discriminators.combined import CombinedDiscriminator
from multigan.audio.vocoders.discriminators.mpd import MultiPeriodDiscriminator
from multigan.audio.vocoders.discriminators.mrd import MultiResolutionDiscriminator
from multigan.audio.vocoders.registry import GENERATORS
from multigan.audio.vocoders.training import build_models
from multigan.audio.vocoders.vocoder import Vocoder, VocoderConfigError, check_generator_config
from multigan.audio.vocoders.vocos import VocosConfig, VocosConfigError, VocosGenerator, istft_same
from multigan.errors import MultiganError
from multigan.losses import discriminator_loss, generator_loss
from multigan.regularizers import feature_matching_loss
from helpers.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
TINY = {"dim": 16, "intermediate_dim": 32, "num_layers": 2}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def lj_dir(lj_short_dir: Path) -> Path:
    """Four LJ Speech clips cut to 1.5 s (tests/conftest.py)."""
    return lj_short_dir


def _recipe():
    return load_recipe("ljspeech_vocos")


# --------------------------------------------------------------------------- generator


@pytest.mark.parametrize("hop, n_fft", [(64, None), (100, None), (256, None), (256, 512), (101, 204), (275, 1100)])
def test_output_length_is_frames_times_hop(hop: int, n_fft) -> None:
    g = VocosGenerator(n_mels=20, hop_size=hop, n_fft=n_fft, **TINY)
    assert g.config["n_fft"] == (4 * hop if n_fft is None else n_fft)
    for frames in (1, 7):
        with torch.no_grad():
            y = g(None, torch.randn(2, 20, frames))
        assert y.shape == (2, 1, frames * hop)
        assert float(y.abs().max()) <= 1.0


def test_istft_head_reproduces_a_signal_from_its_exact_stft() -> None:
    """A signal's STFT magnitude and phase, framed as the head frames (frame t starts at t*hop - pad), give it back."""
    for n_fft, hop in ((1024, 256), (512, 128), (204, 101)):
        frames = 12
        signal = torch.randn(2, frames * hop, dtype=torch.float64).float()
        left = (n_fft - hop) // 2
        padded = F.pad(signal, (left, n_fft - hop - left))
        spec = torch.stft(padded, n_fft, hop, window=torch.hann_window(n_fft), center=False, return_complex=True)
        assert spec.shape[-1] == frames
        g = VocosGenerator(n_mels=8, hop_size=hop, n_fft=n_fft, **TINY)
        rebuilt = g.head.synthesize(spec.abs(), spec.angle())
        assert rebuilt.shape == signal.shape
        assert torch.allclose(rebuilt, signal, atol=1e-4), float((rebuilt - signal).abs().max())
    # the same inverse as torch.istft on the interior (where no trimming convention differs)
    n_fft, hop = 1024, 256
    x = torch.randn(1, 40 * hop)
    spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), center=True, return_complex=True)
    ours = istft_same(spec, hop, torch.hann_window(n_fft))  # frame t centred at t*hop + hop/2 -> offset hop/2
    ref = torch.istft(spec, n_fft, hop, window=torch.hann_window(n_fft), center=True, length=x.shape[-1])
    inner = slice(n_fft, x.shape[-1] - n_fft)
    assert torch.allclose(ours[:, hop // 2:][:, inner], ref[:, inner], atol=1e-4)


def test_head_magnitude_is_a_clipped_exp_and_backbone_keeps_frames() -> None:
    g = VocosGenerator(n_mels=8, hop_size=64, **TINY)
    feats = g.backbone(torch.randn(3, 8, 5))
    assert feats.shape == (3, 5, TINY["dim"])
    blocks = g.backbone.blocks
    assert all(torch.allclose(b.gamma, torch.full_like(b.gamma, 1 / len(blocks))) for b in blocks)
    with torch.no_grad():  # DC log-magnitude 50 (clipped to 100), every other bin ~0: frames of 100 / n_fft
        g.head.out.weight.zero_()
        g.head.out.bias.zero_()
        g.head.out.bias[: g.head.n_fft // 2 + 1] = -50.0
        g.head.out.bias[0] = 50.0
        y = g(None, torch.randn(1, 8, 20))[0, 0, g.head.n_fft:-g.head.n_fft]
    # least-squares overlap-add of windowed constant frames: c * sum(w) / sum(w^2) = c * 2 / 1.5 (Hann, 75 % overlap)
    assert torch.allclose(y, torch.full_like(y, 100 / g.head.n_fft * 2 / 1.5), atol=1e-5)
    assert g.remove_weight_norm() is g


def test_incompatible_settings_are_one_clear_error() -> None:
    with pytest.raises(VocosConfigError, match="n_fft=300 must be >= 2 \\* mel.hop_size = 512"):
        check_generator_config({"n_fft": 300}, {"n_mels": 80, "hop_size": 256}, "vocos")
    with pytest.raises(VocosConfigError, match="must be even"):
        VocosGenerator(hop_size=100, n_fft=401)
    with pytest.raises(VocosConfigError, match="num_layers must be >= 1"):
        VocosGenerator(num_layers=0)
    with pytest.raises(VocoderConfigError, match=r"\[.upsample_rates.\] do not belong to the .vocos. family"):
        check_generator_config({"upsample_rates": [8, 8, 4]}, {"n_mels": 80, "hop_size": 256}, "vocos")
    assert issubclass(VocosConfigError, MultiganError)
    assert GENERATORS["vocos"] is VocosGenerator


# --------------------------------------------------------------------------- discriminators and losses


def test_mrd_follows_the_feature_map_convention_and_trains_with_the_core_losses() -> None:
    mrd = MultiResolutionDiscriminator(resolutions=[[256, 64, 256], [512, 128, 512]], channels_scale=0.125)
    assert mrd.discriminators[0].convs[0].out_channels == 8
    real, fake = torch.randn(2, 1, 4096), torch.randn(2, 1, 4096, requires_grad=True)
    out = mrd(fake)
    assert len(out) == 2
    for maps in out:
        assert len(maps) == 7 and all(isinstance(m, torch.Tensor) for m in maps)
        assert maps[-1].dim() == 2 and maps[-1].shape[0] == 2
        assert torch.equal(maps[-1], maps[-2].flatten(1))
    with torch.no_grad():
        real_out = mrd(real)
    d_loss = discriminator_loss("hinge", real_out, [[m.detach() for m in s] for s in out])
    g_loss = generator_loss("hinge", out) + feature_matching_loss(real_out, out)
    assert d_loss.dim() == 0 and torch.isfinite(d_loss)
    g_loss.backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0


def test_combined_discriminator_concatenates_and_weights_generator_gradients() -> None:
    mpd = MultiPeriodDiscriminator([2, 3], channels_scale=0.125)
    mrd = MultiResolutionDiscriminator([[256, 64, 256]], channels_scale=0.125)
    x = torch.randn(2, 1, 2048)
    grads = []
    for weight in (1.0, 0.1):
        combined = CombinedDiscriminator([mpd, mrd], [1.0, weight])
        xi = x.clone().requires_grad_(True)
        out = combined(xi)
        assert len(out) == 3  # 2 periods + 1 resolution
        out[-1][-1].sum().backward()  # the MRD's logits only
        grads.append(xi.grad)
    assert torch.allclose(grads[1], 0.1 * grads[0], atol=1e-7)
    with pytest.raises(ValueError, match="positive weight"):
        CombinedDiscriminator([mpd], [0.0])


def test_multiscale_mel_loss() -> None:
    loss = MultiScaleMelL1(22050)
    assert [m.n_fft for m in loss.mels] == [32, 64, 128, 256, 512, 1024, 2048]
    assert [m.n_mels for m in loss.mels] == [5, 10, 20, 40, 80, 160, 320]
    real = 0.3 * torch.sin(torch.arange(8192) / 7.0)[None]
    fake = (real + 0.05 * torch.randn_like(real)).requires_grad_(True)
    value = loss(fake, {"real": real})
    assert float(loss(real, {"real": real})) == 0.0
    expected = sum(F.l1_loss(m(fake), m(real)) / math.log(10) for m in loss.mels)
    assert float(value.detach()) == pytest.approx(float(expected.detach()), rel=1e-5) and float(value.detach()) > 0.1
    value.backward()
    assert float(fake.grad.abs().sum()) > 0
    single = MultiScaleMelL1(22050, scales=[[1024, 80]])
    ref = LogMel(22050, 1024, 256, 80, win_length=1024)
    with torch.no_grad():
        one_scale = float(single.distance(fake, real))
        direct = float(F.l1_loss(ref(fake), ref(real))) / math.log(10)
    assert one_scale == pytest.approx(direct, rel=1e-5)


# --------------------------------------------------------------------------- recipe, export, vocode


TINY_RECIPE = ["generator.dim=16", "generator.intermediate_dim=32", "generator.num_layers=2",
               "discriminator.mpd.periods=[2,3]", "discriminator.mrd.resolutions=[[256,64,256],[512,128,512]]",
               "data.segment=2048", "data.val_clips=1", "data.repeats=2", "train.batch_size=2", "train.val_every=2",
               "train.ckpt_every=2", "train.adv_start_step=2", "train.progress=false", "eval.griffin_lim=false",
               "eval.pesq=false", "train.max_minutes=0"]


def test_recipe_trains_exports_loads_and_vocodes(lj_dir: Path, tmp_path: Path, capsys) -> None:
    recipe = _recipe()
    out = tmp_path / "run"
    train_dir, held_out = tmp_path / "train", tmp_path / "held_out"
    train_dir.mkdir()
    held_out.mkdir()
    wavs = sorted(lj_dir.glob("*.wav"))
    for w in wavs[:3]:
        shutil.copy(w, train_dir / w.name)
    shutil.copy(wavs[3], held_out / wavs[3].name)
    summary = recipe.main(["--data", str(train_dir), "--out", str(out), "--preset", "vocos-cpu", "--max-steps", "4",
                           *TINY_RECIPE, f"data.val_path={held_out}", "objective.mel_loss=multiscale"])
    assert summary["steps"] == 4 and summary["mel_l1"] > 0
    split = json.loads((out / "split.json").read_text())  # data.val_path: every clip of --data trains
    assert split["validation"] == [wavs[3].name] and split["train"] == [w.name for w in wavs[:3]]
    rows = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["cpu_seconds"] > 0 for r in rows) and rows[1]["cpu_seconds"] > rows[0]["cpu_seconds"]
    voc = multigan.load(out)
    assert isinstance(voc, Vocoder) and voc.config["generator_class"] == "vocos"
    assert isinstance(voc.net, VocosGenerator) and voc.net.config["dim"] == 16
    audio, sr = sf.read(str(sorted(lj_dir.glob("*.wav"))[0]), dtype="float32")
    mel = voc.mel(torch.from_numpy(audio[: 20 * 256]))
    assert mel.shape == (1, 80, 20)
    assert voc(mel).shape == (1, 20 * 256)
    again = voc.resynthesize(audio[:5000], sr)
    assert again.shape == (5000,) and torch.isfinite(again).all()
    parser = argparse.ArgumentParser(prog="multigan")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vocode", str(out), str(sorted(lj_dir.glob("*.wav"))[1]), "-o", str(tmp_path / "o.wav")])
    args.func(args)
    assert "wrote" in capsys.readouterr().out
    info = sf.info(str(tmp_path / "o.wav"))
    assert info.samplerate == 22050 and info.frames == int(1.5 * 22050)


def test_recipe_presets_and_config_error(tmp_path: Path, capsys) -> None:
    recipe = _recipe()
    published = recipe.PRESETS["vocos"]
    assert published["train"]["loss"] == "hinge" and published["train"]["g_lr"] == 5e-4
    assert published["train"]["betas"] == [0.8, 0.9] and published["train"]["lr_schedule"] == "cosine"
    assert published["train"]["batch_size"] == 16 and published["data"]["segment"] == 16384
    assert recipe.VocosRecipeConfig().generator == VocosConfig(512, 1536, 8, None)
    assert recipe.PRESETS["vocos-cpu"]["train"]["max_minutes"] == 30.0
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), "generator.n_fft=300"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: generator: generator.n_fft=300 must be >= 2 * mel.hop_size = 512")
    assert "\n" not in err
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), "objective.mel_loss=multi"])
    assert info.value.code == 2 and "objective.mel_loss" in capsys.readouterr().err


def test_held_out_folder_errors_name_the_key(lj_dir: Path, tmp_path: Path, capsys) -> None:
    recipe = _recipe()
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(lj_dir), "--out", str(tmp_path / "run"), f"data.val_path={tmp_path / 'nope'}",
                     *TINY_RECIPE])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: data.val_path: ") and f"{tmp_path / 'nope'}: does not exist" in err


def test_hifigan_recipe_can_add_the_mrd() -> None:
    ljspeech_hifigan = load_recipe("ljspeech_hifigan")
    cfg = ljspeech_hifigan.HiFiGANRecipeConfig()
    cfg.discriminator.mpd.channels_scale = cfg.discriminator.msd.channels_scale = 0.125
    _, plain = build_models(cfg)
    assert plain.names == ["mpd", "msd"] and plain.weights == [1.0, 1.0]
    cfg.discriminator.use, cfg.discriminator.weights = ["mpd", "msd", "mrd"], [1.0, 1.0, 0.1]
    cfg.discriminator.mrd.channels_scale = 0.125
    _, combined = build_models(cfg)
    assert isinstance(combined, CombinedDiscriminator) and combined.weights == [1.0, 1.0, 0.1]
    with torch.no_grad():
        assert len(plain(torch.randn(1, 1, 4096))) == 8 and len(combined(torch.randn(1, 1, 4096))) == 11


def test_specgan_can_use_a_vocos_vocoder() -> None:
    from multigan.audio.specgan import SpecGANGenerator

    g = SpecGANGenerator(num_classes=10, dim=4, griffin_lim_iters=2).eval()
    griffin = g.generate(2, digit=3, seed=0)
    voc = Vocoder(generator=TINY, mel=g.vocoder_mel_settings(), generator_class="vocos").eval()
    g.use_vocoder(voc)
    neural = g.generate(2, digit=3, seed=0)
    assert neural.shape == griffin.shape and torch.isfinite(neural).all() and not torch.allclose(neural, griffin)
