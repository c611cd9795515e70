"""WaveGAN and SpecGAN heads: shapes, conditioning, generation API, CLI, and real training steps on FSDD."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import soundfile as sf
import torch

import multigan
from multigan.audio import AudioFolder
from multigan.audio.specgan import SpecGANDiscriminator, SpecGANGenerator
from multigan.audio.spoken_digits import FSDD_PATTERN, fsdd_split
from multigan.audio.wavegan import PhaseShuffle, WaveGANDiscriminator, WaveGANGenerator
from multigan.checkpoint import export_generator


@pytest.mark.parametrize("length", [8192, 16384])
def test_wavegan_shapes(length):
    g = WaveGANGenerator(length=length, num_classes=10, dim=4)
    d = WaveGANDiscriminator(length=length, num_classes=10, dim=4)
    y = torch.tensor([0, 3, 9])
    out = g(g.sample_noise(3), y)
    assert out.shape == (3, 1, length) and out.abs().max() <= 1
    subs = d(out, y)
    assert len(subs) == 1 and subs[0][-1].shape == (3,)
    assert [m.shape[-1] for m in subs[0][:-1]] == [length // 4**i for i in range(1, 6)]


@pytest.mark.parametrize("feature,size,n_fft,hop", [("mel", 64, 512, 128), ("linear", 128, 256, 64)])
def test_specgan_shapes_and_inversion(feature, size, n_fft, hop):
    g = SpecGANGenerator(num_classes=10, dim=4, size=size, feature=feature, n_fft=n_fft, hop=hop,
                         griffin_lim_iters=2)
    d = SpecGANDiscriminator(num_classes=10, dim=4, size=size)
    y = torch.tensor([1, 2])
    img = g(g.sample_noise(2), y)
    assert img.shape == (2, 1, size, size)
    assert d(img, y)[0][-1].shape == (2,)
    wav = torch.randn(2, g.length) * 0.1
    assert g.spectrogram(wav).shape == (2, 1, size, size), "the canvas must give exactly `size` frames"
    assert g.to_audio(img.detach()).shape == (2, g.length)


def test_specgan_feature_config_errors():
    with pytest.raises(multigan.MultiganError, match="n_fft"):
        SpecGANGenerator(feature="linear", size=64, n_fft=512)
    with pytest.raises(multigan.MultiganError, match="power of two"):
        SpecGANGenerator(size=96)
    with pytest.raises(multigan.MultiganError, match="multiple of 1024"):
        WaveGANGenerator(length=8000)


def test_phase_shuffle_shifts_within_range_and_is_identity_in_eval():
    ps = PhaseShuffle(2)
    x = torch.arange(20.0).view(1, 1, 20).repeat(64, 1, 1)
    torch.manual_seed(0)
    y = ps(x)
    shifts = {int(round((y[i, 0, 10] - x[i, 0, 10]).item())) for i in range(64)}
    assert shifts <= {-2, -1, 0, 1, 2} and len(shifts) > 1
    ps.eval()
    assert torch.equal(ps(x), x)


def test_conditional_generation_honours_label_and_seed():
    torch.manual_seed(0)
    g = WaveGANGenerator(length=8192, num_classes=10, dim=4).eval()
    a = g.generate(4, digit=7, seed=0)
    assert a.shape == (4, 8192) and a.abs().max() <= 1
    assert torch.equal(a, g.generate(4, digit=7, seed=0)), "same seed must give the same audio"
    assert not torch.equal(a, g.generate(4, digit=3, seed=0)), "the label must change the output"
    assert torch.equal(a, g.generate(4, label=7, seed=0)) and torch.equal(a, g.generate(4, 7, seed=0)), \
        "digit= is another name for label="
    with pytest.raises(multigan.MultiganError, match="both"):
        g.generate(2, label=7, digit=7)
    assert torch.equal(g.labels_for(12, None), torch.arange(12) % 10)
    with pytest.raises(multigan.MultiganError, match="0-9"):
        g.generate(2, digit=12)
    unconditional = WaveGANGenerator(length=8192, num_classes=0, dim=4)
    with pytest.raises(multigan.MultiganError, match="unconditional"):
        unconditional.generate(2, digit=1)


def test_load_generate_save_read_back_and_cli(tmp_path):
    torch.manual_seed(0)
    g = SpecGANGenerator(num_classes=10, dim=4, griffin_lim_iters=2)
    g.normalizer.mean.fill_(-3.0)  # buffers travel with the export
    export_generator(g, tmp_path / "run" / "export")
    loaded = multigan.load(tmp_path / "run")
    assert loaded.sample_rate == 8000 and torch.equal(loaded.normalizer.mean, g.normalizer.mean)
    wavs = loaded.generate(3, digit=5, seed=1)
    paths = multigan.audio.save_wavs(wavs, loaded.sample_rate, tmp_path / "out", prefix="5")
    data, rate = sf.read(paths[0], dtype="float32")
    assert rate == 8000 and abs(data - wavs[0].numpy()).max() <= 1 / 32768 + 1e-6

    cli = subprocess.run([sys.executable, "-m", "multigan.cli", "generate", str(tmp_path / "run"), "-n", "3",
                          "--digit", "7", "--seed", "0", "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["7_0.wav", "7_1.wav", "7_2.wav", "spectrograms.png"]
    again = torch.from_numpy(sf.read(tmp_path / "cli" / "7_0.wav", dtype="float32")[0])
    expected = loaded.generate(3, digit=7, seed=0)[0]
    assert (again - expected).abs().max() <= 1 / 32768 + 1e-6
    bad = subprocess.run([sys.executable, "-m", "multigan.cli", "generate", str(tmp_path / "run"), "-n", "1",
                          "--digit", "11", "--out", str(tmp_path / "bad")], capture_output=True, text=True)
    assert bad.returncode == 2 and "0-9" in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def fsdd_subset(tmp_path_factory):
    from pathlib import Path
    src = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd" / "recordings"
    if not src.is_dir():
        pytest.skip(f"FSDD not found at {src}")
    dst = tmp_path_factory.mktemp("fsdd")
    for digit in range(10):
        for take in (0, 5, 6, 7):  # take 0 is test, 5-7 train: 30 train clips
            shutil.copy(src / f"{digit}_jackson_{take}.wav", dst)
    return dst


def test_specgan_trains_on_real_clips(fsdd_subset, tmp_path):
    """A few real steps through the core trainer move G and produce a loadable conditional export."""
    folder = AudioFolder(fsdd_subset, 8000, 63 * 128, label_pattern=FSDD_PATTERN, split="train", split_fn=fsdd_split)
    assert len(folder) == 30 and folder.num_classes == 10
    torch.manual_seed(0)
    g = SpecGANGenerator(num_classes=10, dim=4, griffin_lim_iters=2)
    d = SpecGANDiscriminator(num_classes=10, dim=4)
    wavs = torch.stack([folder[i]["real"] for i in range(len(folder))]).squeeze(1)
    specs = g.spectrogram(wavs)
    g.normalizer.fit(specs)
    images = g.normalizer.normalize(specs)
    assert images.abs().max() <= 1.0 and abs(float(images.mean())) < 0.5
    dataset = [{"real": images[i], "cond": torch.tensor(folder.items[i].label)} for i in range(len(folder))]
    cfg = multigan.TrainConfig(max_steps=4, batch_size=8, loss="hinge", val_every=0, progress=False, device="cpu")
    trainer = multigan.Trainer(g, d, cfg, dataset, tmp_path / "run")
    before = {k: v.clone() for k, v in g.state_dict().items()}
    trainer.fit()
    assert any(not torch.equal(before[k], v) for k, v in g.state_dict().items())
    loaded = multigan.load(tmp_path / "run")
    assert loaded.generate(2, digit=3, seed=0).shape == (2, 63 * 128)


def test_wavegan_trains_on_real_clips(fsdd_subset, tmp_path):
    folder = AudioFolder(fsdd_subset, 8000, 8192, label_pattern=FSDD_PATTERN, split="train", split_fn=fsdd_split)
    torch.manual_seed(0)
    g = WaveGANGenerator(length=8192, num_classes=10, dim=2)
    d = WaveGANDiscriminator(length=8192, num_classes=10, dim=2)
    cfg = multigan.TrainConfig(max_steps=3, batch_size=8, loss="ns", r1_gamma=1.0, val_every=0, progress=False,
                               device="cpu")
    d0 = {k: v.clone() for k, v in d.state_dict().items()}
    losses = multigan.Trainer(g, d, cfg, folder, tmp_path / "run").train_step()
    assert {"d_adv", "d_r1", "g_adv"} <= set(losses) and all(v == v for v in losses.values())
    assert any(not torch.equal(d0[k], v) for k, v in d.state_dict().items())


def test_labels_are_names_when_the_export_holds_them(tmp_path):
    """A model trained on digits 5, 6, 7 has classes 0-2: label=5 means the digit 5, 0 is refused, files say 5."""
    from multigan.audio.spoken_digits.recipe_support import digits_of

    g = WaveGANGenerator(length=8192, num_classes=3, dim=2).eval()
    g.export_meta = {"label_names": ["5", "6", "7"]}
    assert g.label_names == ["5", "6", "7"] and g.class_index(6) == 1 and g.class_index("7") == 2
    assert g.labels_for(2, 5).tolist() == [0, 0]
    assert torch.equal(g.generate(2, label=6, seed=0), g.generate(2, digit=6, seed=0))
    with pytest.raises(multigan.MultiganError, match="trained on the labels 5, 6, 7"):
        g.generate(1, label=0)
    names = sorted(p.name for p in g.write_samples(3, tmp_path, seed=0, grid=False))
    assert names == ["5_0.wav", "6_0.wav", "7_0.wav"]
    assert digits_of(torch.tensor([0, 2, 1]), [5, 6, 7]).tolist() == [5, 7, 6]
    g.export_meta = {}  # an export without names: a label is the class index, as before
    assert g.class_index(2) == 2 and g.label_name(1) == "1"
