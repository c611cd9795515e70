"""Importing reference Vocos mel checkpoints: the layout fixture, every tensor lands, the imported network
computes the reference's decode, unsupported variants and bad files are one error naming the file."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
import torch.nn.functional as F

import multigan
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.audio.vocoders.imports.vocos import import_vocos, map_vocos_key, read_vocos_config
from multigan.checkpoint import list_checkpoints, load_checkpoint
from multigan.cli import main as cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class NotATensor:
    """A custom class: a pickle holding it needs arbitrary code to load."""


def checkpoint_of(run: Path) -> dict:
    return load_checkpoint(list_checkpoints(run / "checkpoints")[-1][1])


def _error(argv: list[str], capsys) -> str:
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


_vspec = importlib.util.spec_from_file_location("make_vocos_layout", FIXTURES / "make_vocos_layout.py")
vocos_layout = importlib.util.module_from_spec(_vspec)
_vspec.loader.exec_module(vocos_layout)
VOCOS = json.loads((FIXTURES / "vocos_reference_layout.json").read_text())


def write_vocos(folder: Path, dim: int = 16, intermediate: int = 24, layers: int = 2) -> dict:
    """pytorch_model.bin (random tensors, Hann istft window) and config.yaml of a reference-layout Vocos."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(11)
    state = {name: torch.randn(shape, generator=gen) * 0.1
             for name, shape in vocos_layout.layout(dim=dim, intermediate=intermediate, layers=layers)}
    state["head.istft.window"] = torch.hann_window(1024)
    torch.save(state, folder / "pytorch_model.bin")
    cfg = json.loads(json.dumps(vocos_layout.CONFIG))
    cfg["backbone"]["init_args"].update(dim=dim, intermediate_dim=intermediate, num_layers=layers)
    cfg["head"]["init_args"]["dim"] = dim
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return state


def test_vocos_layout_fixture_and_every_tensor_lands(tmp_path: Path) -> None:
    assert json.loads(json.dumps(vocos_layout.fixture())) == VOCOS
    ref = write_vocos(tmp_path / "ref")
    run = tmp_path / "run"
    assert cli(["import-checkpoint", "vocos", "--model", str(tmp_path / "ref" / "pytorch_model.bin"), "--config",
                str(tmp_path / "ref" / "config.yaml"), "--out", str(run)]) == 0
    voc = multigan.load(run)
    assert voc.config["generator_class"] == "vocos" and voc.config["mel"]["sample_rate"] == 24000
    assert voc.config["mel"]["n_mels"] == 100 and voc.config["generator"]["n_fft"] == 1024
    generator = checkpoint_of(run)["generator"]
    renames = {"convnext": "blocks", "final_layer_norm": "final_norm"}
    landed = 0
    for name, value in ref.items():
        if name.startswith("feature_extractor.") or name == "head.istft.window":
            continue
        ours = "net." + ".".join(renames.get(part, part) for part in name.split("."))
        assert torch.equal(generator[ours], value), name
        landed += 1
    assert landed == len(generator) == 4 + 2 * 9 + 2 + 2  # embed, norm, 2 blocks, final norm, head
    # the published size has the fixture's shapes and every one of them has a home in multigan's network
    import yaml

    (tmp_path / "published.yaml").write_text(yaml.safe_dump(VOCOS["config"]))
    g_cfg, mel = read_vocos_config(tmp_path / "published.yaml")
    assert g_cfg == {"dim": 512, "intermediate_dim": 1536, "num_layers": 8, "n_fft": 1024}
    own = Vocoder(generator=g_cfg, mel=mel, generator_class="vocos").state_dict()
    for name, shape in VOCOS["layout"]:
        target = map_vocos_key(name)
        assert target is None or list(own[target].shape) == shape, name
    assert sum(map_vocos_key(n) is not None for n, _ in VOCOS["layout"]) == len(own)


def test_vocos_bad_inputs_are_one_error(tmp_path: Path, capsys) -> None:
    import yaml

    write_vocos(tmp_path / "ref")
    model, config = tmp_path / "ref" / "pytorch_model.bin", tmp_path / "ref" / "config.yaml"

    def run(m: Path, c: Path) -> str:
        return _error(["import-checkpoint", "vocos", "--model", str(m), "--config", str(c), "--out",
                       str(tmp_path / f"out{len(list(tmp_path.iterdir()))}")], capsys)

    encodec = tmp_path / "encodec.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["feature_extractor"]["class_path"] = "vocos.feature_extractors.EncodecFeatures"
    encodec.write_text(yaml.safe_dump(cfg))
    assert f"--config {encodec}: unsupported Vocos variant: feature_extractor EncodecFeatures" in run(model, encodec)
    wider = tmp_path / "wider.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["backbone"]["init_args"]["dim"] = 32
    cfg["head"]["init_args"]["dim"] = 32
    wider.write_text(yaml.safe_dump(cfg))
    assert f"--model {model}: the tensors do not fit" in run(model, wider)
    evil = tmp_path / "evil.bin"
    torch.save({"backbone.embed.weight": NotATensor()}, evil)
    assert f"{evil}: refused" in run(evil, config)


