"""``multigan import-checkpoint bigvgan``: NVIDIA/BigVGAN's layout lands tensor for tensor, the imported generator
and discriminators compute what the reference computes (plain-ops reference, <= 1e-4 float32), optimizer states
follow their parameters, and damaged inputs are one error naming the file."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

import multigan
from helpers.bigvgan_reference import (cqtd_logits, generator_forward, mbd_logits, mpd_logits, mrd_logits,
                                       random_reference_tensors)
from multigan.audio.vocoders.bigvgan import BigVGANGenerator
from multigan.audio.vocoders.discriminators.registry import DISCRIMINATORS
from multigan.audio.vocoders.discriminators.combined import CombinedDiscriminator
from multigan.audio.vocoders.imports.bigvgan import discriminator_sections, import_bigvgan
from multigan.audio.vocoders.imports.reference import map_key, parameter_keys
from multigan.audio.vocoders.vocoder import Vocoder
from multigan.checkpoint import list_checkpoints, load_checkpoint
from multigan.cli import main as cli

LAYOUT = json.loads((Path(__file__).resolve().parent / "fixtures" / "bigvgan_reference_layout.json").read_text())
TINY = LAYOUT["configs"]["tiny"]
MEL = {"num_mels": 20, "n_fft": 256, "hop_size": 64, "win_size": 256, "sampling_rate": 24000, "fmin": 0,
       "fmax": None, "fmax_for_loss": None}
MPD = {"mpd_reshapes": [2, 3, 5, 7, 11], "discriminator_channel_mult": 0.25, "use_spectral_norm": False}
KINDS = {  # the config flags and the reference-layout tensors of the reference's "mrd" entry
    "cqt": ({"use_cqtd_instead_of_mrd": True, **LAYOUT["cqtd_small"]}, "cqtd_small_layout"),
    "mbd": ({"use_mbd_instead_of_mrd": True, "mbd_fft_sizes": [512, 256]}, "mbd_small"),
    "mrd": ({"resolutions": [[1024, 120, 600], [2048, 240, 1200], [512, 50, 240]], "mrd_channel_mult": 0.25},
            "mrd_quarter"),
}


def reference_adamw(tensors: list[torch.Tensor], seed: int) -> dict:
    params = [torch.nn.Parameter(t.clone()) for t in tensors]
    opt = torch.optim.AdamW(params, 1e-4, betas=[0.8, 0.99])
    gen = torch.Generator().manual_seed(seed)
    for _ in range(2):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return opt.state_dict()


def _params(sd: dict) -> list[torch.Tensor]:
    return [sd[k] for k in parameter_keys(sd) if not k.endswith("filter") and ".cqt_transform." not in k
            and ".resample." not in k and ".spec_fn." not in k]


def write_reference(folder: Path, kind: str = "cqt", discriminator: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    flags, layout = KINDS[kind]
    g = random_reference_tensors(LAYOUT["generator"]["tiny"], 1)
    torch.save({"generator": g}, folder / "bigvgan_generator.pt")
    config = {**TINY, **MEL, **MPD, **flags, "batch_size": 4, "learning_rate": 1e-4, "clip_grad_norm": 500}
    (folder / "config.json").write_text(json.dumps(config))
    out = {"g": g, "config": config}
    if discriminator:
        mpd = random_reference_tensors(LAYOUT["mpd_quarter"], 2)
        mrd = random_reference_tensors(LAYOUT[layout], 3)
        do = {"mpd": mpd, "mrd": mrd, "steps": 5000, "epoch": 3,
              "optim_g": reference_adamw(_params(g), 4), "optim_d": reference_adamw(_params(mrd) + _params(mpd), 5)}
        torch.save(do, folder / "bigvgan_discriminator_optimizer.pt")
        out.update(mpd=mpd, mrd=mrd, do=do)
    return out


def checkpoint_of(run: Path) -> dict:
    return load_checkpoint(list_checkpoints(run / "checkpoints")[-1][1])


def test_layout_fixture_is_what_its_script_writes() -> None:
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_bigvgan_layout", Path(__file__).resolve().parent
                                                  / "fixtures" / "make_bigvgan_layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(json.dumps(module.layout())) == LAYOUT


def test_published_v2_layout_lands_on_the_family() -> None:
    """Every tensor of the published 24 kHz generator (112 M) has its multigan name and shape (built on meta)."""
    cfg = LAYOUT["configs"]["v2-24k"]
    with torch.device("meta"):
        g = BigVGANGenerator(n_mels=100, hop_size=256, **{k: v for k, v in cfg.items() if k != "num_mels"})
    own = {k: tuple(v.shape) for k, v in g.state_dict().items()}
    names = dict(LAYOUT["generator"]["v2-24k"])
    mapped = {map_key(k, names): tuple(s) for k, s in names.items() if not k.endswith("filter")}
    assert mapped == own
    assert sum(1 for k in names if k.endswith("filter")) == 2 * (6 * 3 * 6 + 1)


def test_generator_imports_and_computes_what_the_reference_computes(tmp_path: Path) -> None:
    ref = write_reference(tmp_path / "ref")
    run = tmp_path / "run"
    result = import_bigvgan(tmp_path / "ref" / "bigvgan_generator.pt", tmp_path / "ref" / "config.json", run)
    assert result.generator["activation"] == "snakebeta" and result.mel["sample_rate"] == 24000
    voc = multigan.load(run)
    mel = torch.randn(2, 20, 16, generator=torch.Generator().manual_seed(0))
    expect = generator_forward(ref["g"], TINY, mel)
    with torch.no_grad():
        got = voc.net(None, mel)  # the mel-input check has no statistics for an import
    assert (got - expect).abs().max() <= 1e-4 and expect.abs().max() < 0.99
    sections = yaml.safe_load((run / "finetune.yaml").read_text())
    assert sections["generator"]["use_bias_at_final"] is False and sections["discriminator"]["use"] == ["mpd", "cqt"]


@pytest.mark.parametrize("kind", ["cqt", "mbd", "mrd"])
def test_discriminators_import_and_give_the_reference_logits(tmp_path: Path, kind: str) -> None:
    ref = write_reference(tmp_path / "ref", kind)
    run = tmp_path / "run"
    result = import_bigvgan(tmp_path / "ref" / "bigvgan_generator.pt", tmp_path / "ref" / "config.json", run,
                            tmp_path / "ref" / "bigvgan_discriminator_optimizer.pt")
    assert result.optimizers and result.reference_steps == 5000
    name, _ = discriminator_sections(ref["config"])
    section = yaml.safe_load((run / "finetune.yaml").read_text())["discriminator"]  # what rebuilds them
    assert name == kind and section["use"] == ["mpd", kind]
    disc = CombinedDiscriminator({p: DISCRIMINATORS[p](**section[p]).build() for p in ("mpd", name)})
    disc.load_state_dict(checkpoint_of(run)["discriminator"])
    x = 0.5 * torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        outs = disc(x)
    expect = [mpd_logits(ref["mpd"], p, i, x) for i, p in enumerate(MPD["mpd_reshapes"])]
    if kind == "cqt":
        expect += [cqtd_logits(ref["mrd"], ref["config"], 24000, i, x) for i in range(3)]
    elif kind == "mbd":
        expect += [mbd_logits(ref["mrd"], w, i, x) for i, w in enumerate([512, 256])]
    else:
        expect += [mrd_logits(ref["mrd"], r, i, x) for i, r in enumerate(ref["config"]["resolutions"])]
    assert len(outs) == len(expect)
    for o, e in zip(outs, expect):
        got, e = o[-1].flatten(1), e.flatten(1)  # the reference's MBD and CQTD logits are not flattened
        assert got.shape == e.shape
        assert (got - e).abs().max() <= 1e-4 * max(1.0, float(e.abs().max()))


def test_optimizer_states_follow_their_parameters(tmp_path: Path) -> None:
    ref = write_reference(tmp_path / "ref", "cqt")
    run = tmp_path / "run"
    import_bigvgan(tmp_path / "ref" / "bigvgan_generator.pt", tmp_path / "ref" / "config.json", run,
                   tmp_path / "ref" / "bigvgan_discriminator_optimizer.pt")
    state = checkpoint_of(run)
    voc = Vocoder(generator={k: v for k, v in TINY.items() if k != "num_mels"},
              mel={"sample_rate": 24000, "n_fft": 256, "hop_size": 64, "win_size": 256,
                   "n_mels": 20, "fmin": 0.0, "fmax": None}, generator_class="bigvgan")
    names = [n for n, _ in voc.named_parameters()]
    ref_g = [k for k in parameter_keys(ref["g"]) if not k.endswith("filter")]
    for j in (0, 5, len(ref_g) - 1):  # the reference's j-th parameter's moments sit at multigan's index of it
        ours = names.index("net." + map_key(ref_g[j], ref["g"]))
        assert torch.equal(state["opt_g"]["state"][ours]["exp_avg"], ref["do"]["optim_g"]["state"][j]["exp_avg"])
    n_mrd = len(_params(ref["mrd"]))
    d_names = list(checkpoint_of(run)["discriminator"])
    first_mpd = [k for k in d_names if k.startswith("mpd.")][0]
    assert first_mpd.startswith("mpd.discriminators.0.convs.0")
    assert state["opt_d"]["state"][0]["exp_avg"].shape == ref["do"]["optim_d"]["state"][n_mrd]["exp_avg"].shape


def _error(argv: list[str], capsys) -> str:
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_inputs_are_one_error_naming_the_file(tmp_path: Path, capsys) -> None:
    ref = tmp_path / "ref"
    data = write_reference(ref, discriminator=False)
    g, conf = ref / "bigvgan_generator.pt", ref / "config.json"

    def run(gen: Path, config: Path) -> str:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        return _error(["import-checkpoint", "bigvgan", "--generator", str(gen), "--config", str(config), "--out",
                       str(out)], capsys)

    truncated = tmp_path / "g_truncated.pt"
    truncated.write_bytes(g.read_bytes()[: g.stat().st_size // 2])
    assert f"{truncated}: not a readable torch file" in run(truncated, conf)
    bad_conf = tmp_path / "bad.json"
    bad_conf.write_text(json.dumps({**data["config"], "upsample_rates": [4, 4, 2]}))
    assert "multiply to 32 but hop_size is 64" in run(g, bad_conf)
    typed = tmp_path / "typed.json"
    typed.write_text(json.dumps({**data["config"], "upsample_initial_channel": 32.5}))
    assert str(typed) in run(g, typed)
    wrong_filter = tmp_path / "g_filter.pt"
    torch.save({"generator": {**data["g"], "activation_post.upsample.filter": torch.ones(1, 1, 12) / 12}},
               wrong_filter)
    assert "not the published 12-tap Kaiser" in run(wrong_filter, conf)
    nan = tmp_path / "g_nan.pt"
    torch.save({"generator": {**data["g"], "conv_pre.bias": torch.full((32,), math.nan)}}, nan)
    assert "non-finite" in run(nan, conf)
    missing = tmp_path / "g_missing.pt"
    torch.save({"generator": {k: v for k, v in data["g"].items() if not k.startswith("conv_post")}}, missing)
    assert "missing" in run(missing, conf)


def test_init_from_import_fine_tunes_with_its_discriminators(tmp_path: Path, lj_short_dir: Path, capsys) -> None:
    """The import's finetune.yaml rebuilds G, MPD + CQTD; --init-from loads them and both optimizer states."""
    from helpers.recipes import load_recipe

    write_reference(tmp_path / "ref", "cqt")
    imported = tmp_path / "imported"
    import_bigvgan(tmp_path / "ref" / "bigvgan_generator.pt", tmp_path / "ref" / "config.json", imported,
                   tmp_path / "ref" / "bigvgan_discriminator_optimizer.pt")
    recipe = load_recipe("ljspeech_bigvgan")
    out = tmp_path / "ft"
    capsys.readouterr()
    summary = recipe.main(["--preset", "bigvgan-cpu", "--config", str(imported / "finetune.yaml"), "--data",
                           str(lj_short_dir), "--out", str(out), "--init-from", str(imported), "--max-steps", "2",
                           "data.segment=4096", "data.val_clips=1", "train.batch_size=2", "train.val_every=2",
                           "train.adv_start_step=0", "train.progress=false", "eval.griffin_lim=false",
                           "eval.pesq=false", "train.max_minutes=0"])
    assert summary["steps"] == 2
    assert "G, D and both optimizer states (reference step 5000)" in capsys.readouterr().err


