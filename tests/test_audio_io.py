"""Tests of multigan.audio.io: reading (checks, down-mix, resampling), info and writing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigan.audio import AudioFileError, load_audio, save_wav, save_wavs
from multigan.audio import io as audio_io
from multigan.audio.io import info

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FSDD = DATA / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not found at {FSDD}")


@pytest.fixture()
def real_wav(tmp_path: Path) -> Path:
    """A copy of one real FSDD clip."""
    if not FSDD.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    return Path(shutil.copy(FSDD / "3_jackson_7.wav", tmp_path / "3_jackson_7.wav"))


def _sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ reading


@needs_fsdd
def test_load_real_clip_matches_soundfile(real_wav: Path) -> None:
    wav = load_audio(real_wav, 8000)
    ref, rate = sf.read(real_wav, dtype="float32")
    assert rate == 8000
    assert wav.dtype == torch.float32 and wav.ndim == 1
    np.testing.assert_array_equal(wav.numpy(), ref)
    assert info(real_wav) == (8000, ref.shape[0], 1)


def test_text_file_named_wav_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(AudioFileError, match="notes.wav") as err:
        load_audio(path, 8000)
    assert "not a readable audio file" in str(err.value)
    assert err.value.path == path
    with pytest.raises(AudioFileError, match="notes.wav"):
        info(path)


@needs_fsdd
def test_truncated_wav_is_rejected(real_wav: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes(real_wav.read_bytes()[:50])  # header + 3 samples of a 2,000-sample clip
    with pytest.raises(AudioFileError, match="cut.wav.*truncated"):
        load_audio(cut, 8000)


def test_empty_and_missing_files_are_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 8000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"empty.wav.*empty \(0 frames\)"):
        load_audio(empty, 8000)
    with pytest.raises(AudioFileError, match="missing.wav.*does not exist"):
        load_audio(tmp_path / "missing.wav", 8000)


def test_non_finite_samples_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    data = _sine(440, 8000, 0.1)
    data[10] = np.nan
    sf.write(path, data, 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="nan.wav.*non-finite"):
        load_audio(path, 8000)


def test_stereo_is_down_mixed_to_the_mean(tmp_path: Path, monkeypatch, caplog) -> None:
    left, right = _sine(300, 8000, 0.25), _sine(700, 8000, 0.25, amp=0.25)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    monkeypatch.setattr(audio_io, "_downmix_logged", False)
    with caplog.at_level(logging.INFO, logger="multigan"):
        mixed = load_audio(path, 8000)
        load_audio(path, 8000)
    np.testing.assert_allclose(mixed.numpy(), (left + right) / 2, atol=1e-6)
    assert sum("down-mixing" in r.getMessage() for r in caplog.records) == 1  # once per process
    np.testing.assert_allclose(load_audio(path, 8000, mono="first").numpy(), left, atol=1e-6)
    with pytest.raises(ValueError, match="mono="):
        load_audio(path, 8000, mono="sum")


def test_resampling_keeps_length_ratio_and_frequency(tmp_path: Path) -> None:
    path = tmp_path / "sine16k.wav"
    sf.write(path, _sine(440, 16000, 1.0), 16000, subtype="PCM_16")
    wav = load_audio(path, 8000)
    assert wav.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(wav.numpy() * np.hanning(wav.shape[0])))
    peak_hz = np.argmax(spectrum) * 8000 / wav.shape[0]
    assert abs(peak_hz - 440) <= 1.0
    assert 0.45 < float(wav.abs().max()) < 0.55  # amplitude kept
    assert load_audio(path, None).shape == (16000,)  # None keeps the file's rate
    odd = tmp_path / "odd.wav"
    sf.write(odd, _sine(440, 22050, 0.5), 22050, subtype="PCM_16")
    assert load_audio(odd, 8000).shape == (int(np.ceil(11025 * 8000 / 22050)),)


# ------------------------------------------------------------------------------------------------ writing


def test_save_wavs_round_trip_within_one_lsb(tmp_path: Path) -> None:
    torch.manual_seed(0)
    batch = torch.rand(3, 1, 800) * 2 - 1
    batch[0, 0, :4] = torch.tensor([1.0, -1.0, 1.7, -3.0])  # full scale and out of range (clipped)
    paths = save_wavs(batch, 8000, tmp_path / "out" / "nested", prefix="step10", start=5)
    assert [p.name for p in paths] == ["step10_5.wav", "step10_6.wav", "step10_7.wav"]
    for path, wav in zip(paths, batch[:, 0]):
        back, rate = sf.read(path, dtype="float32")
        assert rate == 8000 and sf.info(path).subtype == "PCM_16"
        np.testing.assert_allclose(back, wav.clamp(-1, 1).numpy(), atol=1 / 32768 + 1e-7)
    names = [p.name for p in save_wavs([torch.zeros(10), torch.zeros(1, 12)], 8000, tmp_path / "plain")]
    assert names == ["0.wav", "1.wav"]
    assert info(tmp_path / "plain" / "1.wav") == (8000, 12, 1)


def test_save_wav_accepts_numpy_and_channels_first(tmp_path: Path) -> None:
    path = save_wav(tmp_path / "a" / "b.wav", np.full((2, 40), 0.25, np.float32), 16000)
    assert info(path) == (16000, 40, 2)
    with pytest.raises(ValueError, match="shape"):
        save_wavs(torch.zeros(2, 2, 2, 2), 8000, tmp_path)
