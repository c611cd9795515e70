"""ONNX export of every vocoder family: the file runs in onnxruntime (CPU) and matches PyTorch on held-out mels
of any length and batch; weight norm folded; the FFT-free inverse STFT of Vocos equals the FFT one."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from multigan.audio.features import LogMel
from multigan.audio.io import load_audio
from multigan.audio.vocoders.hifigan import HIFIGAN_CONFIGS, HiFiGANGenerator
from multigan.audio.vocoders.registry import GENERATORS
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.audio.vocoders.vocos import istft_basis, istft_same, istft_same_real
from multigan.checkpoint import export_generator
from multigan.errors import MultiganError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from multigan.audio.vocoders.onnx_export import export_onnx, register, run_onnx  # noqa: E402

#: One tiny randomly initialised vocoder per family (and an odd-hop Vocos: odd n_fft - hop).
FAMILIES = {
    "hifigan": ("hifigan", {**HIFIGAN_CONFIGS["v1"], "upsample_initial_channel": 32}, {}),
    "vocos": ("vocos", {"dim": 32, "intermediate_dim": 64, "num_layers": 3}, {}),
    "vocos-odd-hop": ("vocos", {"dim": 16, "intermediate_dim": 32, "num_layers": 2, "n_fft": 404}, {"hop_size": 101}),
    "bigvgan": ("bigvgan", {"upsample_rates": [16, 16], "upsample_kernel_sizes": [32, 32],
                            "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                            "resblock_dilation_sizes": [[1, 3]]}, {}),
    "hifigan-small": ("hifigan", {"resblock": "2", "upsample_rates": [16, 16], "upsample_kernel_sizes": [32, 32],
                                  "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                                  "resblock_dilation_sizes": [[1, 3]]}, {}),
}
FAMILIES = {k: v for k, v in FAMILIES.items() if v[0] in GENERATORS}  # families as they land
TOL = 1e-4


def make(name: str, fold: bool = True) -> Vocoder:
    family, generator, mel = FAMILIES[name]
    torch.manual_seed(0)
    voc = Vocoder(generator={k: v for k, v in generator.items() if k not in ("n_mels", "hop_size")}, mel=mel,
                  generator_class=family).eval()
    return voc.remove_weight_norm() if fold else voc


def test_every_family_is_covered() -> None:
    assert {family for family, _, _ in FAMILIES.values()} == set(GENERATORS)


@pytest.fixture(scope="module")
def held_out(lj_short_dir: Path) -> list[torch.Tensor]:
    """Real speech the models never saw: four LJ Speech clips of 1.5 s."""
    return [load_audio(p, 22050) for p in sorted(lj_short_dir.glob("*.wav"))]


@pytest.mark.parametrize("name", sorted(k for k in FAMILIES if k != "hifigan-small"))
def test_onnxruntime_matches_pytorch_on_held_out_mels(name: str, held_out, tmp_path: Path) -> None:
    voc = make(name)
    path = export_onnx(voc, tmp_path / f"{name}.onnx")
    front = LogMel.from_settings(voc.config["mel"])
    mels = [front(c[None])[:, :, :n] for c, n in zip(held_out, (10_000, 1, 7, 33))]  # whole clip, 1, 7, 33 frames
    mels.append(front(torch.stack([held_out[2], held_out[3]])))                        # batch of 2
    worst = 0.0
    for mel in mels:
        with torch.no_grad():
            ref = voc(mel).numpy()
        out = run_onnx(path, mel)
        assert out.shape == ref.shape == (mel.shape[0], mel.shape[2] * voc.hop_size)
        worst = max(worst, float(np.abs(out - ref).max()))
    print(f"{name}: max |onnxruntime - PyTorch| = {worst:.2e}")
    assert worst < TOL
    info = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["multigan"])
    assert info["mel"] == voc.config["mel"] and info["stream_context"] == list(voc.stream_context())
    assert info["front_end"] == voc.config["front_end"]  # how to compute the input mels


def test_weight_norm_is_folded_in_the_file(tmp_path: Path) -> None:
    voc = make("hifigan-small", fold=False)  # as trained: weight-normed parametrizations
    assert any(".parametrizations." in k for k in voc.state_dict())
    path = export_onnx(voc, tmp_path / "wn.onnx")
    assert any(".parametrizations." in k for k in voc.state_dict())  # the vocoder itself is left as it was
    model = onnx.load(str(path))
    names = [init.name for init in model.graph.initializer]
    assert not any("parametrizations" in n or "original" in n for n in names)
    assert not {"ReduceL2", "LpNormalization", "Sqrt", "ReduceSumSquare"} & {n.op_type for n in model.graph.node}
    folded = {f"net.{k}" for k in make("hifigan-small").net.state_dict()}  # one plain weight (and bias) per conv
    assert folded <= set(names)
    mel = torch.randn(1, 80, 20) - 5.0
    with torch.no_grad():
        assert np.abs(run_onnx(path, mel) - voc(mel).numpy()).max() < TOL


@pytest.mark.parametrize("hop, n_fft", [(256, 1024), (64, 128), (101, 204), (275, 1100), (75, 150)])
def test_fft_free_inverse_stft_equals_istft_same(hop: int, n_fft: int) -> None:
    window = torch.hann_window(n_fft)
    spec = torch.polar(torch.rand(2, n_fft // 2 + 1, 9) * 3, torch.rand(2, n_fft // 2 + 1, 9) * 7)
    spec[:, 0] += 0.5j  # imaginary DC and Nyquist parts are ignored by both, as irfft does
    spec[:, -1] -= 0.25j
    ref = istft_same(spec, hop, window)
    out = istft_same_real(torch.cat([spec.real, spec.imag], dim=1), hop, istft_basis(window), window)
    assert out.shape == ref.shape == (2, 9 * hop)
    assert float((out - ref).abs().max()) < 1e-5 * float(ref.abs().max())


def test_export_onnx_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    export_generator(make("vocos"), tmp_path / "run" / "export")
    parser = argparse.ArgumentParser(prog="multigan")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export-onnx", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx"), "--opset", "18"])
    args.func(args)
    out = capsys.readouterr().out
    assert "wrote" in out and "max abs difference" in out
    diff = float(out.rsplit("difference", 1)[1])
    assert diff < TOL
    assert {o.version for o in onnx.load(str(tmp_path / "m.onnx")).opset_import if o.domain in ("", "ai.onnx")} == {18}
    for argv, match in ((["--out", str(tmp_path / "m.bin")], "ending in .onnx"),
                        (["--out", str(tmp_path / "o.onnx"), "--opset", "11"], "opset 18 or newer")):
        args = parser.parse_args(["export-onnx", str(tmp_path / "run"), *argv])
        with pytest.raises(MultiganError, match=match):
            args.func(args)
    export_generator(HiFiGANGenerator(n_mels=80, hop_size=256, upsample_initial_channel=16), tmp_path / "g" / "export")
    args = parser.parse_args(["export-onnx", str(tmp_path / "g"), "--out", str(tmp_path / "g.onnx")])
    with pytest.raises(MultiganError, match="not a vocoder"):
        args.func(args)
