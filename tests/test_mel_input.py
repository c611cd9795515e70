"""Mels from elsewhere: mel files in any orientation, the input check against the training-mel statistics an
export stores, and ground-truth-aligned training on an acoustic model's mel files (data.mel_path)."""
from __future__ import annotations

import json
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import save_file

import multigan
from multigan.audio.features import LogMel
from multigan.audio.vocoders.data.aligned import AlignedMelDataset, load_aligned_mels
from multigan.audio.vocoders.data.clips import VocoderDataError
from multigan.audio.vocoders.mel_input import (MelFileError, MelInputWarning, diagnose, mel_statistics,
                                               read_mel_file)
from multigan.audio.vocoders.vocoder import DEFAULT_MEL, Vocoder
from multigan.checkpoint import export_generator
from multigan.cli import main as cli
from helpers.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
LJ = REPO.parent / "shared" / "data" / "ljspeech-mini" / "wavs"
TINY_G = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
          "upsample_initial_channel": 16, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 2]]}


class NotATensor:
    """Needs arbitrary code to unpickle."""


@pytest.fixture(scope="module")
def lj_mels() -> list[torch.Tensor]:
    """Log-mels (the vocoder's front end) of eight LJ Speech clips, peak-normalised as in training."""
    if not LJ.is_dir():
        pytest.skip(f"LJ Speech mini set not found at {LJ}")
    ext = LogMel.from_settings(DEFAULT_MEL)
    out = []
    for path in sorted(LJ.glob("*.wav"))[:8]:
        y, _ = sf.read(str(path), dtype="float32")
        out.append(ext(torch.from_numpy(y * (0.95 / np.abs(y).max()))))
    return out


@pytest.fixture(scope="module")
def vocoder_run(lj_mels, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny vocoder export whose meta holds the statistics of six clips' mels (two more are held out)."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("voc") / "export"
    export_generator(Vocoder(generator=TINY_G), out, {"step": 0, "mel_stats": mel_statistics(lj_mels[:6])})
    return out


# --------------------------------------------------------------------------- reading mel files


def test_mel_files_in_every_format_and_orientation(tmp_path: Path) -> None:
    mel = torch.randn(80, 37)
    np.save(tmp_path / "a.npy", mel.numpy())
    np.save(tmp_path / "b.npy", mel.T.numpy().astype(np.float64))
    np.save(tmp_path / "c.npy", mel[None].numpy())
    save_file({"mel": mel.T.contiguous()}, str(tmp_path / "d.safetensors"))
    torch.save(mel, tmp_path / "e.pt")
    torch.save({"mel": mel.T, "lengths": torch.tensor([37])}, tmp_path / "f.pt")
    for name in ("a.npy", "b.npy", "c.npy", "d.safetensors", "e.pt", "f.pt"):
        got = read_mel_file(tmp_path / name, 80)
        assert got.shape == (80, 37) and got.dtype == torch.float32 and torch.allclose(got, mel), name


def test_bad_mel_files_are_one_error_naming_the_file(tmp_path: Path) -> None:
    cases = {"bands.npy": np.zeros((50, 64), np.float32), "square.npy": np.zeros((80, 80), np.float32),
             "cube.npy": np.zeros((2, 80, 5), np.float32), "nan.npy": np.full((80, 4), np.nan, np.float32)}
    for name, array in cases.items():
        np.save(tmp_path / name, array)
    expected = {"bands.npy": "shape (50, 64) has no axis of 80 mel bands", "square.npy": "is ambiguous",
                "cube.npy": "expected a mel spectrogram", "nan.npy": "NaN or infinite"}
    for name, text in expected.items():
        with pytest.raises(MelFileError, match=re.escape(text)) as info:
            read_mel_file(tmp_path / name, 80)
        assert str(tmp_path / name) in str(info.value)
    torch.save({"mel": NotATensor()}, tmp_path / "evil.pt")
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(NotATensor()))
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((80, 10), np.float32))
    (tmp_path / "short.npy").write_bytes(good.read_bytes()[:100])
    for name, text in (("evil.pt", "refused"), ("legacy.pt", "refused"), ("short.npy", "not a readable .npy"),
                       ("missing.npy", "does not exist")):
        with pytest.raises(multigan.MultiganError, match=text) as info:
            read_mel_file(tmp_path / name, 80)
        assert str(tmp_path / name) in str(info.value)


