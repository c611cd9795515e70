"""Lazy training crops: a seek-read crop equals the crop of the decoded clip; failures are replaced, warned and
counted; workers and resume do not change the data; each process reads its own shard."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import multigan
from multigan.audio.corpus_index import build_index
from multigan.audio.io import load_audio
from multigan.audio.vocoders.data.clips import SegmentDataset, load_clips
from multigan.audio.vocoders.data.lazy import ClipReader, LazySegmentDataset
from multigan.audio.vocoders.discriminators.combined import CombinedDiscriminator
from multigan.audio.vocoders.discriminators.mpd import MultiPeriodDiscriminator
from multigan.audio.vocoders.discriminators.msd import MultiScaleDiscriminator
from multigan.audio.vocoders.training import build_vocoder_trainer
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.data import BatchSource

RATE = 22050
MEL = {"sample_rate": RATE, "n_fft": 1024, "hop_size": 256, "win_size": 1024, "n_mels": 80, "fmin": 0.0,
       "fmax": 8000.0}
TINY_G = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
          "upsample_initial_channel": 8, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]]}


def tiny_discriminator() -> CombinedDiscriminator:
    """A narrow MPD (period 2) + MSD (1 scale), named as a recipe's ``discriminator.use=[mpd,msd]``."""
    return CombinedDiscriminator({"mpd": MultiPeriodDiscriminator([2], [4, 4, 8, 8, 8]),
                                  "msd": MultiScaleDiscriminator(1, [16, 16, 16, 16, 16, 16, 16])})


def noise_clip(seconds: float, rate: int, seed: int, amp: float) -> np.ndarray:
    """Band-limited noise (so resampling is well defined) with a slow envelope."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    y = np.convolve(rng.standard_normal(n), np.hanning(9) / 4, mode="same")
    return (amp * y / np.abs(y).max() * (0.6 + 0.4 * np.sin(np.linspace(0, 7, n)))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five clips: WAV and FLAC at the training rate, WAV at 16 kHz and 44.1 kHz, one shorter than a crop."""
    folder = tmp_path_factory.mktemp("corpus")
    sf.write(str(folder / "a.wav"), noise_clip(0.6, RATE, 0, 0.3), RATE, subtype="PCM_16")
    sf.write(str(folder / "b.flac"), noise_clip(0.5, RATE, 1, 0.7), RATE, subtype="PCM_16")
    sf.write(str(folder / "c16k.wav"), noise_clip(0.5, 16000, 2, 0.5), 16000, subtype="PCM_16")
    sf.write(str(folder / "d44k.wav"), noise_clip(0.4, 44100, 3, 0.4), 44100, subtype="FLOAT")
    sf.write(str(folder / "e_short.wav"), noise_clip(0.05, RATE, 4, 0.2), RATE, subtype="PCM_16")
    return folder


def index_of(folder: Path, tmp_path: Path, **kw):
    return build_index(folder, RATE, peaks=True, min_frames=512, cache_dir=tmp_path / "cache", workers=1, **kw)