def reference_vocos_forward(ref: dict, mel: torch.Tensor, layers: int, n_fft: int = 1024, hop: int = 256):
    """The reference Vocos decode in plain ops: ConvNeXt stack, linear head, exp/cos/sin, windowed overlap-add
    with "same" padding divided by the overlap-added squared window."""
    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], ref[f"{name}.weight"], ref[f"{name}.bias"], eps=1e-6)

    x = F.conv1d(mel, ref["backbone.embed.weight"], ref["backbone.embed.bias"], padding=3)
    x = ln(x.transpose(1, 2), "backbone.norm").transpose(1, 2)
    for i in range(layers):
        p = f"backbone.convnext.{i}"
        y = F.conv1d(x, ref[f"{p}.dwconv.weight"], ref[f"{p}.dwconv.bias"], padding=3, groups=x.shape[1])
        y = ln(y.transpose(1, 2), f"{p}.norm")
        y = F.linear(F.gelu(F.linear(y, ref[f"{p}.pwconv1.weight"], ref[f"{p}.pwconv1.bias"])),
                     ref[f"{p}.pwconv2.weight"], ref[f"{p}.pwconv2.bias"])
        x = x + (ref[f"{p}.gamma"] * y).transpose(1, 2)
    x = ln(x.transpose(1, 2), "backbone.final_layer_norm")
    h = F.linear(x, ref["head.out.weight"], ref["head.out.bias"]).transpose(1, 2)
    mag, phase = h.chunk(2, dim=1)
    spec = torch.clip(torch.exp(mag), max=1e2) * (torch.cos(phase) + 1j * torch.sin(phase))
    window = torch.hann_window(n_fft)
    frames = torch.fft.irfft(spec, n_fft, dim=1) * window[None, :, None]
    t = frames.shape[-1]
    size = (t - 1) * hop + n_fft
    y = F.fold(frames, (1, size), (1, n_fft), stride=(1, hop))[:, 0, 0]
    env = F.fold(window.square()[None, :, None].expand(1, n_fft, t), (1, size), (1, n_fft), stride=(1, hop))[0, 0, 0]
    pad = (n_fft - hop) // 2
    return (y[:, pad:-pad] / env[pad:-pad]).clamp(-1, 1)


def test_imported_vocos_computes_what_the_reference_computes(tmp_path: Path) -> None:
    ref = write_vocos(tmp_path / "ref", layers=2)
    import_vocos(tmp_path / "ref" / "pytorch_model.bin", tmp_path / "ref" / "config.yaml", tmp_path / "run")
    voc = multigan.load(tmp_path / "run")
    mel = torch.randn(1, 100, 9, generator=torch.Generator().manual_seed(3)) - 4.0
    with torch.no_grad():
        ours, direct = voc(mel), reference_vocos_forward(ref, mel, layers=2)
    assert ours.shape == direct.shape == (1, 9 * 256)
    assert (ours - direct).abs().max().item() < 1e-6  # polar() vs cos + i sin: rounding only (1.2e-8 here)


def test_imported_vocos_mel_is_the_reference_feature_extractor(tmp_path: Path) -> None:
    """voc.mel of an imported Vocos is the reference's MelSpectrogramFeatures on a real clip: bit for bit what its
    torchaudio module computes, and the plain-ops reference within 1e-4, for padding center and same."""
    import numpy as np
    import pytest
    import soundfile as sf
    import torchaudio
    import yaml

    from multigan.audio.io import resample
    from helpers.vocos_reference import vocos_reference_mel

    lj = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ljspeech-mini" / "wavs"
    if not lj.is_dir():
        pytest.skip("LJ Speech mini set not available")
    pytest.importorskip("librosa")
    y, sr = sf.read(str(sorted(lj.glob("*.wav"))[0]), dtype="float32")
    y = resample(y[: 2 * sr], sr, 24000)
    y = torch.from_numpy(np.concatenate([y[: len(y) // 256 * 256], np.zeros(4096, np.float32)]))[None]
    write_vocos(tmp_path / "ref")
    config = yaml.safe_load((tmp_path / "ref" / "config.yaml").read_text())
    for padding in ("center", "same"):
        config["feature_extractor"]["init_args"]["padding"] = padding
        (tmp_path / "ref" / f"{padding}.yaml").write_text(yaml.safe_dump(config))
        import_vocos(tmp_path / "ref" / "pytorch_model.bin", tmp_path / "ref" / f"{padding}.yaml", tmp_path / padding)
        voc = multigan.load(tmp_path / padding)
        assert voc.config["front_end"]["padding"] == padding and voc.config["front_end"]["log_floor"] == 1e-7
        ours = voc.mel(y)
        module = torchaudio.transforms.MelSpectrogram(sample_rate=24000, n_fft=1024, hop_length=256, n_mels=100,
                                                      center=padding == "center", power=1)
        pad = (1024 - 256) // 2
        x = y if padding == "center" else F.pad(y, (pad, pad), mode="reflect")
        assert torch.allclose(ours, torch.log(torch.clip(module(x), min=1e-7)), rtol=0, atol=1e-6 if padding == "same" else 0)
        assert (ours - vocos_reference_mel(y, 24000, 1024, 256, 100, padding)).abs().max().item() < 1e-4
        assert ours.shape[-1] == y.shape[-1] // 256 + (padding == "center")
    config["feature_extractor"]["init_args"]["padding"] = "valid"
    (tmp_path / "ref" / "valid.yaml").write_text(yaml.safe_dump(config))
    from multigan.audio.vocoders.imports.common import CheckpointImportError

    with pytest.raises(CheckpointImportError, match=r"feature_extractor.init_args.padding='valid'"):
        import_vocos(tmp_path / "ref" / "pytorch_model.bin", tmp_path / "ref" / "valid.yaml", tmp_path / "valid")
