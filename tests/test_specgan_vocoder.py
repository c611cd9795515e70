"""SpecGAN inverted by a trained neural vocoder instead of Griffin-Lim (``use_vocoder``, ``generate --vocoder``)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import multigan
from multigan.audio.features import LogMel
from multigan.audio.io import load_audio
from multigan.audio.specgan import SpecGANGenerator
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.checkpoint import export_generator
from multigan.cli import main as cli_main

# SpecGAN defaults: 8 kHz, n_fft 512, hop 128, 64 mels -> a generator whose upsampling multiplies to 128.
TINY_G = {"resblock": "2", "upsample_rates": [8, 4, 4], "upsample_kernel_sizes": [16, 8, 8],
          "upsample_initial_channel": 16, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 2]]}


def specgan() -> SpecGANGenerator:
    torch.manual_seed(0)
    return SpecGANGenerator(num_classes=10, dim=4, griffin_lim_iters=2).eval()


def matching_vocoder(g: SpecGANGenerator) -> Vocoder:
    torch.manual_seed(1)
    return Vocoder(generator=TINY_G, mel=g.vocoder_mel_settings()).eval()


def test_vocoder_features_are_specgan_features_half_a_hop_later(data_dir: Path) -> None:
    """The mel a vocoder with ``vocoder_mel_settings`` computes equals SpecGAN's, shifted by hop / 2."""
    g = specgan()
    wav = load_audio(data_dir / "fsdd" / "recordings" / "3_theo_0.wav", g.sample_rate)[: g.length].unsqueeze(0)
    ours = g.spectrogram(wav)[0, 0]  # frame t centred on sample t * hop
    theirs = LogMel.from_settings(g.vocoder_mel_settings())(F.pad(wav, (g.hop // 2, 0)))  # centred on t * hop + hop / 2
    inner = slice(4, ours.shape[-1] - 4)  # edge frames differ by the padding only
    loud = ours[:, inner] > -8.0  # the reference magnitude adds 1e-9 under the root: compare above the floor
    assert loud.float().mean() > 0.3
    assert (ours[:, inner] - theirs[0, :, inner])[loud].abs().max() < 1e-3


def test_output_is_read_half_a_hop_on() -> None:
    """Frame t of the vocoder's output covers samples [t hop, (t+1) hop); SpecGAN's frame t is centred on t hop."""

    class FrameIndexVocoder(Vocoder):
        def forward(self, noise, cond=None):  # every frame's hop samples hold the frame's index
            idx = torch.arange(cond.shape[-1], dtype=torch.float32)
            return idx.repeat_interleave(self.hop_size).expand(cond.shape[0], -1)

    g = specgan()
    g.use_vocoder(FrameIndexVocoder(generator=TINY_G, mel=g.vocoder_mel_settings()))
    wav = g._vocode(torch.zeros(2, g.size, g.size))
    assert wav.shape == (2, g.length)
    j = torch.arange(g.length, dtype=torch.float32)
    assert torch.equal(wav[0], torch.floor((j + g.hop // 2) / g.hop))  # sample j -> the nearest frame centre


def test_use_vocoder_replaces_griffin_lim_and_is_not_exported(tmp_path: Path) -> None:
    g = specgan()
    griffin = g.generate(3, digit=4, seed=0)
    voc = matching_vocoder(g)
    g.use_vocoder(voc)
    neural = g.generate(3, digit=4, seed=0)
    assert neural.shape == griffin.shape == (3, g.length)
    assert torch.isfinite(neural).all() and not torch.allclose(neural, griffin)
    assert torch.equal(neural, g.generate(3, digit=4, seed=0)), "same seed, same audio"
    assert not any("vocoder" in k for k in g.state_dict()), "the vocoder must not leak into the SpecGAN's weights"
    export_generator(g, tmp_path / "gan" / "export")
    assert type(multigan.load(tmp_path / "gan")).__name__ == "SpecGANGenerator"
    g.use_vocoder(None)
    assert torch.equal(g.generate(3, digit=4, seed=0), griffin)


def test_mismatched_vocoder_is_refused_with_the_fix() -> None:
    g = specgan()
    lj = Vocoder(generator={**TINY_G, "upsample_rates": [8, 8, 4]})  # the published 22.05 kHz front end
    with pytest.raises(multigan.MultiganError) as err:
        g.use_vocoder(lj)
    msg = str(err.value)
    assert "sample_rate=22050 (needs 8000)" in msg and "n_mels=80 (needs 64)" in msg
    assert "mel.sample_rate=8000" in msg and "mel.fmax=null" in msg and "multiplying to 128" in msg
    with pytest.raises(multigan.MultiganError, match="expected a multigan Vocoder"):
        g.use_vocoder(torch.nn.Identity())
    linear = SpecGANGenerator(num_classes=10, dim=4, feature="linear", n_fft=128, size=64)
    with pytest.raises(multigan.MultiganError, match="log-mel SpecGAN"):
        linear.use_vocoder(matching_vocoder(g))


def test_generate_cli_with_vocoder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    g = specgan()
    export_generator(g, tmp_path / "gan" / "export")
    export_generator(matching_vocoder(g), tmp_path / "voc" / "export")
    export_generator(Vocoder(generator={**TINY_G, "upsample_rates": [8, 8, 4]}), tmp_path / "lj" / "export")
    out = tmp_path / "wavs"
    assert cli_main(["generate", str(tmp_path / "gan"), "-n", "2", "--digit", "1", "--out", str(out),
                     "--vocoder", str(tmp_path / "voc")]) == 0
    g.use_vocoder(multigan.load(tmp_path / "voc"))
    expected = g.generate(2, digit=1, seed=0)
    import soundfile as sf

    written = torch.from_numpy(sf.read(out / "1_0.wav", dtype="float32")[0])
    assert (written - expected[0]).abs().max() <= 1 / 32768 + 1e-6
    capsys.readouterr()
    assert cli_main(["generate", str(tmp_path / "gan"), "-n", "1", "--out", str(tmp_path / "x"),
                     "--vocoder", str(tmp_path / "lj")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: this vocoder was trained on other mel features") and err.count("\n") == 1
    assert cli_main(["generate", str(tmp_path / "voc"), "-n", "1", "--out", str(tmp_path / "y"),
                     "--vocoder", str(tmp_path / "voc")]) == 2
