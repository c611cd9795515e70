"""``recipes/ljspeech_bigvgan.py``: presets with the published settings, config checks, and a few training steps on
real LJ Speech clips (MPD + CQTD, then MBD with another family), export, ``multigan.load``, vocode."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf
import torch

import multigan
from helpers.recipes import load_recipe
from multigan.audio.vocoders.bigvgan import BigVGANGenerator
from multigan.audio.vocoders.vocoder import Vocoder

TINY = ["generator.upsample_initial_channel=16", "generator.resblock_kernel_sizes=[3]",
        "generator.resblock_dilation_sizes=[[1,3]]", "discriminator.mpd.periods=[2,3]",
        "discriminator.mpd.channels_scale=0.0625", "discriminator.cqt.filters=4", "discriminator.cqt.max_filters=8",
        "discriminator.cqt.hop_lengths=[256]", "discriminator.cqt.n_octaves=[7]",
        "discriminator.cqt.bins_per_octaves=[12]", "data.segment=4096", "data.val_clips=1", "data.repeats=2",
        "train.batch_size=2", "train.val_every=2", "train.ckpt_every=2", "train.adv_start_step=2",
        "train.progress=false", "eval.griffin_lim=false", "eval.pesq=false", "train.max_minutes=0"]


@pytest.fixture()
def lj_clips(lj_short_dir: Path, tmp_path: Path) -> Path:
    """Three LJ Speech clips (1.5 s, tests/conftest.py) copied into a temporary folder."""
    folder = tmp_path / "wavs"
    folder.mkdir()
    for w in sorted(lj_short_dir.glob("*.wav"))[:3]:
        shutil.copy(w, folder / w.name)
    return folder


def test_presets_hold_the_published_settings() -> None:
    recipe = load_recipe("ljspeech_bigvgan")
    p22, p24, p44 = (recipe.PRESETS[f"bigvgan-v2-{k}"] for k in ("22k", "24k", "44k"))
    assert (p22["mel"]["n_mels"], p22["mel"]["fmax"], p22["mel"]["hop_size"]) == (80, 8000.0, 256)
    assert (p24["mel"]["n_mels"], p24["mel"]["fmax"], p24["mel"]["sample_rate"]) == (100, None, 24000)
    assert (p44["mel"]["n_mels"], p44["mel"]["hop_size"], p44["mel"]["n_fft"]) == (128, 512, 2048)
    assert p44["generator"]["upsample_rates"] == [8, 4, 2, 2, 2, 2]
    for p in (p22, p24, p44):
        t = p["train"]
        assert (t["g_lr"], t["betas"], t["grad_clip"], t["batch_size"], t["mixed_precision"]) == (
            1e-4, [0.8, 0.99], 500.0, 4, "bf16")
        assert p["objective"] == {"mel_loss": "multiscale", "mel_weight": 15.0} and p["data"]["segment"] == 65536
        assert p["discriminator"]["use"] == ["mpd", "cqt"]
        assert p["discriminator"]["cqt"]["sample_rate"] == p["mel"]["sample_rate"]
    assert recipe.PRESETS["bigvgan-cpu"]["train"]["max_minutes"] == 30.0


def test_config_errors_are_one_line(tmp_path: Path, capsys) -> None:
    recipe = load_recipe("ljspeech_bigvgan")
    for bad, expect in ((["generator.upsample_rates=[4,4,2,2,2]", "generator.upsample_kernel_sizes=[8,8,4,4,4]"],
                         "multiply to 128 but hop_size is 256"),
                        (["discriminator.cqt.sample_rate=24000"], "discriminator.cqt.sample_rate=24000 differs"),
                        (["discriminator.cqt.hop_lengths=[256,256]"], "discriminator.cqt.hop_lengths: [256, 256]"),
                        (["discriminator.mbd.bands=[[0.5,0.2]]"], "discriminator.mbd.bands: each band"),
                        (["discriminator.mrd.layout=hifigan"], "discriminator.mrd.layout")):
        with pytest.raises(SystemExit) as info:
            recipe.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), *bad])
        err = capsys.readouterr().err.strip()
        assert info.value.code == 2 and err.startswith("error: ") and expect in err and "\n" not in err


def test_recipe_trains_exports_loads_and_vocodes(lj_clips: Path, tmp_path: Path) -> None:
    recipe = load_recipe("ljspeech_bigvgan")
    out = tmp_path / "run"
    summary = recipe.main(["--data", str(lj_clips), "--out", str(out), "--preset", "bigvgan-cpu", "--max-steps", "4",
                           *TINY])
    assert summary["steps"] == 4 and summary["mel_l1"] > 0
    voc = multigan.load(out)
    assert isinstance(voc, Vocoder) and voc.config["generator_class"] == "bigvgan"
    assert isinstance(voc.net, BigVGANGenerator) and voc.net.config["upsample_initial_channel"] == 16
    audio, _ = sf.read(str(sorted(lj_clips.glob("*.wav"))[0]), dtype="float32")
    mel = voc.mel(torch.from_numpy(audio[: 20 * 256]))
    assert mel.shape == (1, 80, 20)
    wav = voc(mel)
    assert wav.shape == (1, 20 * 256) and torch.isfinite(wav).all()


def test_multiband_discriminator_trains_with_another_family(lj_clips: Path, tmp_path: Path) -> None:
    """``discriminator.use=[...]`` takes the new discriminators in any family's recipe (HiFi-GAN + MPD + MBD)."""
    recipe = load_recipe("ljspeech_hifigan")
    out = tmp_path / "run"
    summary = recipe.main([
        "--data", str(lj_clips), "--out", str(out), "--preset", "cpu", "--max-steps", "2",
        "generator.upsample_initial_channel=16", "discriminator.use=[mpd,mbd]", "discriminator.weights=[1,1]",
        "discriminator.mpd.periods=[2]", "discriminator.mpd.channels_scale=0.0625", "discriminator.mbd.channels=4",
        "discriminator.mbd.fft_sizes=[512]", "data.segment=4096", "data.val_clips=1", "train.batch_size=2",
        "train.val_every=2", "train.adv_start_step=0", "train.progress=false", "eval.griffin_lim=false",
        "eval.pesq=false", "train.max_minutes=0"])
    assert summary["steps"] == 2
    assert multigan.load(out).config["generator_class"] == "hifigan"
