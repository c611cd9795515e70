"""The corpus index: one pass over headers (and peaks), one error for every bad file, a cache keyed by file version."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigan.audio import corpus_index
from multigan.audio.corpus_index import CorpusIndexError, build_index
from multigan.audio.io import load_audio

RATE = 22050


def tone(seconds: float, rate: int = RATE, amp: float = 0.5, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    y = (amp * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return np.stack([y, 0.5 * y], axis=1) if channels == 2 else y


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "good"
    folder.mkdir()
    for i in range(3):
        sf.write(str(folder / f"clip{i}.wav"), tone(0.3 + 0.1 * i, amp=0.2 + 0.2 * i), RATE, subtype="PCM_16")
    return folder


def add_bad_files(folder: Path) -> dict[str, str]:
    """One file of each bad kind; returns name -> a word its reason must contain."""
    (folder / "garbage.wav").write_bytes(b"this is not audio at all" * 10)
    sf.write(str(folder / "empty.wav"), np.zeros(0, np.float32), RATE)
    sf.write(str(folder / "stereo.wav"), tone(0.3, channels=2), RATE, subtype="PCM_16")
    sf.write(str(folder / "short.wav"), tone(0.001), RATE, subtype="PCM_16")
    sf.write(str(folder / "silent.wav"), np.zeros(RATE // 4, np.float32), RATE, subtype="PCM_16")
    sf.write(str(folder / "cut.wav"), tone(0.3), RATE, subtype="PCM_16")
    data = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 2])  # header promises more than is there
    return {"garbage.wav": "not a readable audio file", "empty.wav": "empty", "stereo.wav": "channel",
            "short.wav": "too short", "silent.wav": "silent", "cut.wav": "truncated"}


def test_every_bad_file_in_one_error_and_skip_names_them(good_dir: Path, tmp_path: Path, caplog) -> None:
    expected = add_bad_files(good_dir)
    options = dict(peaks=True, min_frames=512, channels=1, cache_dir=tmp_path / "cache", workers=1)
    with pytest.raises(CorpusIndexError) as info:
        build_index(good_dir, RATE, **options)
    message = str(info.value)
    assert f"{len(expected)} of {len(expected) + 3} file(s) are unusable" in message
    assert "data.skip_bad=true" in message
    reasons = {Path(p).name: r for p, r in info.value.bad}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
        assert name in message
    with caplog.at_level(logging.WARNING, logger="multigan"):
        index = build_index(good_dir, RATE, skip_bad=True, **options)
    assert index.names == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert {Path(p).name for p, _ in index.skipped} == set(expected)
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert "skipped" in warned and all(name in warned for name in expected)


def test_stereo_is_accepted_and_mixed_when_channels_are_not_refused(good_dir: Path, tmp_path: Path) -> None:
    sf.write(str(good_dir / "stereo.wav"), tone(0.3, channels=2), RATE, subtype="PCM_16")
    index = build_index(good_dir, RATE, peaks=True, cache=False)
    row = index.names.index("stereo.wav")
    assert index.channels[row] == 2
    assert index.peaks[row] == float(load_audio(good_dir / "stereo.wav", RATE).abs().max())


def test_header_facts_and_peaks_match_decoding(good_dir: Path, tmp_path: Path) -> None:
    sf.write(str(good_dir / "low.wav"), tone(0.5, rate=16000), 16000, subtype="PCM_16")
    index = build_index(good_dir, RATE, peaks=True, cache=False)
    for row, path in enumerate(index.paths):
        wav = load_audio(path, RATE)
        assert index.target_frames[row] == wav.shape[0]
        assert index.peaks[row] == float(wav.abs().max())  # load_clips' normalisation statistic, exactly
    row = index.names.index("low.wav")
    assert (index.rates[row], index.frames[row]) == (16000, 8000)
    plain = build_index(good_dir, RATE, cache=False)
    assert np.isnan(plain.peaks).all() and not plain.has_peaks


def test_cache_is_reused_and_a_changed_file_is_read_again(good_dir: Path, tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []
    real_probe = corpus_index._probe

    def counting(path, peak_rate, mono):
        calls.append(Path(path).name)
        return real_probe(path, peak_rate, mono)

    monkeypatch.setattr(corpus_index, "_probe", counting)
    cache = tmp_path / "cache"
    first = build_index(good_dir, RATE, peaks=True, cache_dir=cache, workers=1)
    assert sorted(calls) == ["clip0.wav", "clip1.wav", "clip2.wav"] and first.probed == 3
    assert len(list(cache.glob("*.json"))) == 1
    calls.clear()
    second = build_index(good_dir, RATE, peaks=True, cache_dir=cache, workers=1)
    assert calls == [] and second.probed == 0
    assert second.names == first.names and np.array_equal(second.peaks, first.peaks)
    assert np.array_equal(second.frames, first.frames)

    changed = good_dir / "clip1.wav"
    sf.write(str(changed), tone(0.7, amp=0.9), RATE, subtype="PCM_16")
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later modification time, whatever the clock
    third = build_index(good_dir, RATE, peaks=True, cache_dir=cache, workers=1)
    assert calls == ["clip1.wav"]
    row = third.names.index("clip1.wav")
    assert third.frames[row] == int(0.7 * RATE) and third.peaks[row] == float(load_audio(changed, RATE).abs().max())
    calls.clear()
    build_index(good_dir, RATE, cache_dir=cache, workers=1)  # header-only use of a cache that has peaks
    assert calls == []
    build_index(good_dir, 16000, peaks=True, cache_dir=cache, workers=1)  # peaks at another rate: decoded again
    assert sorted(calls) == ["clip0.wav", "clip1.wav", "clip2.wav"]


def test_parallel_pass_equals_the_serial_one(good_dir: Path, tmp_path: Path) -> None:
    for i in range(40):
        os.symlink(good_dir / f"clip{i % 3}.wav", good_dir / f"link{i:02d}.wav")
    serial = build_index(good_dir, RATE, peaks=True, cache=False, workers=1)
    parallel = build_index(good_dir, RATE, peaks=True, cache=False, workers=2)
    assert len(parallel) == 43 and parallel.names == serial.names
    for key in ("frames", "rates", "channels", "peaks", "sizes", "mtimes"):
        assert np.array_equal(getattr(parallel, key), getattr(serial, key)), key


def test_list_file_and_metadata_csv_inputs(good_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "train.txt"
    listing.write_text(f"# training clips\ngood/clip2.wav\n\n{good_dir / 'clip0.wav'}\ngood/missing.wav\n")
    with pytest.raises(CorpusIndexError) as info:
        build_index(listing, RATE, cache=False)
    assert "missing.wav: file does not exist" in str(info.value)
    listing.write_text(f"# training clips\ngood/clip2.wav\n\n{good_dir / 'clip0.wav'}\n")
    index = build_index(listing, RATE, cache=False)
    assert index.names == ["good/clip2.wav", str(good_dir / "clip0.wav")]  # listed order, names as written

    lj = tmp_path / "LJ"
    (lj / "wavs").mkdir(parents=True)
    for i in (1, 2):
        sf.write(str(lj / "wavs" / f"LJ001-000{i}.wav"), tone(0.2 * i), RATE, subtype="PCM_16")
    (lj / "metadata.csv").write_text("LJ001-0002|Text two.|Text two.\nLJ001-0001|Text one|Text one\n")
    index = build_index(lj / "metadata.csv", RATE, cache=False)
    assert index.names == ["LJ001-0002.wav", "LJ001-0001.wav"]
    assert list(index.frames) == [int(0.4 * RATE), int(0.2 * RATE)]


def test_missing_or_empty_sources_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusIndexError, match="does not exist"):
        build_index(tmp_path / "nowhere", RATE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusIndexError, match="no audio files"):
        build_index(tmp_path / "empty", RATE)
    (tmp_path / "list.txt").write_text("# nothing\n")
    with pytest.raises(CorpusIndexError, match="lists no clip"):
        build_index(tmp_path / "list.txt", RATE)


def test_audio_folder_checks_come_from_the_cached_index(good_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from multigan.audio import AudioDatasetError, AudioFolder

    sf.write(str(good_dir / "silent.wav"), np.zeros(RATE // 4, np.float32), RATE, subtype="PCM_16")
    sf.write(str(good_dir / "long.wav"), tone(1.0), RATE, subtype="PCM_16")
    calls: list[str] = []
    real_probe = corpus_index._probe
    monkeypatch.setattr(corpus_index, "_probe", lambda *a: calls.append(Path(a[0]).name) or real_probe(*a))
    options = dict(index_cache=tmp_path / "cache", index_workers=1)
    with pytest.raises(AudioDatasetError) as info:
        AudioFolder(good_dir, RATE, RATE // 2, **options)
    reasons = {Path(p).name: r for p, r in info.value.bad}
    assert set(reasons) == {"silent.wav", "long.wav"} and "silent" in reasons["silent.wav"]
    assert "too long: 22050 samples" in reasons["long.wav"]
    assert len(calls) == 5
    calls.clear()
    lazy = AudioFolder(good_dir, RATE, RATE // 2, skip_bad=True, cache=False, **options)
    eager = AudioFolder(good_dir, RATE, RATE // 2, skip_bad=True, **options)
    assert calls == []  # the second and third builds decode nothing to check the files
    assert [i.frames for i in lazy.items] == [int((0.3 + 0.1 * k) * RATE) for k in range(3)]
    for k in range(3):
        assert torch.equal(lazy[k]["real"], eager[k]["real"])
