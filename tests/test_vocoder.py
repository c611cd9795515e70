"""The vocoder API and its generator registry, training pieces, metrics, the recipe and the ``vocode`` command."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import multigan
from multigan.audio.features import LogMagSpectrogram, LogMel, griffin_lim
from multigan.audio.losses import MelL1, mel_l1, stft_loss
from multigan.audio.vocoders.cli import register
from multigan.audio.vocoders.data.clips import SegmentDataset, VocoderDataError, load_clips, validation_clips
from multigan.audio.vocoders.data.corpus import split_clips
from multigan.audio.vocoders.discriminators.combined import CombinedDiscriminator
from multigan.audio.vocoders.discriminators.mpd import MultiPeriodDiscriminator
from multigan.audio.vocoders.discriminators.msd import MultiScaleDiscriminator
from multigan.audio.vocoders.hifigan import HiFiGANConfigError, HiFiGANGenerator
from multigan.audio.vocoders.evaluation.protocol import ClipScorer, pesq_wb
from multigan.audio.vocoders.metrics import GriffinLimBaseline, VocoderValidator
from multigan.audio.vocoders.registry import GENERATORS
from multigan.audio.vocoders.training import build_vocoder_trainer
from multigan.audio.vocoders.vocoder import (DEFAULT_MEL, Vocoder, VocoderConfigError, check_generator_config,
                                             mel_settings)
from multigan.checkpoint import export_generator
from multigan.errors import MultiganError
from multigan.generator import ExportableGenerator
from helpers.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]

# A tiny V3-style vocoder at the published mel settings (hop 256): fast on one CPU thread.
TINY_G = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
          "upsample_initial_channel": 16, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 2]]}


def tiny_discriminator() -> CombinedDiscriminator:
    """A narrow MPD (periods 2, 3) + MSD (2 scales), named as a recipe's ``discriminator.use=[mpd,msd]``."""
    return CombinedDiscriminator({"mpd": MultiPeriodDiscriminator([2, 3], [4, 8, 16, 16, 16]),
                                  "msd": MultiScaleDiscriminator(2, [16, 16, 16, 32, 32, 32, 32])})


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def lj_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four LJ Speech clips (two of them cut to 1.5 s) copied into a temporary folder."""
    src = REPO.parent / "shared" / "data" / "ljspeech-mini" / "wavs"
    if not src.is_dir():
        pytest.skip(f"LJ Speech mini set not found at {src}")
    out = tmp_path_factory.mktemp("lj")
    for i, path in enumerate(sorted(src.glob("*.wav"))[:4]):
        y, sr = sf.read(str(path), dtype="float32")
        sf.write(str(out / path.name), y[: int(1.5 * sr)] if i < 2 else y[: 3 * sr], sr)
    return out


def tiny_vocoder() -> Vocoder:
    return Vocoder(generator=TINY_G)


# --------------------------------------------------------------------------- model and API


def test_output_length_is_frames_times_hop() -> None:
    voc = tiny_vocoder()
    for frames in (1, 7):
        wav = voc(torch.randn(2, 80, frames))
        assert wav.shape == (2, frames * 256)
    assert voc.sample_noise(3, "cpu") is None
    assert voc(None, torch.randn(1, 80, 3)).shape == (1, 768)  # the trainer's call
    assert voc.generate(torch.randn(80, 2)).shape == (1, 512)


def test_config_is_json_and_mel_matches_generator() -> None:
    voc = tiny_vocoder()
    cfg = json.loads(json.dumps(voc.config))
    assert cfg["mel"] == DEFAULT_MEL and cfg["generator_class"] == "hifigan"
    assert cfg["generator"]["hop_size"] == 256 and cfg["generator"]["n_mels"] == 80
    assert Vocoder(**cfg).config == voc.config
    with pytest.raises(HiFiGANConfigError, match="multiply to 256 but hop_size is 200"):
        Vocoder(generator=TINY_G, mel={"hop_size": 200})
    with pytest.raises(HiFiGANConfigError, match="multiply to 256 but hop_size is 200"):  # config time, no network
        check_generator_config(TINY_G, mel_settings({"hop_size": 200}))
    with pytest.raises(VocoderConfigError, match="differs from the mel front end"):
        Vocoder(generator={**TINY_G, "n_mels": 64})
    with pytest.raises(VocoderConfigError, match="unknown mel setting"):
        Vocoder(mel={"hop": 256})
    with pytest.raises(VocoderConfigError, match="fmax=12000.0 is above the Nyquist frequency 11025.0"):
        mel_settings({"fmax": 12000})
    with pytest.raises(VocoderConfigError, match="unknown generator_class 'wavenet'; available"):
        Vocoder(generator=TINY_G, generator_class="wavenet")
    with pytest.raises(VocoderConfigError, match=r"\['resblock', .*\] do not belong to the 'vocos' family"):
        Vocoder(generator=TINY_G, generator_class="vocos")  # another family's settings: named, no TypeError
    for error in (HiFiGANConfigError, VocoderConfigError):
        assert issubclass(error, MultiganError)  # recipes print it as one error line


class StubGenerator(ExportableGenerator):
    """The smallest vocoder generator family: one transposed convolution from mel frames to hops."""

    def __init__(self, n_mels: int = 80, hop_size: int = 256, channels: int = 4) -> None:
        self.validate_config(n_mels=n_mels, hop_size=hop_size, channels=channels)
        super().__init__(n_mels=n_mels, hop_size=hop_size, channels=channels)
        self.up = torch.nn.ConvTranspose1d(n_mels, 1, hop_size, hop_size)

    @classmethod
    def validate_config(cls, n_mels: int = 80, hop_size: int = 256, channels: int = 4) -> None:
        if channels < 1:
            raise MultiganError(f"channels must be positive, got {channels}")

    def remove_weight_norm(self) -> "StubGenerator":
        return self

    def forward(self, noise, cond=None):
        return torch.tanh(self.up(cond))


def test_a_generator_family_plugs_in_with_one_registry_entry(tmp_path: Path, monkeypatch) -> None:
    assert next(iter(GENERATORS)) == "hifigan" and GENERATORS["hifigan"] is HiFiGANGenerator
    monkeypatch.setitem(GENERATORS, "stub", StubGenerator)
    mel = {"sample_rate": 8000, "n_fft": 512, "hop_size": 128, "win_size": 512, "n_mels": 64, "fmax": None}
    voc = Vocoder(generator={"channels": 2}, mel=mel, generator_class="stub").eval()
    assert voc.config["generator"] == {"n_mels": 64, "hop_size": 128, "channels": 2}
    with pytest.raises(MultiganError, match="channels must be positive"):
        check_generator_config({"channels": 0}, mel_settings(mel), "stub")
    audio = 0.3 * torch.sin(torch.arange(1000) / 5.0)
    export_generator(voc, tmp_path / "export")
    loaded = multigan.load(tmp_path)
    assert isinstance(loaded.net, StubGenerator) and loaded.config == voc.config
    assert torch.equal(loaded.resynthesize(audio, 8000), voc.resynthesize(audio, 8000))


def test_exports_from_before_the_registry_load_as_hifigan(tmp_path: Path) -> None:
    voc = tiny_vocoder().eval()
    export_generator(voc, tmp_path / "export")
    info_file = tmp_path / "export" / "generator.json"
    info = json.loads(info_file.read_text())
    assert info["class"] == "multigan.audio.vocoders.vocoder:Vocoder"
    del info["config"]["generator_class"]  # what exports written before the registry hold
    info["class"] = "multigan.audio.vocoder:Vocoder"  # ... and before the vocoders package (CLASS_ALIASES)
    info_file.write_text(json.dumps(info))
    loaded = multigan.load(tmp_path)
    assert isinstance(loaded.net, HiFiGANGenerator) and loaded.config == voc.config


def test_mel_is_the_training_front_end() -> None:
    voc = tiny_vocoder()
    y = torch.rand(2, 256 * 5) - 0.5
    assert voc.mel(y).shape == (2, 80, 5)
    assert torch.equal(voc.mel(y.numpy()), voc.mel(y))
    ds = SegmentDataset([("a.wav", y[0])], 1024, voc.config["mel"])
    item = ds[0]
    assert item["real"].shape == (1024,) and item["cond"].shape == (80, 4)
    assert torch.allclose(voc.mel(item["real"])[0], item["cond"])


def test_export_load_resynthesize_same_length(tmp_path: Path) -> None:
    voc = tiny_vocoder().eval()
    export_generator(voc, tmp_path / "export")
    loaded = multigan.load(tmp_path)
    assert isinstance(loaded, Vocoder) and loaded.config == voc.config
    assert not any("parametrizations" in k for k in loaded.state_dict())  # weight norm folded for inference
    mel = torch.randn(1, 80, 6)
    assert torch.allclose(loaded(mel), voc(mel), atol=1e-5)
    audio = 0.3 * torch.sin(torch.arange(5000) / 7.0)
    out = loaded.resynthesize(audio, 22050)
    assert out.shape == audio.shape  # 5000 is not a whole number of hops
    out16 = loaded.resynthesize(audio[:4000].numpy(), 16000)  # resampled to 22.05 kHz
    assert out16.shape == (int(np.ceil(4000 * 22050 / 16000)),)
    assert loaded.resynthesize(torch.stack([audio, audio]), 22050).shape == (2, 5000)
    # a folded export loads into a fresh (weight-normed) vocoder too
    export_generator(loaded, tmp_path / "folded")
    again = multigan.load(tmp_path / "folded")
    assert torch.equal(again(mel), loaded(mel))


def test_vocode_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    export_generator(tiny_vocoder().eval(), tmp_path / "run" / "export")
    sr_in = 16000
    sf.write(str(tmp_path / "in.wav"), (0.2 * np.sin(np.arange(sr_in) / 5.0)).astype(np.float32), sr_in)
    parser = argparse.ArgumentParser(prog="multigan")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vocode", str(tmp_path / "run"), str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav")])
    args.func(args)
    assert "wrote" in capsys.readouterr().out
    info = sf.info(str(tmp_path / "o.wav"))
    assert info.samplerate == 22050 and info.frames == 22050
    # not a vocoder run: one clear error
    export_generator(HiFiGANGenerator(**{**TINY_G, "n_mels": 80, "hop_size": 256}), tmp_path / "other" / "export")
    args = parser.parse_args(["vocode", str(tmp_path / "other"), str(tmp_path / "in.wav"), "-o", str(tmp_path / "x.wav")])
    with pytest.raises(MultiganError, match="not a vocoder"):
        args.func(args)


# --------------------------------------------------------------------------- data


def test_load_and_split_are_deterministic(lj_dir: Path, tmp_path: Path) -> None:
    clips = load_clips(lj_dir, 22050)
    assert len(clips) == 4 and all(abs(float(w.abs().max()) - 0.95) < 1e-6 for _, w in clips)
    train, val = split_clips(clips, 1, seed=0)
    assert len(train) == 3 and len(val) == 1
    assert split_clips(list(reversed(clips)), 1, seed=0)[1][0][0] == val[0][0]  # order-independent
    with pytest.raises(VocoderDataError, match="too few"):
        split_clips(clips, 4)
    bad = tmp_path / "bad"
    shutil.copytree(lj_dir, bad)
    (bad / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    sf.write(str(bad / "silent.wav"), np.zeros(1000, np.float32), 22050)
    with pytest.raises(VocoderDataError, match="2 unusable file") as info:
        load_clips(bad, 22050)
    assert "broken.wav" in str(info.value) and "silent.wav: silent" in str(info.value)


# --------------------------------------------------------------------------- metrics


def test_pesq_wrapper() -> None:
    t = np.arange(3 * 22050) / 22050
    speechy = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    assert pesq_wb(speechy, speechy, 22050) == pytest.approx(4.644, abs=0.01)
    noisy = speechy + 0.05 * np.random.default_rng(0).standard_normal(speechy.shape).astype(np.float32)
    assert pesq_wb(speechy, noisy, 22050) < 4.0
    assert np.isnan(pesq_wb(np.zeros(22050, np.float32), np.zeros(22050, np.float32), 22050))


def test_griffin_lim_is_torchaudios_by_default() -> None:
    """The one Griffin-Lim: torchaudio's, bit for bit, unless a seeded initial phase or the clamp floor is asked."""
    import torchaudio

    spec = LogMagSpectrogram(256, 64)(torch.rand(2, 4000) - 0.5)
    torch.manual_seed(1)
    ours = griffin_lim(spec, 256, 64, 4, length=4000)
    torch.manual_seed(1)
    theirs = torchaudio.functional.griffinlim(spec.exp(), torch.hann_window(256), 256, 64, 256, 1.0, 4, 0.99, 4000,
                                              True)
    assert torch.equal(ours, theirs)
    phase = torch.exp(2j * torch.pi * torch.rand(spec.shape[-2:], generator=torch.Generator().manual_seed(0)))
    seeded = griffin_lim(spec[0].exp(), 256, 64, 4, length=4000, log=False, init=phase, phase_floor="clamp")
    assert seeded.shape == (4000,) and torch.equal(seeded, griffin_lim(spec[0], 256, 64, 4, length=4000, init=phase,
                                                                       phase_floor="clamp"))


