"""The vocoder registries: a generator family and a discriminator plug in with one module and one registry entry
each; discriminators are listed by name and weight in the config; exports naming the moved classes still load.

(No ``from __future__ import annotations``: the recipe config below is a dataclass defined inside a test, whose
annotations must be the classes themselves.)
"""
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import multigan
from multigan.audio.vocoders.discriminators import registry as discriminators
from multigan.audio.vocoders.discriminators.mpd import MultiPeriodDiscriminator
from multigan.audio.vocoders.hifigan import HiFiGANGenerator
from multigan.audio.vocoders.layers import to_audio_batch
from multigan.audio.vocoders.registry import GENERATORS
from multigan.audio.vocoders.sections import (VocoderData, VocoderEval, VocoderMel, VocoderObjective,
                                              check_vocoder_config)
from multigan.audio.vocoders.training import RECIPE_WIRING, train_vocoder
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.audio.vocoders.vocos import VocosGenerator
from multigan.checkpoint import export_generator, list_checkpoints, load_checkpoint
from multigan.config import AtLeastOne, ConfigError, from_dict
from multigan.errors import MultiganError
from multigan.export import CLASS_ALIASES, open_export
from multigan.generator import ExportableGenerator
from multigan.recipe import run_recipe

TINY_G = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
          "upsample_initial_channel": 8, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]]}


# --------------------------------------------------------------------------- a throw-away family and discriminator
# What a new family's module holds: the network (n_mels/hop_size kwargs, validate_config, remove_weight_norm,
# forward(noise, cond)) and its config section (a dataclass with ``family`` and ``keys``).


class StubGenerator(ExportableGenerator):
    """One transposed convolution from mel frames to hops."""

    def __init__(self, n_mels: int = 80, hop_size: int = 256, channels: int = 4) -> None:
        self.validate_config(n_mels=n_mels, hop_size=hop_size, channels=channels)
        super().__init__(n_mels=n_mels, hop_size=hop_size, channels=channels)
        self.up = nn.ConvTranspose1d(n_mels, channels, hop_size, hop_size)
        self.out = nn.Conv1d(channels, 1, 3, padding=1)

    @classmethod
    def validate_config(cls, n_mels: int = 80, hop_size: int = 256, channels: int = 4) -> None:
        if channels < 1:
            raise MultiganError(f"channels must be positive, got {channels}")

    def sample_noise(self, batch, device="cpu", generator=None):
        return None

    def remove_weight_norm(self) -> "StubGenerator":
        return self

    def forward(self, noise, cond=None):
        return torch.tanh(self.out(self.up(cond if cond is not None else noise)))


@dataclass
class StubConfig:
    """The stub family's ``generator`` section."""

    family = "stub"  # a plain class attribute (not a field: no annotation)
    keys = "generator.channels"
    channels: int = 4


class StubDiscriminator(nn.Module):
    """One strided conv over the waveform: one sub-discriminator, feature maps then logits (the convention)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, width, 9, 4, padding=4)
        self.post = nn.Conv1d(width, 1, 3, padding=1)

    def forward(self, x, cond=None):
        h = F.leaky_relu(self.conv(to_audio_batch(x)), 0.1)
        out = self.post(h)
        return [[h, out, torch.flatten(out, 1)]]


@dataclass
class StubDiscriminatorConfig:
    """The stub discriminator's section: ``discriminator.stub.width``."""

    width: Annotated[int, AtLeastOne] = 4

    def build(self) -> StubDiscriminator:
        return StubDiscriminator(self.width)


@pytest.fixture
def stubs(monkeypatch):
    """The two registry lines a new family and a new discriminator add."""
    monkeypatch.setitem(GENERATORS, "stub", StubGenerator)
    monkeypatch.setitem(discriminators.DISCRIMINATORS, "stub", StubDiscriminatorConfig)


def test_a_new_family_and_discriminator_train_through_the_pipeline(stubs, lj_short_dir: Path, tmp_path: Path) -> None:
    section = discriminators.discriminator_section(["mpd", "stub"], [1.0, 0.5], "StubDiscriminators")

    @dataclass
    class StubRecipeConfig:
        data: VocoderData = field(default_factory=lambda: VocoderData(segment=2048))
        mel: VocoderMel = field(default_factory=VocoderMel)
        generator: StubConfig = field(default_factory=StubConfig)
        discriminator: section = field(default_factory=section)
        objective: VocoderObjective = field(default_factory=VocoderObjective)
        eval: VocoderEval = field(default_factory=VocoderEval)
        train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)

        def validate(self) -> None:
            check_vocoder_config(self)

    out = tmp_path / "run"
    overrides = ["generator.channels=2", "discriminator.stub.width=3", "discriminator.mpd.periods=[2]",
                 "discriminator.mpd.channels_scale=0.0625", "data.val_clips=1", "train.batch_size=2",
                 "train.val_every=2", "train.ckpt_every=2", "train.adv_start_step=0", "train.progress=false",
                 "train.device=cpu", "eval.griffin_lim=false", "eval.pesq=false"]
    summary = run_recipe(StubRecipeConfig, {"stub": {}}, lambda cfg, run: train_vocoder(cfg, run, recipe="stub"),
                         description="stub vocoder", default_out=str(out), **RECIPE_WIRING,
                         argv=["--data", str(lj_short_dir), "--out", str(out), "--max-steps", "2", *overrides])
    assert summary["steps"] == 2
    voc = multigan.load(out)
    assert isinstance(voc, Vocoder) and isinstance(voc.net, StubGenerator)
    assert voc.config["generator_class"] == "stub" and voc.config["generator"]["channels"] == 2
    assert voc.export_meta["recipe"] == "stub"
    d_state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1])["discriminator"]
    assert d_state["stub.conv.weight"].shape[0] == 3 and any(k.startswith("mpd.discriminators.0.") for k in d_state)
    assert not any(k.startswith("mpd.discriminators.1.") for k in d_state)  # discriminator.mpd.periods=[2]
    with pytest.raises(ConfigError, match="generator: channels must be positive.*generator.channels"):
        from_dict(StubRecipeConfig, {"generator": {"channels": 0}})