def test_vocode_mel_cli(vocoder_run: Path, lj_mels, tmp_path: Path, capsys) -> None:
    mel = lj_mels[6][:, :40]
    np.save(tmp_path / "ok.npy", mel.T.numpy())  # [frames, n_mels]
    assert cli(["vocode", str(vocoder_run), "--mel", str(tmp_path / "ok.npy"), "-o", str(tmp_path / "ok.wav")]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    y, sr = sf.read(str(tmp_path / "ok.wav"))
    assert sr == 22050 and y.shape == (40 * 256,)
    np.save(tmp_path / "log10.npy", (mel / np.log(10)).numpy())
    assert cli(["vocode", str(vocoder_run), "--mel", str(tmp_path / "log10.npy"), "-o", str(tmp_path / "b.wav")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {tmp_path / 'log10.npy'}: the input mels look like log10")
    np.save(tmp_path / "bands.npy", np.zeros((40, 64), np.float32))
    assert cli(["vocode", str(vocoder_run), "--mel", str(tmp_path / "bands.npy"), "-o", str(tmp_path / "c.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --mel {tmp_path / 'bands.npy'}: shape (40, 64) has no axis of 80 mel bands")
    assert "\n" not in err and not (tmp_path / "c.wav").exists()
    assert cli(["vocode", str(vocoder_run), "-o", str(tmp_path / "d.wav")]) == 2
    assert "one of the two" in capsys.readouterr().err


# --------------------------------------------------------------------------- the input check


def test_input_check_names_the_cause(vocoder_run: Path, lj_mels) -> None:
    voc = multigan.load(vocoder_run)
    held_out = lj_mels[6]
    with warnings.catch_warnings():
        warnings.simplefilter("error", MelInputWarning)
        voc(held_out)  # a correct mel: no warning
        voc(lj_mels[7][None])
        y, _ = sf.read(str(sorted(LJ.glob("*.wav"))[7]), dtype="float32")
        voc.resynthesize(y[:8192] * (0.95 / np.abs(y).max()), 22050)  # its own front end on a held-out clip
    noise = LogMel.from_settings(DEFAULT_MEL)(torch.zeros(22050).uniform_(-0.5, 0.5) * torch.hann_window(22050))
    with pytest.warns(MelInputWarning, match="far outside the training mels"):  # not a log base: no speech profile
        voc(noise)
    with pytest.warns(MelInputWarning, match=r"look like log10 instead of the natural log .*Multiply them by ln\(10\)"):
        voc(held_out / np.log(10))
    normalised = (held_out - held_out.mean()) / held_out.std()
    with pytest.warns(MelInputWarning, match=r"look normalised \(mean ~0, std ~1\).*Undo the acoustic model's"):
        voc(normalised)
    per_band = (held_out - held_out.mean(1, keepdim=True)) / held_out.std(1, keepdim=True)
    with pytest.warns(MelInputWarning, match="look normalised"):
        voc(per_band)
    empty_top = held_out.clone()
    empty_top[-12:] = held_out.min()
    with pytest.warns(MelInputWarning, match="top 10 mel bands of the input are empty.*lower fmax or a different n_mels"):
        voc(empty_top)
    with pytest.warns(MelInputWarning, match=r"look like decibels.*Divide them by 20/ln\(10\)"):
        voc(held_out * (20 / np.log(10)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        voc(held_out / np.log(10))
    assert len([w for w in caught if issubclass(w.category, MelInputWarning)]) == 1  # one warning per call


def test_no_statistics_no_check(lj_mels) -> None:
    voc = Vocoder(generator=TINY_G).eval()  # not loaded from an export: nothing to compare with
    with warnings.catch_warnings():
        warnings.simplefilter("error", MelInputWarning)
        voc(lj_mels[0] / np.log(10))
    assert diagnose(lj_mels[0], mel_statistics(lj_mels[:6])) is None


# --------------------------------------------------------------------------- ground-truth-aligned training


class _Reader:
    """A clip reader over in-memory waveforms (the ClipReader interface)."""

    def __init__(self, wavs: list[torch.Tensor]) -> None:
        self.wavs = wavs

    def frames(self, row: int) -> int:
        return self.wavs[row].shape[0]

    def read(self, row: int, start: int, length: int) -> torch.Tensor:
        return self.wavs[row][start: start + length]


def test_aligned_crops_keep_mel_frames_over_their_samples() -> None:
    hop, n_mels = 256, 4
    wav = torch.arange(40 * hop, dtype=torch.float32)  # sample i has value i
    mel = torch.arange(41, dtype=torch.float32).repeat(n_mels, 1)  # frame f has value f; one frame too many
    short = torch.arange(3 * hop + 10, dtype=torch.float32)
    mels = [mel[:, :40], torch.arange(3, dtype=torch.float32).repeat(n_mels, 1) - 5]
    ds = AlignedMelDataset(_Reader([wav, short]), [0, 1], mels, 8 * hop, {**DEFAULT_MEL, "n_mels": n_mels}, repeats=3)
    assert len(ds) == 6
    torch.manual_seed(0)
    for item in ds.__getitems__([0, 2, 4]):
        f0 = int(item["cond"][0, 0])
        assert item["real"].shape == (8 * hop,) and item["cond"].shape == (n_mels, 8)
        assert torch.equal(item["cond"][0], torch.arange(f0, f0 + 8, dtype=torch.float32))
        assert torch.equal(item["real"], torch.arange(f0 * hop, (f0 + 8) * hop, dtype=torch.float32))
    item = ds[1]
    assert torch.equal(item["real"][: 3 * hop], short[: 3 * hop]) and not item["real"][3 * hop:].any()
    assert torch.equal(item["cond"][0], torch.tensor([-5.0, -4, -3, -5, -5, -5, -5, -5]))


def test_aligned_mels_frame_rules(tmp_path: Path) -> None:
    hop = 256
    lengths = {"a.wav": 10 * hop + 100, "b.wav": 10 * hop, "c.wav": 10 * hop, "d.wav": 10 * hop, "sub/e.wav": 10 * hop}
    frames = {"a": 11, "b": 9, "c": 13, "sub/e": 10}  # d has no file; c is 3 frames over
    for stem, n in frames.items():
        (tmp_path / stem).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / f"{stem}.npy", np.zeros((80, n), np.float32))
    with pytest.raises(VocoderDataError) as info:
        load_aligned_mels(tmp_path, list(lengths), list(lengths.values()), hop, 80)
    msg = str(info.value)
    assert f"data.mel_path {tmp_path}: 2 of 5 clip(s)" in msg
    assert f"{tmp_path / 'c.npy'}: 13 frames, but its audio c.wav has 2560 samples = 10 frames" in msg
    assert "d.wav: no mel file" in msg and "a.npy" not in msg and "b.npy" not in msg
    ok = load_aligned_mels(tmp_path, ["a.wav", "b.wav", "sub/e.wav"], [10 * hop + 100, 10 * hop, 10 * hop], hop, 80)
    assert [m.shape[1] for m in ok] == [10, 9, 10]


def _recipe():
    return load_recipe("ljspeech_hifigan")


def test_recipe_trains_on_aligned_mels_and_stores_their_statistics(tmp_path: Path, capsys) -> None:
    if not LJ.is_dir():
        pytest.skip(f"LJ Speech mini set not found at {LJ}")
    wavs, mels = tmp_path / "wavs", tmp_path / "mels"
    wavs.mkdir()
    mels.mkdir()
    ext = LogMel.from_settings(DEFAULT_MEL)
    for i, path in enumerate(sorted(LJ.glob("*.wav"))[:4]):
        y, sr = sf.read(str(path), dtype="float32")
        y = y[: int(1.2 * sr)]
        sf.write(str(wavs / path.name), y, sr)
        mel = ext(torch.from_numpy(y)) + 0.5  # "the acoustic model's" mels: here offset from the computed ones
        if i == 1:
            torch.save(torch.nn.functional.pad(mel, (0, 1), value=-11.5).T.contiguous(), mels / f"{path.stem}.pt")
        else:
            np.save(mels / f"{path.stem}.npy", mel.numpy())
    tiny = ["generator.upsample_initial_channel=16", "generator.resblock_kernel_sizes=[3]",
            "generator.resblock_dilation_sizes=[[1,2]]", "discriminator.mpd.periods=[2]",
            "discriminator.msd.num_scales=1", "discriminator.mpd.channels_scale=0.125",
            "discriminator.msd.channels_scale=0.125", "data.segment=2048",
            "data.val_clips=1", "train.batch_size=2", "train.val_every=2", "train.adv_start_step=1",
            "train.progress=false", "eval.griffin_lim=false", "eval.pesq=false", f"data.index_cache={tmp_path / 'c'}",
            f"data.mel_path={mels}"]
    recipe = _recipe()
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(wavs), "--out", str(tmp_path / "bad"), "--max-steps", "1", *tiny])
    assert info.value.code == 2 and "set data.normalize=false" in capsys.readouterr().err
    summary = recipe.main(["--data", str(wavs), "--out", str(tmp_path / "run"), "--max-steps", "2", *tiny,
                           "data.normalize=false"])
    assert summary["steps"] == 2
    stats = multigan.load(tmp_path / "run").export_meta["mel_stats"]
    assert stats["n_mels"] == 80 and stats["frames"] == 64 * 8
    trained_on = torch.cat([torch.from_numpy(np.load(p)) for p in sorted(mels.glob("*.npy"))], dim=1)
    assert trained_on.min() - 0.01 <= min(stats["min"]) and max(stats["max"]) <= trained_on.max() + 0.01
    assert stats["global_mean"] == pytest.approx(float(trained_on.mean()), abs=1.0)
    # a clip whose mel file is 3 frames short: one error naming it, exit status 2
    train = json.loads((tmp_path / "run" / "split.json").read_text())["train"]
    victim = next(mels / f"{Path(n).stem}.npy" for n in train if (mels / f"{Path(n).stem}.npy").is_file())
    np.save(victim, np.load(victim)[:, :-3])
    with pytest.raises(SystemExit) as info:
        recipe.main(["--data", str(wavs), "--out", str(tmp_path / "run2"), "--max-steps", "1", *tiny,
                     "data.normalize=false"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and err[-2].startswith("error: data.mel_path") and str(victim) in err[-1]


def test_short_excerpts_of_correct_mels_do_not_warn(vocoder_run: Path, lj_mels) -> None:
    """Chunked vocoding: 20-frame pieces of held-out clips are not flagged; a log10 piece of 40 frames still is."""
    voc = multigan.load(vocoder_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MelInputWarning)
        for mel in lj_mels[6:]:
            for start in range(0, mel.shape[1] - 20, 20):
                voc(mel[:, start:start + 20])
    with pytest.warns(MelInputWarning, match="log10"):
        voc(lj_mels[6][:, 100:140] / np.log(10))