def test_griffin_lim_baseline_is_cached(lj_dir: Path, tmp_path: Path) -> None:
    clips = load_clips(lj_dir, 22050)[:1]
    vclips = validation_clips([(n, w[:22050]) for n, w in clips], DEFAULT_MEL)
    gl = GriffinLimBaseline(DEFAULT_MEL, n_iter=16)
    validator = VocoderValidator(vclips, DEFAULT_MEL, with_pesq=True, griffin_lim=gl)
    base = validator.baseline(tmp_path)
    assert set(base) == {"mel_l1", "mel_l1_8k", "mr_stft", "pesq_wb"}
    assert base["mel_l1_8k"] < 0.5 and base["pesq_wb"] > 2.0  # NNLS + Griffin-Lim on clean speech is good
    saved = json.loads((tmp_path / "griffin_lim" / "metrics.json").read_text())
    assert saved["mean"] == base and (tmp_path / "griffin_lim" / Path(clips[0][0]).name).is_file()
    again = VocoderValidator(vclips, DEFAULT_MEL, griffin_lim=GriffinLimBaseline(DEFAULT_MEL, n_iter=16))
    saved["mean"]["mel_l1"] = 123.0  # proves the cache is read, not recomputed
    (tmp_path / "griffin_lim" / "metrics.json").write_text(json.dumps(saved))
    assert again.baseline(tmp_path)["mel_l1"] == 123.0
    # the real clip against itself: zero distances, and gaps against the baseline
    metrics, wavs = again.evaluate(lambda mel: vclips[0].audio[None], "cpu", tmp_path)
    assert metrics["mel_l1"] == 0.0 and metrics["gl_gap_mel_l1"] == 123.0
    assert metrics["pesq_wb"] == pytest.approx(4.644, abs=0.01) and wavs[0].shape == vclips[0].audio.shape