def test_build_discriminators_by_name_and_weight(stubs) -> None:
    torch.manual_seed(0)
    built = discriminators.build_discriminators([("mpd", 1.0), ("stub", 0.1)],
                                                {"stub": StubDiscriminatorConfig(width=2)})
    assert built.names == ["mpd", "stub"] and built.weights == [1.0, 0.1]
    assert isinstance(built.mpd, MultiPeriodDiscriminator) and built.mpd.config["channels_scale"] == 1.0
    with torch.no_grad():
        assert len(built(torch.randn(1, 1, 2048))) == 5 + 1
    with pytest.raises(ConfigError, match=r"unknown discriminator\(s\) \['nope'\]; available"):
        discriminators.build_discriminators([("nope", 1.0)])


def test_discriminator_section_keys_are_checked(tmp_path: Path) -> None:
    section = discriminators.discriminator_section(["mpd", "msd"], [1.0, 1.0])
    cfg = from_dict(section, {"use": ["mpd", "mrd"], "weights": [1.0, 0.1], "mrd": {"channels_scale": 0.125}})
    assert cfg.mrd.channels_scale == 0.125 and cfg.msd.num_scales == 3
    for data, message in (({"use": ["mpd", "nope"], "weights": [1, 1]}, r"discriminator.use: unknown"),
                          ({"use": ["mpd"], "weights": [1, 1]}, r"discriminator.weights: 2 weight\(s\)"),
                          ({"use": ["mpd", "mpd"], "weights": [1, 1]}, "listed twice"),
                          ({"use": []}, "name at least one"),
                          ({"weights": [1, 0]}, r"discriminator.weights\[1\] must be > 0"),
                          ({"mpd": {"channels_scale": 0}}, "discriminator.mpd.channels_scale must be > 0"),
                          ({"mrd": {"window": "kaiser"}}, "discriminator.mrd.window")):
        with pytest.raises(ConfigError, match=message):
            from_dict(section, data, prefix="discriminator.")


# --------------------------------------------------------------------------- what earlier versions wrote


@pytest.mark.parametrize("old, make", [
    ("multigan.audio.vocoder:Vocoder", lambda: Vocoder(generator=TINY_G)),
    ("multigan.audio.hifigan:HiFiGANGenerator", lambda: HiFiGANGenerator(**TINY_G)),
    ("multigan.audio.vocos:VocosGenerator", lambda: VocosGenerator(dim=8, intermediate_dim=16, num_layers=1)),
])
def test_exports_naming_the_old_module_paths_still_load(tmp_path: Path, old: str, make) -> None:
    torch.manual_seed(0)
    model = make().eval()
    export_generator(model, tmp_path / "export")
    info_file = tmp_path / "export" / "generator.json"
    info = json.loads(info_file.read_text())
    assert info["class"] == CLASS_ALIASES[old]  # what new exports record
    info_file.write_text(json.dumps({**info, "class": old}))  # what an export of before the move records
    assert open_export(tmp_path).class_spec == CLASS_ALIASES[old]
    loaded = multigan.load(tmp_path)
    assert type(loaded) is type(model)
    mel = torch.randn(1, 80, 3)
    with torch.no_grad():
        assert torch.allclose(loaded(None, mel), model(None, mel), atol=1e-5)


def test_mpd_and_msd_send_back_the_gradients_of_one_module() -> None:
    """Weight-1 parts taking ``[B, 1, T]`` share one view of the waveform: the generator's gradients are bit for bit
    those of HiFi-GAN's MPD + MSD as one module (the accumulation order of floating-point sums is kept)."""
    torch.manual_seed(0)
    d = discriminators.build_discriminators([("mpd", 1.0), ("msd", 1.0)],
                                            {"mpd": discriminators.DISCRIMINATORS["mpd"](channels_scale=0.0625),
                                             "msd": discriminators.DISCRIMINATORS["msd"](channels_scale=0.0625)})
    x = (0.3 * torch.randn(2, 4096)).requires_grad_(True)
    grads = []
    one, two = copy.deepcopy(d), copy.deepcopy(d)  # spectral norm's power iteration changes a module it runs
    for forward in (one, lambda w: (lambda w3: two.mpd(w3) + two.msd(w3))(to_audio_batch(w))):
        x.grad = None
        sum(torch.mean((1 - o[-1]) ** 2) + sum(m.abs().mean() for m in o[:-1]) for o in forward(x)).backward()
        grads.append(x.grad.clone())
    assert torch.equal(grads[0], grads[1])
