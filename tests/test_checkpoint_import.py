"""Importing reference HiFi-GAN checkpoints: every tensor lands where it belongs, V1 computes exactly what the
reference computes, fine-tuning continues from the imported D and optimizer states, bad files are one error."""
from __future__ import annotations

import copy
import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
import yaml
import torch.nn.functional as F

import multigan
from multigan.audio.vocoders.imports.hifigan import hifigan_discriminators, import_hifigan
from multigan.audio.vocoders.imports.reference import map_key, parameter_keys
from multigan.checkpoint import list_checkpoints, load_checkpoint
from multigan.cli import main as cli
from helpers.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LAYOUT = json.loads((FIXTURES / "hifigan_reference_layout.json").read_text())

_spec = importlib.util.spec_from_file_location("make_hifigan_layout", FIXTURES / "make_hifigan_layout.py")
layout_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout_script)

# A tiny reference-layout generator (V3 style) and discriminators at 1/8 of the published widths.
TINY = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
        "upsample_initial_channel": 16, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 2]]}
TINY_MPD, TINY_MSD = (4, 16, 64, 128, 128), (16, 16, 32, 64, 128, 128, 128)
REF_ADAM_STEPS = 3


def random_tensors(layout: list, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors in a reference layout: positive weight_g, unit-norm spectral-norm vectors."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in layout:
        leaf = name.rsplit(".", 1)[1]
        if leaf == "weight_g":
            t = torch.rand(shape, generator=gen) + 0.5
        elif leaf == "weight_u" or (leaf == "weight_v" and name[: -len("weight_v")] + "weight_orig" in dict(layout)):
            t = torch.randn(shape, generator=gen)
            t = t / t.norm()
        else:
            t = torch.randn(shape, generator=gen) * 0.1
        out[name] = t
    return out


def reference_adamw(tensors: list[torch.Tensor], seed: int) -> dict:
    """A real AdamW state_dict over parameters in the reference order, after a few steps."""
    params = [torch.nn.Parameter(t.clone()) for t in tensors]
    opt = torch.optim.AdamW(params, 2e-4, betas=[0.8, 0.99])
    gen = torch.Generator().manual_seed(seed)
    for _ in range(REF_ADAM_STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return opt.state_dict()


def write_reference(folder: Path, gen_cfg: dict, mpd_ch=None, msd_ch=None, optimizers: bool = True,
                    mel: dict | None = None) -> dict:
    """g_00001000, optionally do_00001000, and config.json in the reference layout; returns the tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    g = random_tensors(layout_script.generator(gen_cfg), 1)
    torch.save({"generator": g}, folder / "g_00001000")
    (folder / "config.json").write_text(json.dumps({**gen_cfg, **(mel or LAYOUT["mel"]), "batch_size": 16,
                                                    "learning_rate": 2e-4}))
    out = {"g": g}
    if mpd_ch is not None:
        mpd = random_tensors(layout_script.mpd(mpd_ch), 2)
        msd = random_tensors(layout_script.msd(msd_ch), 3)
        do = {"mpd": mpd, "msd": msd, "steps": 1000, "epoch": 7}
        if optimizers:
            do["optim_g"] = reference_adamw([g[k] for k in parameter_keys(g)], 4)
            do["optim_d"] = reference_adamw([msd[k] for k in parameter_keys(msd)]
                                            + [mpd[k] for k in parameter_keys(mpd)], 5)
        torch.save(do, folder / "do_00001000")
        out.update(mpd=mpd, msd=msd, do=do)
    return out


def checkpoint_of(run: Path) -> dict:
    return load_checkpoint(list_checkpoints(run / "checkpoints")[-1][1])


def assert_lands(ref: dict[str, torch.Tensor], ours: dict[str, torch.Tensor], prefix: str) -> None:
    """Every reference tensor is, bit for bit, the multigan tensor of the mapped name; nothing else exists."""
    mapped = {prefix + map_key(k, ref): v for k, v in ref.items()}
    own = {k: v for k, v in ours.items() if k.startswith(prefix)}
    assert set(mapped) == set(own)
    for name, value in mapped.items():
        assert torch.equal(own[name], value), name


# --------------------------------------------------------------------------- faithfulness


def test_layout_fixture_is_what_its_script_writes() -> None:
    assert json.loads(json.dumps(layout_script.layout())) == LAYOUT
    assert len(LAYOUT["generator"]["v1"]) == 234 and len(LAYOUT["generator"]["v3"]) == 69
    assert len(LAYOUT["mpd"]) == 5 * 6 * 3 and len(LAYOUT["msd"]) == 8 * 4 + 2 * 8 * 3


def _wn(ref: dict, name: str) -> torch.Tensor:
    """The weight a legacy weight-norm hook computes: torch._weight_norm(v, g, 0), i.e. g * v / ||v||."""
    return torch._weight_norm(ref[f"{name}.weight_v"], ref[f"{name}.weight_g"], 0)


def reference_forward(ref: dict, cfg: dict, mel: torch.Tensor) -> torch.Tensor:
    """The reference generator's forward pass in plain functional ops on the reference tensors."""
    def conv(x, name, dilation=1):
        w = _wn(ref, name)
        return F.conv1d(x, w, ref[f"{name}.bias"], dilation=dilation, padding=(w.shape[-1] * dilation - dilation) // 2)

    nk = len(cfg["resblock_kernel_sizes"])
    x = conv(mel, "conv_pre")
    for i, (u, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
        x = F.leaky_relu(x, 0.1)
        x = F.conv_transpose1d(x, _wn(ref, f"ups.{i}"), ref[f"ups.{i}.bias"], stride=u, padding=(k - u) // 2)
        xs = None
        for j, dils in enumerate(cfg["resblock_dilation_sizes"]):
            r, h = i * nk + j, x
            for n, d in enumerate(dils):
                if cfg["resblock"] == "1":
                    t = conv(F.leaky_relu(h, 0.1), f"resblocks.{r}.convs1.{n}", d)
                    t = conv(F.leaky_relu(t, 0.1), f"resblocks.{r}.convs2.{n}")
                else:
                    t = conv(F.leaky_relu(h, 0.1), f"resblocks.{r}.convs.{n}", d)
                h = t + h
            xs = h if xs is None else xs + h
        x = xs / nk
    return torch.tanh(conv(F.leaky_relu(x), "conv_post"))


def test_v1_import_lands_every_tensor_and_computes_exactly(tmp_path: Path) -> None:
    cfg = LAYOUT["configs"]["v1"]
    ref = write_reference(tmp_path / "ref", cfg)["g"]
    assert [[k, list(v.shape)] for k, v in ref.items()] == LAYOUT["generator"]["v1"]
    import_hifigan(tmp_path / "ref" / "g_00001000", tmp_path / "ref" / "config.json", tmp_path / "run")
    state = checkpoint_of(tmp_path / "run")
    assert_lands(ref, state["generator"], "net.")
    assert "discriminator" not in state and "opt_g" not in state
    voc = multigan.load(tmp_path / "run")
    assert voc.config["mel"] == {"sample_rate": 22050, "n_fft": 1024, "hop_size": 256, "win_size": 1024,
                                 "n_mels": 80, "fmin": 0.0, "fmax": 8000.0}
    mel = torch.randn(1, 80, 12, generator=torch.Generator().manual_seed(9)) - 5.0
    with torch.no_grad():
        ours = voc(mel)
        direct = reference_forward(ref, cfg, mel)[:, 0]
    assert ours.dtype == torch.float32 and ours.shape == (1, 12 * 256)
    assert (ours - direct).abs().max().item() == 0.0
    # the textbook g * v / ||v|| agrees to rounding (torch's fused kernel sums in another order)
    v, g = ref["conv_pre.weight_v"], ref["conv_pre.weight_g"]
    assert torch.allclose(_wn(ref, "conv_pre"), g * v / v.flatten(1).norm(dim=1)[:, None, None], rtol=1e-6, atol=0)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_v2_v3_generators_land_every_tensor(tmp_path: Path, version: str) -> None:
    cfg = LAYOUT["configs"][version]
    ref = write_reference(tmp_path / "ref", cfg)["g"]
    assert [[k, list(v.shape)] for k, v in ref.items()] == LAYOUT["generator"][version]
    import_hifigan(tmp_path / "ref" / "g_00001000", tmp_path / "ref" / "config.json", tmp_path / "run")
    assert_lands(ref, checkpoint_of(tmp_path / "run")["generator"], "net.")
    voc = multigan.load(tmp_path / "run")
    mel = torch.randn(1, 80, 4, generator=torch.Generator().manual_seed(1)) - 5.0
    with torch.no_grad():
        assert (voc(mel) - reference_forward(ref, cfg, mel)[:, 0]).abs().max().item() == 0.0


def test_published_discriminators_land_every_tensor(tmp_path: Path) -> None:
    """The published MPD (5 periods) + MSD (spectral norm on the first scale) of a do_ file."""
    ref = write_reference(tmp_path / "ref", TINY, (32, 128, 512, 1024, 1024), (128, 128, 256, 512, 1024, 1024, 1024),
                          optimizers=False)
    assert [[k, list(v.shape)] for k, v in ref["mpd"].items()] == LAYOUT["mpd"]
    assert [[k, list(v.shape)] for k, v in ref["msd"].items()] == LAYOUT["msd"]
    import_hifigan(tmp_path / "ref" / "g_00001000", tmp_path / "ref" / "config.json", tmp_path / "run",
                   tmp_path / "ref" / "do_00001000")
    state = checkpoint_of(tmp_path / "run")
    assert_lands(ref["mpd"], state["discriminator"], "mpd.")
    assert_lands(ref["msd"], state["discriminator"], "msd.")
    assert "opt_d" not in state and state["imported"]["reference_steps"] == 1000
    ft = (tmp_path / "run" / "finetune.yaml").read_text()
    section = yaml.safe_load(ft)["discriminator"]
    assert section == {"use": ["mpd", "msd"], "weights": [1.0, 1.0],
                       "mpd": {"periods": [2, 3, 5, 7, 11], "channels_scale": 1.0},
                       "msd": {"num_scales": 3, "channels_scale": 1.0}}


def test_optimizer_states_follow_their_parameters(tmp_path: Path) -> None:
    ref = write_reference(tmp_path / "ref", TINY, TINY_MPD, TINY_MSD)
    import_hifigan(tmp_path / "ref" / "g_00001000", tmp_path / "ref" / "config.json", tmp_path / "run",
                   tmp_path / "ref" / "do_00001000")
    state = checkpoint_of(tmp_path / "run")
    for opt, order, net, prefix in (("optim_g", [("net.", ref["g"])], state["generator"], None),
                                    ("optim_d", [("msd.", ref["msd"]), ("mpd.", ref["mpd"])],
                                     state["discriminator"], None)):
        ours = state["opt_g" if opt == "optim_g" else "opt_d"]
        names = [p + map_key(k, sd) for p, sd in order for k in parameter_keys(sd)]
        own_order = [k for k in net if "._u" not in k and "._v" not in k]  # parameters, in parameters() order
        assert sorted(names) == sorted(own_order)
        for ref_index, name in enumerate(names):
            entry = ours["state"][own_order.index(name)]
            src = ref["do"][opt]["state"][ref_index]
            assert torch.equal(entry["exp_avg"], src["exp_avg"]) and torch.equal(entry["exp_avg_sq"], src["exp_avg_sq"])
            assert float(entry["step"]) == REF_ADAM_STEPS


# --------------------------------------------------------------------------- fine-tuning from an import


@pytest.fixture
def lj_dir(lj_short_dir: Path) -> Path:
    """Four LJ Speech clips cut to 1.5 s (tests/conftest.py)."""
    return lj_short_dir


FT = ["data.segment=2048", "data.val_clips=1", "data.repeats=1", "train.batch_size=2", "train.val_every=2",
      "train.adv_start_step=0", "train.progress=false", "eval.griffin_lim=false", "eval.pesq=false",
      "data.index_cache={cache}"]


def _recipe():
    return load_recipe("ljspeech_hifigan")


def test_init_from_import_continues_with_its_discriminator_and_optimizers(lj_dir: Path, tmp_path: Path, capsys,
                                                                         monkeypatch) -> None:
    ref = write_reference(tmp_path / "ref", TINY, TINY_MPD, TINY_MSD)
    run = tmp_path / "run"
    assert cli(["import-checkpoint", "hifigan", "--generator", str(tmp_path / "ref" / "g_00001000"),
                "--discriminator", str(tmp_path / "ref" / "do_00001000"), "--config",
                str(tmp_path / "ref" / "config.json"), "--out", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "both optimizer states (reference step 1000)" in printed and "--init-from" in printed
    imported = checkpoint_of(run)

    import multigan.audio.vocoders.training as vt
    seen = {}
    original = vt.init_from_imported

    def spy(trainer, path):
        used = original(trainer, path)
        seen.update(copy.deepcopy({"used": used, "D": trainer.D.state_dict(), "G": trainer.G.state_dict(),
                                   "opt_g": trainer.opt_g.state_dict(), "opt_d": trainer.opt_d.state_dict()}))
        return used

    monkeypatch.setattr(vt, "init_from_imported", spy)
    overrides = [o.format(cache=tmp_path / "cache") for o in FT]
    summary = _recipe().main(["--data", str(lj_dir), "--config", str(run / "finetune.yaml"), "--out",
                              str(tmp_path / "ft"), "--init-from", str(run), "--max-steps", "2", *overrides])
    assert summary["steps"] == 2 and seen["used"]
    # at the start of fine-tuning: the imported D and G, and the imported optimizer moments
    for k, v in imported["discriminator"].items():
        assert torch.equal(seen["D"][k], v), k
    for k, v in imported["generator"].items():
        assert torch.equal(seen["G"][k].cpu(), v), k
    for name in ("opt_g", "opt_d"):
        for idx, entry in imported[name]["state"].items():
            assert torch.equal(seen[name]["state"][idx]["exp_avg"], entry["exp_avg"])
            assert float(seen[name]["state"][idx]["step"]) == REF_ADAM_STEPS
        assert seen[name]["param_groups"][0]["lr"] == _recipe().PRESETS["cpu"]["train"]["g_lr" if name == "opt_g"
                                                                                        else "d_lr"]
    # ... and training continued from them: two more AdamW steps on both networks
    final = checkpoint_of(tmp_path / "ft")
    assert float(final["opt_g"]["state"][0]["step"]) == REF_ADAM_STEPS + 2
    assert float(final["opt_d"]["state"][0]["step"]) == REF_ADAM_STEPS + 2
    assert "G, D and both optimizer states" in capsys.readouterr().err
    assert multigan.load(tmp_path / "ft").export_meta["mel_stats"]["n_mels"] == 80  # for voc(mel)'s input check


def test_init_from_import_without_discriminator_says_d_starts_fresh(lj_dir: Path, tmp_path: Path, capsys) -> None:
    write_reference(tmp_path / "ref", TINY)
    run = tmp_path / "run"
    assert cli(["import-checkpoint", "hifigan", "--generator", str(tmp_path / "ref" / "g_00001000"), "--config",
                str(tmp_path / "ref" / "config.json"), "--out", str(run)]) == 0
    assert "note: no --discriminator (do_ file)" in capsys.readouterr().out
    overrides = [o.format(cache=tmp_path / "cache") for o in FT]
    summary = _recipe().main(["--data", str(lj_dir), "--config", str(run / "finetune.yaml"), "--out",
                              str(tmp_path / "ft"), "--init-from", str(run), "--max-steps", "1", *overrides,
                              "discriminator.mpd.channels_scale=0.125", "discriminator.msd.channels_scale=0.125"])
    assert summary["steps"] == 1
    err = capsys.readouterr().err
    assert "the import had no discriminator (no do_ file): D starts fresh" in err


# --------------------------------------------------------------------------- bad files: one error naming the file


class NotATensor:
    """A custom class: a pickle holding it needs arbitrary code to load."""


def _error(argv: list[str], capsys) -> str:
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_files_are_one_error_naming_the_file(tmp_path: Path, capsys) -> None:
    ref = tmp_path / "ref"
    write_reference(ref, TINY)
    g, conf = ref / "g_00001000", ref / "config.json"

    def run(gen: Path, config: Path, *extra: str) -> str:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        return _error(["import-checkpoint", "hifigan", "--generator", str(gen), "--config", str(config), "--out",
                       str(out), *extra], capsys)

    truncated = tmp_path / "g_truncated"
    truncated.write_bytes(g.read_bytes()[: g.stat().st_size // 2])
    assert f"{truncated}: not a readable torch file (truncated or corrupt" in run(truncated, conf)

    evil = tmp_path / "g_evil"
    torch.save({"generator": NotATensor()}, evil)
    err = run(evil, conf)
    assert f"{evil}: refused" in err and "weights_only" in err and "NotATensor" in err

    legacy = tmp_path / "g_legacy"
    legacy.write_bytes(pickle.dumps({"generator": NotATensor()}))
    assert f"{legacy}: refused" in run(legacy, conf)

    bad_rates = tmp_path / "bad_config.json"
    bad_rates.write_text(json.dumps({**json.loads(conf.read_text()), "upsample_rates": [8, 8, 2]}))
    err = run(g, bad_rates)
    assert f"{bad_rates}: upsample_rates [8, 8, 2] multiply to 128 but hop_size is 256" in err
    assert "keys upsample_rates" in err

    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"resblock": "1"}))
    assert f"--config {missing}: missing key(s)" in run(g, missing)

    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps({**json.loads(conf.read_text()), "upsample_initial_channel": 32}))
    assert f"--generator {g}: the tensors do not fit" in run(g, wider)

    not_g = tmp_path / "g_wrong_keys"
    torch.save({"model": {}}, not_g)
    assert f"--generator {not_g}: expected a g_ file" in run(not_g, conf)

    assert f"--discriminator {g}: expected a do_ file" in run(g, conf, "--discriminator", str(g))

    out = tmp_path / "taken"
    (out / "x").mkdir(parents=True)
    assert f"--out {out}: exists and is not empty" in _error(
        ["import-checkpoint", "hifigan", "--generator", str(g), "--config", str(conf), "--out", str(out)], capsys)
    shutil.rmtree(out)


def test_imported_discriminators_compute_what_the_reference_computes(tmp_path: Path) -> None:
    """MPD and MSD logits (eval mode: spectral norm uses the stored u, v) against plain ops on the reference tensors."""
    ref = write_reference(tmp_path / "ref", TINY, TINY_MPD, TINY_MSD, optimizers=False)
    import_hifigan(tmp_path / "ref" / "g_00001000", tmp_path / "ref" / "config.json", tmp_path / "run",
                   tmp_path / "ref" / "do_00001000")
    imported = checkpoint_of(tmp_path / "run")
    disc = hifigan_discriminators({"periods": [2, 3, 5, 7, 11], "num_scales": 3, "mpd_channels": list(TINY_MPD),
                                   "msd_channels": list(TINY_MSD)})
    disc.load_state_dict(imported["discriminator"])
    disc.eval()
    audio = torch.randn(1, 1, 1000, generator=torch.Generator().manual_seed(5)) * 0.3

    def weight(sd, name):
        if f"{name}.weight_orig" in sd:  # legacy spectral norm in eval mode: W / (u . W v)
            w = sd[f"{name}.weight_orig"]
            sigma = torch.dot(sd[f"{name}.weight_u"], torch.mv(w.reshape(w.shape[0], -1), sd[f"{name}.weight_v"]))
            return w / sigma
        return torch._weight_norm(sd[f"{name}.weight_v"], sd[f"{name}.weight_g"], 0)

    def period_logits(sd, p, x):
        b, c, t = x.shape
        if t % p:
            x = F.pad(x, (0, p - t % p), "reflect")
        x = x.view(b, c, -1, p)
        for j in range(5):
            name = f"discriminators.{PERIODS.index(p)}.convs.{j}"
            x = F.leaky_relu(F.conv2d(x, weight(sd, name), sd[f"{name}.bias"], stride=(3 if j < 4 else 1, 1),
                                      padding=(2, 0)), 0.1)
        name = f"discriminators.{PERIODS.index(p)}.conv_post"
        return torch.flatten(F.conv2d(x, weight(sd, name), sd[f"{name}.bias"], padding=(1, 0)), 1)

    def scale_logits(sd, s, x):
        for j, (k, stride, groups, pad) in enumerate([(15, 1, 1, 7), (41, 2, 4, 20), (41, 2, 16, 20), (41, 4, 16, 20),
                                                      (41, 4, 16, 20), (41, 1, 16, 20), (5, 1, 1, 2)]):
            name = f"discriminators.{s}.convs.{j}"
            x = F.leaky_relu(F.conv1d(x, weight(sd, name), sd[f"{name}.bias"], stride=stride, groups=groups,
                                      padding=pad), 0.1)
        name = f"discriminators.{s}.conv_post"
        return torch.flatten(F.conv1d(x, weight(sd, name), sd[f"{name}.bias"], padding=1), 1)

    PERIODS = [2, 3, 5, 7, 11]
    expected = [period_logits(ref["mpd"], p, audio) for p in PERIODS]
    x = audio
    for s in range(3):
        if s:
            x = F.avg_pool1d(x, 4, 2, padding=2)
        expected.append(scale_logits(ref["msd"], s, x))
    with torch.no_grad():
        ours = [outputs[-1] for outputs in disc(audio)]
    assert len(ours) == len(expected) == 8
    for a, b in zip(ours, expected):
        assert a.shape == b.shape and (a - b).abs().max().item() == 0.0