def test_griffin_lim_baseline_is_at_least_as_good_as_librosa(lj_dir: Path) -> None:
    """The validation baseline (the eval default of 100 iterations) against librosa's mel_to_audio (NNLS + 32
    momentum Griffin-Lim iterations) on the same mel of a real 3 s clip: no worse on the full-band mel L1."""
    import librosa

    name, wav = load_clips(lj_dir, 22050)[2]
    wav = wav[: (wav.shape[0] // 256) * 256]
    mel = LogMel.from_settings(DEFAULT_MEL)(wav)
    ours = GriffinLimBaseline(DEFAULT_MEL, n_iter=100)(mel, wav.shape[0])
    # mel_to_audio's two steps (its own call cannot seed the random initial phase): NNLS, then 32 iterations
    stft = librosa.feature.inverse.mel_to_stft(np.exp(mel.numpy()).astype(np.float64), sr=22050, n_fft=1024,
                                               power=1.0, fmin=0.0, fmax=8000.0, norm="slaney", htk=False)
    theirs = librosa.griffinlim(stft, n_iter=32, hop_length=256, win_length=1024, n_fft=1024, random_state=0)
    # librosa frames are centred at t * hop, the vocoder mel's at t * hop + hop / 2: shift by half a hop
    theirs = torch.nn.functional.pad(torch.from_numpy(theirs).float(), (128, 0))[: wav.shape[0]]
    theirs = torch.nn.functional.pad(theirs, (0, wav.shape[0] - theirs.shape[0]))
    full, band = LogMel.from_settings({**DEFAULT_MEL, "fmax": None}), LogMel.from_settings(DEFAULT_MEL)
    scorer = ClipScorer(full, band, pesq=False)
    ours_m, theirs_m = scorer.score(ours, wav, 22050), scorer.score(theirs, wav, 22050)
    assert ours_m["mel_l1"] <= theirs_m["mel_l1"], (ours_m, theirs_m)
    assert ours_m["mel_l1_8k"] < 0.2


# --------------------------------------------------------------------------- training


def test_few_real_steps_reduce_mel_l1(lj_dir: Path, tmp_path: Path) -> None:
    clips = load_clips(lj_dir, 22050)[:2]  # 1.5 s each
    voc = tiny_vocoder()
    cfg = multigan.TrainConfig(max_steps=20, batch_size=2, loss="lsgan", fm_weight=2.0, reuse_fakes=True,
                               optimizer="adamw", g_lr=5e-3, d_lr=2e-4, betas=(0.8, 0.99), ema_decay=0.0,
                               adv_start_step=16, device="cpu", val_every=0, progress=False)
    trainer = build_vocoder_trainer(voc, tiny_discriminator(), cfg, clips, tmp_path, segment=4096, repeats=2)
    vclips = validation_clips([(n, w[:22050]) for n, w in clips], DEFAULT_MEL)
    validator = VocoderValidator(vclips, DEFAULT_MEL, with_pesq=False)

    def score() -> float:
        voc.eval()
        value = validator.evaluate(voc.generate)[0]["mel_l1"]
        voc.train()
        return value

    before = score()
    losses = [trainer.train_step() for _ in range(cfg.max_steps)]
    after = score()
    assert {"g_mel_l1"} == set(losses[0]) and {"d_adv", "g_adv", "g_fm", "g_mel_l1"} == set(losses[-1])
    assert after < before - 0.3, (before, after)  # measured: 2.21 -> 1.67
    first, last = (np.mean([x["g_mel_l1"] for x in part]) for part in (losses[:5], losses[-5:]))
    assert last < first


def test_bf16_training_step(lj_dir: Path, tmp_path: Path) -> None:
    # train.mixed_precision=bf16 (the GPU presets' option) runs through the same code on the CPU
    clips = load_clips(lj_dir, 22050)[:2]
    cfg = multigan.TrainConfig(max_steps=2, batch_size=2, loss="lsgan", fm_weight=2.0, reuse_fakes=True,
                               mixed_precision="bf16", ema_decay=0.0, device="cpu", val_every=0, progress=False)
    trainer = build_vocoder_trainer(tiny_vocoder(), tiny_discriminator(), cfg, clips, tmp_path, segment=2048)
    losses = trainer.train_step()
    assert set(losses) == {"d_adv", "g_adv", "g_fm", "g_mel_l1"} and all(np.isfinite(list(losses.values())))


def test_optional_multi_resolution_stft_loss(lj_dir: Path, tmp_path: Path) -> None:
    real = torch.rand(2, 4096) - 0.5
    fake = (torch.rand(2, 4096) - 0.5).requires_grad_(True)
    value = stft_loss(fake, {"real": real})
    value.backward()
    assert value.item() > 0.5 and fake.grad is not None and fake.grad.abs().sum() > 0
    assert stft_loss(real, {"real": real}).item() == pytest.approx(0.0, abs=1e-6)
    clips = load_clips(lj_dir, 22050)[:2]
    cfg = multigan.TrainConfig(max_steps=1, batch_size=2, ema_decay=0.0, adv_start_step=5, device="cpu",
                               val_every=0, progress=False)
    trainer = build_vocoder_trainer(tiny_vocoder(), tiny_discriminator(), cfg, clips, tmp_path / "a",
                            segment=2048, stft_weight=2.5)
    losses = trainer.train_step()
    assert set(losses) == {"g_mel_l1", "g_mrstft"} and 2.5 * 0.5 < losses["g_mrstft"] < 2.5 * 10
    plain = build_vocoder_trainer(tiny_vocoder(), tiny_discriminator(), cfg, clips, tmp_path / "b",
                                  segment=2048)
    assert set(plain.train_step()) == {"g_mel_l1"}


def test_mel_l1_loss_uses_full_band_and_no_real_graph(lj_dir: Path, tmp_path: Path) -> None:
    full_band = LogMel.from_settings({**DEFAULT_MEL, "fmax": None})
    loss = MelL1(full_band)
    real = torch.rand(2, 2048) - 0.5
    fake = (torch.rand(2, 2048) - 0.5).requires_grad_(True)
    value = loss(fake, {"real": real})
    value.backward()
    assert value.item() > 0 and fake.grad is not None
    assert loss(real, {"real": real}).item() == 0.0
    # the trainer's mel loss is the full-band one (loss_fmax=None, as published), not the 0-8 kHz input mel
    cfg = multigan.TrainConfig(max_steps=1, batch_size=2, ema_decay=0.0, device="cpu", val_every=0, progress=False)
    trainer = build_vocoder_trainer(tiny_vocoder(), tiny_discriminator(), cfg, load_clips(lj_dir, 22050),
                                    tmp_path, segment=2048)
    mel_loss = trainer.extra_losses[0].fn
    fake = fake.detach()
    assert torch.equal(mel_loss(fake, {"real": real}), mel_l1(fake, real, full_band))
    assert not torch.equal(mel_loss(fake, {"real": real}), mel_l1(fake, real, LogMel.from_settings(DEFAULT_MEL)))


# --------------------------------------------------------------------------- recipe


def _recipe():
    return load_recipe("ljspeech_hifigan")


def test_recipe_hop_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    recipe = _recipe()
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), "mel.hop_size=200"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: generator: upsample_rates [8, 8, 4] multiply to 256 but hop_size is 200")
    assert "\n" not in err
    for name in ("v1", "v2", "v3"):
        g = recipe.PRESETS[name]["generator"]
        assert recipe.PRESETS[name]["train"]["batch_size"] == 16 and g["upsample_rates"][0] == 8


def test_recipe_end_to_end_and_resume(lj_dir: Path, tmp_path: Path) -> None:
    recipe = _recipe()
    out = tmp_path / "run"
    tiny = ["generator.upsample_initial_channel=16", "generator.resblock_kernel_sizes=[3]",
            "generator.resblock_dilation_sizes=[[1,2]]", "discriminator.mpd.periods=[2,3]",
            "discriminator.msd.num_scales=2", "discriminator.mpd.channels_scale=0.125",
            "discriminator.msd.channels_scale=0.125", "data.segment=2048", "data.val_clips=1", "data.repeats=2",
            "train.batch_size=2", "train.val_every=2", "train.ckpt_every=2", "train.adv_start_step=2",
            "train.progress=false", "eval.griffin_lim_iters=4", "eval.pesq=false"]
    summary = recipe.main(["--data", str(lj_dir), "--out", str(out), "--max-steps", "2", *tiny])
    split = json.loads((out / "split.json").read_text())
    assert len(split["validation"]) == 1 and len(split["train"]) == 3
    assert summary["steps"] == 2 and "gl_mel_l1" in summary and "gl_gap_mel_l1" in summary
    assert (out / "samples" / split["validation"][0]).is_file()
    assert (out / "griffin_lim" / "metrics.json").is_file()
    # the final report scores with the validation's own functions: the same numbers, Griffin-Lim beside them
    report = json.loads((out / "report.json").read_text())
    vocoder, gl = report["systems"]
    assert vocoder["name"].startswith("cpu (step ") and gl["name"] == "griffin-lim" and vocoder["clips"] == 1
    assert vocoder["mel_l1"] == pytest.approx(summary["mel_l1"], abs=1e-4)
    assert gl["mel_l1"] == pytest.approx(summary["gl_mel_l1"], abs=5e-3)  # the baseline's own rows
    assert (out / "report.html").read_text().count("<audio") == 3
    # resume continues the LR schedule: 3 clips x 2 repeats / batch 2 = 3 steps per epoch, decay 0.999 per epoch
    summary = recipe.main(["--data", str(lj_dir), "--out", str(out), "--max-steps", "5", "--resume", *tiny])
    assert summary["steps"] == 5
    state = json.loads(sorted((out / "checkpoints").glob("step-*"))[-1].joinpath("state.json").read_text())
    assert state["sched_g"]["last_epoch"] == 5
    g_lr = recipe.PRESETS["cpu"]["train"]["g_lr"]
    assert state["sched_g"]["_last_lr"][0] == pytest.approx(g_lr * 0.999 ** (5 // 3))
    # fine-tuning: the weights of that run, fresh optimizers and schedule, a new run directory
    summary = recipe.main(["--data", str(lj_dir), "--out", str(tmp_path / "ft"), "--max-steps", "1",
                           "--init-from", str(out), *tiny, "train.val_every=1"])
    state = json.loads(sorted((tmp_path / "ft" / "checkpoints").glob("step-*"))[-1].joinpath("state.json").read_text())
    assert summary["steps"] == 1 and state["sched_g"]["last_epoch"] == 1