@pytest.mark.parametrize("rate,n_mels,fmax,n_fft,hop", [(24000, 100, None, 1024, 256), (22050, 80, 8000.0, 1024, 256),
                                                        (44100, 128, None, 2048, 512)])
def test_own_front_end_is_bigvgans_on_a_real_clip(rate, n_mels, fmax, n_fft, hop) -> None:
    """``voc.mel`` of a BigVGAN-configured vocoder is the reference's ``mel_spectrogram`` (<= 1e-4 in log-mel)."""
    import glob

    import soundfile as sf

    from helpers.bigvgan_reference import reference_mel
    from multigan.audio.io import resample

    paths = sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "shared/data/ljspeech-mini/wavs/*.wav")))
    if not paths:
        pytest.skip("LJ Speech mini set not found")
    audio, sr = sf.read(paths[0], dtype="float32")
    y = torch.from_numpy(resample(audio, sr, rate)).float()[None]
    y = y[:, : y.shape[1] // hop * hop]
    voc = Vocoder(generator={"upsample_rates": [hop], "upsample_kernel_sizes": [2 * hop], "upsample_initial_channel": 2,
                             "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]]},
                  mel={"sample_rate": rate, "n_fft": n_fft, "hop_size": hop, "win_size": n_fft, "n_mels": n_mels,
                       "fmin": 0.0, "fmax": fmax}, generator_class="bigvgan")
    ours, ref = voc.mel(y), reference_mel(y, n_fft, n_mels, rate, hop, n_fft, 0, fmax)
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max() <= 1e-4
