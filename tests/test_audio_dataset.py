"""Tests of multigan.audio.dataset and .listing (AudioFolder and audio_files on real FSDD clips) and multigan.audio.features."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from multigan.audio import AudioDatasetError, AudioFolder, audio_files, load_audio
from multigan.audio.features import LogMagSpectrogram, LogMel, SpecNormalizer, griffin_lim
from multigan.audio.spoken_digits import FSDD_PATTERN, fsdd_split

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FSDD = DATA / "fsdd" / "recordings"

# 24 real clips: 3 digits x 2 speakers x 2 test takes (0, 3) + 2 train takes (7, 30)
DIGITS, SPEAKERS, TAKES = (0, 4, 9), ("george", "nicolas"), (0, 3, 7, 30)
REAL_NAMES = [f"{d}_{s}_{t}.wav" for d in DIGITS for s in SPEAKERS for t in TAKES]
CANVAS = 8000


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory) -> Path:
    """A folder holding copies of REAL_NAMES (read-only for the tests)."""
    if not FSDD.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    root = tmp_path_factory.mktemp("fsdd")
    for name in REAL_NAMES:
        shutil.copy(FSDD / name, root / name)
    return root


def fsdd_folder(root: Path, canvas: int = CANVAS, **options) -> AudioFolder:
    """An 8 kHz AudioFolder reading FSDD names (digit labels, speakers, the official split) unless overridden."""
    return AudioFolder(root, 8000, canvas, **{"label_pattern": FSDD_PATTERN, "split_fn": fsdd_split, **options})


def _copy_real(real_dir: Path, dest: Path, names: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(real_dir / name, dest / name)


def _write(path: Path, data: np.ndarray, rate: int = 8000) -> Path:
    sf.write(path, data.astype(np.float32), rate, subtype="PCM_16")
    return path


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


# ------------------------------------------------------------------------------------------- bad files


@pytest.fixture()
def bad_dir(real_dir: Path, tmp_path: Path) -> Path:
    """10 good real clips (one in a sub-folder) plus one file of every bad kind; README is ignored."""
    root = tmp_path / "mixed"
    _copy_real(real_dir, root, REAL_NAMES[:9])
    _copy_real(real_dir, root / "sub", REAL_NAMES[9:10])
    (root / "1_text_5.wav").write_text("not audio at all\n")
    (root / "2_truncated_5.wav").write_bytes((real_dir / REAL_NAMES[0]).read_bytes()[:50])
    _write(root / "3_empty_5.wav", np.zeros(0))
    _write(root / "5_silent_5.wav", np.zeros(4000))
    _write(root / "6_long_5.wav", _noise(int(CANVAS * 1.5)))
    shutil.copy(real_dir / REAL_NAMES[0], root / "unlabelled.wav")
    (root / "README.txt").write_text("ignored: not an audio extension")
    return root


BAD = {
    "1_text_5.wav": "not a readable audio file",
    "2_truncated_5.wav": "truncated",
    "3_empty_5.wav": "empty",
    "5_silent_5.wav": "silent",
    "6_long_5.wav": "too long",
    "unlabelled.wav": "does not match label_pattern",
}


def test_all_bad_files_are_listed_in_one_error(bad_dir: Path) -> None:
    with pytest.raises(AudioDatasetError) as err:
        fsdd_folder(bad_dir)
    message = str(err.value)
    for name, reason in BAD.items():
        line = next((ln for ln in message.splitlines() if name in ln), None)
        assert line is not None, f"{name} missing from:\n{message}"
        assert reason in line
    assert "skip_bad=True" in message and str(bad_dir) in message
    assert "README" not in message
    assert {p.name for p, _ in err.value.bad} == set(BAD)


def test_skip_bad_keeps_the_good_files(bad_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="multigan"):
        ds = fsdd_folder(bad_dir, skip_bad=True)
    assert sorted(item.path.name for item in ds.items) == sorted(REAL_NAMES[:10])
    assert ds.items[-1].path.parent.name == "sub"  # recursive, sorted by relative path
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert f"{len(BAD)} of {len(REAL_NAMES[:10]) + len(BAD)}" in warning
    assert all(name in warning for name in BAD)


def test_long_listing_is_capped(tmp_path: Path) -> None:
    for i in range(57):
        (tmp_path / f"{i % 10}_junk_{i}.wav").write_text("junk")
    with pytest.raises(AudioDatasetError, match="and 7 more") as err:
        fsdd_folder(tmp_path)
    assert len(err.value.bad) == 57
    assert len(str(err.value).splitlines()) < 60
    with pytest.raises(AudioDatasetError, match="no usable audio file left"):
        fsdd_folder(tmp_path, skip_bad=True)


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(AudioDatasetError, match=re.escape(str(tmp_path))):
        fsdd_folder(tmp_path)
    with pytest.raises(AudioDatasetError, match="does not exist"):
        fsdd_folder(tmp_path / "nope")


def test_invalid_options_are_named(real_dir: Path) -> None:
    with pytest.raises(ValueError, match="crop="):
        fsdd_folder(real_dir, crop="center")
    with pytest.raises(ValueError, match="canvas"):
        fsdd_folder(real_dir, 0)
    with pytest.raises(ValueError, match="label"):
        fsdd_folder(real_dir, label_pattern=r"^\d_")


# ------------------------------------------------------------------------------------- labels and splits


def test_fsdd_split_and_labels_on_real_names(real_dir: Path) -> None:
    assert fsdd_split("3_theo_4.wav") == "test" and fsdd_split("3_theo_5.wav") == "train"
    assert fsdd_split(Path("x") / "9_yweweler_49.wav") == "train"
    with pytest.raises(ValueError, match="FSDD"):
        fsdd_split("LJ001-0001.wav")
    full = fsdd_folder(real_dir)
    train = fsdd_folder(real_dir, split="train")
    test = fsdd_folder(real_dir, split="test")
    assert len(full) == len(REAL_NAMES) and len(train) == len(test) == len(REAL_NAMES) // 2
    assert all(int(re.match(FSDD_PATTERN, i.path.name)["take"]) >= 5 for i in train.items)
    assert all(int(i.fields["take"]) < 5 for i in test.items)
    assert full.classes == train.classes == [0, 4, 9] and full.num_classes == 3
    assert full.speakers == list(SPEAKERS)
    assert len(full.speaker_indices("george")) == len(REAL_NAMES) // 2
    for index in range(len(full)):
        item = full.items[index]
        assert item.label_name == int(item.path.name[0])
        assert int(full[index]["cond"]) == full.classes.index(item.label_name)
        assert full[index]["cond"].dtype == torch.long and full[index]["cond"].ndim == 0


def test_class_indices_are_stable_across_splits(real_dir: Path, tmp_path: Path) -> None:
    # the test split holds only digit 9, but its index is still the one the train split uses
    _copy_real(real_dir, tmp_path, ["0_george_7.wav", "9_george_7.wav", "9_george_0.wav"])
    test = fsdd_folder(tmp_path, split="test")
    assert test.classes == [0, 9] and [int(test[i]["cond"]) for i in range(len(test))] == [1]
    explicit = fsdd_folder(tmp_path, labels=list(range(10)))
    assert explicit.num_classes == 10 and sorted(int(x["cond"]) for x in explicit) == [0, 9, 9]
    subset = fsdd_folder(tmp_path, labels=[9])
    assert len(subset) == 2 and {int(x["cond"]) for x in subset} == {0}


def test_unconditional_folder_has_no_cond(real_dir: Path) -> None:
    ds = AudioFolder(real_dir, 8000, CANVAS)  # no label_pattern: unconditional
    assert ds.num_classes == 0 and not ds.conditional
    assert set(ds[0]) == {"real"}
    with pytest.raises(ValueError, match="split_fn"):  # no split rule is assumed either
        AudioFolder(real_dir, 8000, CANVAS, split="train")


def test_audio_files_lists_audio_sorted_by_relative_path(tmp_path: Path, caplog) -> None:
    for rel in ("b.WAV", "a.flac", "sub/c.ogg", "sub/deeper/d.wav", "notes.txt", "e.mp3", "f.m4a", "g.M4A"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "folder.wav").mkdir()  # a folder named like audio is not a file

    def names(paths: list[Path]) -> list[str]:
        return [p.relative_to(tmp_path).as_posix() for p in paths]

    with caplog.at_level("WARNING", logger="multigan"):
        assert names(audio_files(tmp_path)) == ["a.flac", "b.WAV", "e.mp3", "sub/c.ogg", "sub/deeper/d.wav"]
    # audio in a format soundfile cannot read is named, never silently left out
    assert "left out 2 .m4a file(s)" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="multigan"):
        assert names(audio_files(tmp_path, ("wav",), recursive=False)) == ["b.WAV"]
    assert "1 .flac, 2 .m4a, 1 .mp3" in caplog.text, caplog.text
    assert names(audio_files(tmp_path, [".MP3"])) == ["e.mp3"]
    assert audio_files(tmp_path / "missing") == []


# ------------------------------------------------------------------------------------------------ canvas


def test_pad_canvas_left_aligns_and_zero_pads(real_dir: Path) -> None:
    ds = fsdd_folder(real_dir)
    for index in (0, 7, 13):
        raw = load_audio(ds.items[index].path, 8000)
        real = ds[index]["real"]
        assert real.shape == (1, CANVAS) and real.dtype == torch.float32
        n = min(raw.shape[0], CANVAS)
        assert torch.equal(real[0, :n], raw[:n]) and not real[0, n:].any()
    real = ds[0]["real"]
    real.add_(1.0)  # items are fresh tensors: the cache is untouched
    assert not torch.equal(ds[0]["real"], real)
    batch = next(iter(DataLoader(ds, batch_size=5)))
    assert batch["real"].shape == (5, 1, CANVAS) and batch["cond"].shape == (5,)


def test_pad_canvas_truncates_within_margin_and_resamples(tmp_path: Path) -> None:
    data = _noise(int(CANVAS * 1.2))  # 20% too long: within max_excess=0.25
    _write(tmp_path / "1_syn_9.wav", data)
    _write(tmp_path / "2_syn_9.wav", _noise(16000, seed=1), rate=16000)  # 1 s at 16 kHz
    ds = fsdd_folder(tmp_path)
    np.testing.assert_allclose(ds[0]["real"][0].numpy(), data[:CANVAS], atol=1 / 32768)
    assert ds.items[1].frames == 8000 and ds[1]["real"].shape == (1, CANVAS)
    with pytest.raises(AudioDatasetError, match="too long"):
        fsdd_folder(tmp_path, max_excess=0.1)


def test_random_crop_is_reproducible_under_torch_seed(tmp_path: Path) -> None:
    data = _noise(CANVAS * 2)
    _write(tmp_path / "1_syn_9.wav", data)
    _write(tmp_path / "2_syn_9.wav", _noise(CANVAS // 2, seed=1))
    ds = fsdd_folder(tmp_path, crop="random")
    stored = load_audio(tmp_path / "1_syn_9.wav", 8000)
    offsets = set()
    for seed in range(6):
        torch.manual_seed(seed)
        first = ds[0]["real"]
        torch.manual_seed(seed)
        assert torch.equal(first, ds[0]["real"])
        candidates = torch.nonzero(stored[: CANVAS + 1] == first[0, 0]).flatten().tolist()
        offset = next(o for o in candidates if torch.equal(first[0], stored[o : o + CANVAS]))
        offsets.add(offset)  # the item is a contiguous window of the clip
    assert len(offsets) > 1
    short = ds[1]["real"][0]  # shorter than the canvas: end padding, no randomness
    assert short.shape == (CANVAS,) and not short[CANVAS // 2 :].any()


def test_uncached_items_equal_cached(real_dir: Path) -> None:
    cached = fsdd_folder(real_dir, split="test")
    lazy = fsdd_folder(real_dir, split="test", cache=False)
    for index in (0, 5):
        assert torch.equal(cached[index]["real"], lazy[index]["real"])
        assert torch.equal(cached[index]["cond"], lazy[index]["cond"])


# ---------------------------------------------------------------------------------------------- features


def test_feature_shapes_and_normalizer(real_dir: Path) -> None:
    ds = fsdd_folder(real_dir, split="test")
    batch = next(iter(DataLoader(ds, batch_size=4)))["real"]  # [4, 1, 8000]
    logmag = LogMagSpectrogram(n_fft=256, hop=128)
    spec = logmag(batch)
    assert spec.shape == (4, 1, 129, CANVAS // 128 + 1) and torch.isfinite(spec).all()
    assert spec.min() >= np.log(1e-5) - 1e-4
    mel = LogMel(8000, n_fft=256, hop=128, n_mels=40, fmin=20, fmax=4000)(batch)
    assert mel.shape == (4, 1, 40, CANVAS // 128 + 1)
    torch.manual_seed(0)
    wav = griffin_lim(spec[:1, 0], n_fft=256, hop=128, n_iter=4, length=CANVAS)
    assert wav.shape == (1, CANVAS) and torch.isfinite(wav).all()

    norm = SpecNormalizer(129).fit_dataset(ds, logmag)
    z = norm(spec)
    assert z.shape == spec.shape and z.abs().max() <= 1.0
    inside = (z.abs() < 1).expand_as(spec)
    assert torch.allclose(norm.denormalize(z)[inside], spec[inside], atol=1e-4)
    restored = SpecNormalizer(129)
    restored.load_state_dict(norm.state_dict())
    assert set(norm.state_dict()) == {"mean", "std"} and torch.equal(restored(spec), z)