def test_a_seek_read_crop_equals_the_decoded_clips_crop(corpus: Path, tmp_path: Path) -> None:
    index = index_of(corpus, tmp_path)
    plain, normalised = ClipReader(index), ClipReader(index, normalize=True)
    clips = dict(load_clips(corpus, RATE, normalize=True))  # today's in-memory loader, normalised per clip
    for row, name in enumerate(index.names):
        full = load_audio(index.paths[row], RATE)
        n = full.shape[0]
        assert plain.frames(row) == n
        length = min(2048, n)
        for start in sorted({0, (n - length) // 3, n - length}):
            got = plain.read(row, start, length)
            want = full[start: start + length]
            if index.rates[row] == RATE:
                assert torch.equal(got, want), (name, start)  # exactly: only the segment is decoded
                assert torch.equal(normalised.read(row, start, length), clips[name][start: start + length])
            else:  # resampled on the fly from a stretch of the file
                assert float((got - want).abs().max()) < 2e-3, (name, start, float((got - want).abs().max()))
                scaled = normalised.read(row, start, length)
                assert torch.allclose(scaled, clips[name][start: start + length], atol=4e-3)


def test_lazy_items_equal_in_memory_items_under_the_same_seed(corpus: Path, tmp_path: Path) -> None:
    index = index_of(corpus, tmp_path)
    rows = [0, 1, 2, 3, 4]
    lazy = LazySegmentDataset(ClipReader(index, normalize=True), rows, 2048, MEL, repeats=2)
    clips = [(n, ClipReader(index, normalize=True).read_all(r)) for r, n in enumerate(index.names)]
    eager = SegmentDataset(clips, 2048, MEL, repeats=2)
    assert len(lazy) == len(eager) == 10
    for indices in ([0, 1, 4], [5, 6, 7, 8, 9]):
        torch.manual_seed(7)
        a = lazy.__getitems__(indices)
        torch.manual_seed(7)
        b = eager.__getitems__(indices)
        for x, y, i in zip(a, b, indices):
            if index.rates[rows[i % 5]] == RATE:
                assert torch.equal(x["real"], y["real"]) and torch.equal(x["cond"], y["cond"])
            else:
                assert torch.allclose(x["real"], y["real"], atol=4e-3)
    assert lazy.read_failures == 0


def test_a_file_deleted_after_indexing_is_replaced_warned_and_counted(corpus: Path, tmp_path: Path,
                                                                      caplog) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("a.wav", "b.flac"):
        (folder / name).write_bytes((corpus / name).read_bytes())
    index = index_of(folder, tmp_path)
    ds = LazySegmentDataset(ClipReader(index, normalize=True), [0, 1], 2048, MEL)
    (folder / "a.wav").unlink()
    with caplog.at_level(logging.WARNING, logger="multigan"):
        torch.manual_seed(3)
        items = ds.__getitems__([0, 1, 0])
    assert ds.read_failures == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "a.wav" in warnings[0] and "next clip" in warnings[0]  # once per file
    # deterministic: a failed clip's draw is spent, then the next clip (b.flac) is drawn and read
    torch.manual_seed(3)
    b = load_audio(folder / "b.flac", RATE) * (0.95 / index.peaks[1])
    frames_a, frames_b = int(index.target_frames[0]), int(index.target_frames[1])
    expected = []
    for rows_drawn in ((frames_a, frames_b), (frames_b,), (frames_a, frames_b)):
        for frames in rows_drawn:
            start = int(torch.randint(0, frames - 2048 + 1, ()))
        expected.append(b[start: start + 2048])
    assert all(torch.equal(item["real"], want) for item, want in zip(items, expected))


def test_a_file_changed_after_indexing_is_not_read_silently(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("a.wav", "b.flac"):
        (folder / name).write_bytes((corpus / name).read_bytes())
    index = index_of(folder, tmp_path)
    ds = LazySegmentDataset(ClipReader(index, normalize=True), [0, 1], 2048, MEL)
    sf.write(str(folder / "a.wav"), noise_clip(0.6, RATE, 9, 0.9), RATE, subtype="PCM_16")  # same length
    ds.crop(0)
    assert ds.read_failures == 1


def tiny_trainer(index, run_dir: Path, max_steps: int, workers: int) -> multigan.Trainer:
    torch.manual_seed(0)
    cfg = multigan.TrainConfig(max_steps=max_steps, batch_size=2, loss="lsgan", fm_weight=2.0, reuse_fakes=True,
                               optimizer="adamw", g_lr=1e-3, betas=(0.8, 0.99), ema_decay=0.0, device="cpu",
                               val_every=0, ckpt_every=3, keep_last=1, progress=False, num_workers=workers,
                               lr_schedule="exponential", lr_decay=0.9)
    cfg.validate()
    vocoder = Vocoder(generator=TINY_G)
    crops = LazySegmentDataset(ClipReader(index, normalize=True), [0, 1, 2, 3, 4], 1024, vocoder.config["mel"])
    return build_vocoder_trainer(vocoder, tiny_discriminator(), cfg, crops, run_dir, segment=1024)


def weights(trainer: multigan.Trainer) -> dict[str, torch.Tensor]:
    out = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
    out |= {f"D.{k}": v for k, v in trainer.D.state_dict().items()}
    for pid, s in trainer.opt_g.state_dict()["state"].items():
        out |= {f"og.{pid}.{k}": torch.as_tensor(v) for k, v in s.items()}
    return out


def test_workers_and_resume_are_bit_identical(corpus: Path, tmp_path: Path) -> None:
    index = index_of(corpus, tmp_path)
    # 5 clips / batch 2 = 2 batches per epoch: 6 steps cross 2 epoch boundaries, the resume lands mid-epoch
    serial = tiny_trainer(index, tmp_path / "serial", 6, workers=0)
    serial.fit()
    interrupted = tiny_trainer(index, tmp_path / "resumed", 3, workers=2)
    interrupted.fit()
    torch.manual_seed(999)
    resumed = tiny_trainer(index, tmp_path / "resumed", 6, workers=2)
    resumed.fit(resume=True)
    a, b = weights(serial), weights(resumed)
    assert a.keys() == b.keys()
    diffs = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diffs, f"2 workers + resume differ from 0 workers uninterrupted in {diffs[:5]}"
    assert resumed.step == 6 and resumed.source.state_dict() == serial.source.state_dict()


class ItemLog(LazySegmentDataset):
    """Records the items it is asked to crop."""

    def crop(self, index: int) -> torch.Tensor:
        self.asked.append(index)
        return super().crop(index)


def test_two_processes_read_disjoint_shards(tmp_path: Path) -> None:
    (tmp_path / "shards").mkdir()
    for i in range(12):
        sf.write(str(tmp_path / "shards" / f"{i:02d}.wav"), noise_clip(0.1, RATE, 10 + i, 0.5), RATE,
                 subtype="PCM_16")
    index = index_of(tmp_path / "shards", tmp_path)
    seen = []
    for rank in (0, 1):
        ds = ItemLog(ClipReader(index, normalize=True), list(range(12)), 1024, MEL)
        ds.asked = []
        source = BatchSource(ds, batch_size=3, seed=5, rank=rank, world_size=2)
        for _ in range(source.batches_per_epoch()):
            next(source)
        seen.append(ds.asked)
    assert len(seen[0]) == len(seen[1]) == 6  # 12 items // (3 x 2): 2 batches of 3 per process
    assert not set(seen[0]) & set(seen[1]) and set(seen[0]) | set(seen[1]) == set(range(12))
