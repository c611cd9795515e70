"""Bad input, table-driven: every case exits with status 2 and one `error:` line naming the culprit, no
traceback, and an existing run directory is left as it was. (The toy recipe and the core's config layer;
the audio and text recipes have their own refusal tests beside their data loaders.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from helpers.recipes import load_recipe

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy():
    name = "_toy_ring_recipe_bad_inputs"
    spec = importlib.util.spec_from_file_location(name, ROOT / "recipes" / "toy_ring.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(name, None)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".lock"}


# (arguments, text the single error line must contain)
CASES = [
    (["train.loss=foo"], "train.loss"),
    (["train.betas=[0.5]"], "train.betas"),
    (["train.betas=[0.5,2.0]"], "train.betas"),
    (["train.g_lr=.nan"], "train.g_lr"),
    (["train.d_lr=.inf"], "train.d_lr"),
    (["train.max_steps=true"], "train.max_steps"),
    (["train.max_steps=0"], "train.max_steps"),
    (["train.batch_size=abc"], "train.batch_size"),
    (["train.batch_size=1000000"], "train.batch_size"),
    (["train.mixed_precision=fp8"], "train.mixed_precision"),
    (["train.val_every=0"], "train.val_every"),
    (["data.modes=0"], "data.modes"),
    (["data.std=-1"], "data.std"),
    (["data.radius=0"], "data.radius"),
    (["model.g_layers=0"], "model.g_layers"),
    (["model.z_dim=0"], "model.z_dim"),
    (["model.nope=1"], "model.nope"),
    (["nope.key=1"], "unknown config key nope"),
    (["train.max_steps"], "key=value"),
    (["train.max_steps=[1"], "not valid YAML"),
    (["--config", "{missing}"], "does not exist"),
    (["--config", "{empty}"], "is empty"),
    (["--config", "{broken}"], "(line 3, column 7): not valid YAML"),
    (["--config", "{unsafe}"], "python/object"),
    (["--config", "{listing}"], "must hold a mapping"),
    (["--resume"], "holds no run to continue"),
]


@pytest.mark.parametrize("args, culprit", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_clear_error(toy, tmp_path, capsys, args, culprit):
    files = {"missing": tmp_path / "nope.yaml", "empty": tmp_path / "empty.yaml",
             "broken": tmp_path / "broken.yaml", "unsafe": tmp_path / "unsafe.yaml", "listing": tmp_path / "list.yaml"}
    files["empty"].write_text("")
    files["broken"].write_text("train:\n  max_steps: [1\n  g_lr: 2\n")
    files["unsafe"].write_text("train: !!python/object/apply:os.system ['true']\n")
    files["listing"].write_text("- 1\n- 2\n")
    args = [a.format(**files) for a in args]
    with pytest.raises(SystemExit) as exc:
        toy.main(["--out", str(tmp_path / "run"), "train.progress=false", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and culprit in lines[0], err[-2000:]
    assert "Traceback" not in err


def test_bad_resume_leaves_the_run_unchanged(toy, tmp_path, capsys):
    out = tmp_path / "run"
    toy.main(["--out", str(out), "--max-steps", "4", "train.val_every=2", "train.ckpt_every=2",
              "train.progress=false", "data.eval_samples=100", "data.size=512"])
    before = _files(out)
    for args in (["--resume", "train.g_lr=.nan"], ["--resume", "train.d_lr=0.5"], ["--resume", "--max-steps", "2"],
                 ["train.d_lr=0.5"], ["--config", str(out / "nope.yaml")]):
        with pytest.raises(SystemExit) as exc:
            toy.main(["--out", str(out), *args])
        assert exc.value.code == 2, args
        err = capsys.readouterr().err
        assert "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("error:")]) == 1, err
        assert _files(out) == before, f"{args} changed the run directory"


# --- multigan.load on damaged or hostile exports -------------------------------------------------------------

@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    import multigan
    from multigan.checkpoint import export_generator
    from multigan.toy import RingGenerator

    out = tmp_path_factory.mktemp("export") / "export"
    export_generator(RingGenerator(4, 8, 1), out, {"step": 1})
    assert multigan.load(out).generate(3, seed=0).shape == (3, 2)
    return out


def _damaged(export_dir: Path, tmp_path: Path, file: str, content: bytes | None) -> Path:
    import shutil
    target = tmp_path / "export"
    shutil.copytree(export_dir, target)
    if content is None:
        (target / file).unlink()
    else:
        (target / file).write_bytes(content)
    return target


LOAD_CASES = [
    ("generator.safetensors", None, "is missing"),
    ("generator.safetensors", b"", "not a readable safetensors file"),
    ("generator.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1", "not a readable safetensors file"),
    ("generator.json", b'{"class": "multigan.toy:RingGenerator", "conf', "not a readable export description"),
    ("generator.json", b"[1, 2]", "expected a mapping with a 'class' entry"),
    ("generator.json", b'{"config": {}}', "without a class name"),
    ("generator.json", b'{"class": "multigan.generator:torch.nn.Linear", "config": {"in_features": 2, '
                       b'"out_features": 2}}', "is not one of multigan's exportable generators"),
    ("generator.json", b'{"class": "multigan.audio.specgan:torch.nn.Conv1d", "config": {}}', "is not one of"),
    ("generator.json", b'{"class": "os:system", "config": {}}', "from outside multigan"),
    ("generator.json", b'{"class": "multigan.toy:RingGenerator", "config": {"z_dim": 4, "bogus": 1}}',
     "its config does not build"),
    ("generator.json", b'{"class": "multigan.toy:RingGenerator", "config": {"z_dim": 5, "hidden": 8, "layers": 1}}',
     "weights do not match"),
]


@pytest.mark.parametrize("file, content, message", LOAD_CASES, ids=[c[2] + f"-{i}" for i, c in enumerate(LOAD_CASES)])
def test_load_refuses_damaged_exports_with_one_error(export_dir, tmp_path, file, content, message):
    import multigan
    damaged = _damaged(export_dir, tmp_path, file, content)
    with pytest.raises(multigan.MultiganError, match=message):
        multigan.load(damaged)


# --- every recipe's config: ranges, choices, types (refused at load, before any data is read) -------------------

RECIPE_CASES = [
    ("fsdd_specgan", "data.sample_rate=0"), ("fsdd_specgan", "data.max_excess=-1"),
    ("fsdd_specgan", "model.feature=cqt"), ("fsdd_specgan", "model.size=0"), ("fsdd_specgan", "eval.per_class=0"),
    ("fsdd_wavegan", "model.g_dim=0"), ("fsdd_wavegan", "model.phase_shuffle=-1"),
    ("fsdd_wavegan", "model.upsample=linear"), ("fsdd_wavegan", "train.betas=[0.5,2.0]"),
    ("ljspeech_hifigan", "mel.hop_size=0"), ("ljspeech_hifigan", "mel.fmin=-1"), ("ljspeech_hifigan", "data.segment=-5"),
    ("ljspeech_hifigan", "data.repeats=0"), ("ljspeech_hifigan", "objective.mel_weight=-1"),
    ("ljspeech_hifigan", "discriminator.mpd.channels_scale=0"), ("ljspeech_hifigan", "generator.upsample_rates=[8,8]"),
    ("coco_relgan", "data.val_fraction=1.5"), ("coco_relgan", "data.min_frequency=0"),
    ("coco_relgan", "generator.relgan.head_size=0"), ("coco_relgan", "discriminator.cnn.dropout=1"),
    ("coco_relgan", "mle.lr=0"), ("coco_relgan", "eval.samples=0"), ("coco_relgan", "train.g_lr=.nan"),
]


@pytest.mark.parametrize("recipe, override", RECIPE_CASES, ids=[f"{r} {o}" for r, o in RECIPE_CASES])
def test_every_recipe_refuses_bad_config_values(tmp_path, capsys, recipe, override):
    with pytest.raises(SystemExit) as exc:
        load_recipe(recipe).main(["--out", str(tmp_path / "run"), override])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and "Traceback" not in err, err[-2000:]
    assert len(lines) == 1 and override.split("=")[0].split(".")[-1] in lines[0], err[-2000:]
    assert not (tmp_path / "run" / "checkpoints").exists()


# --- the command line on models of every kind ------------------------------------------------------------------

@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    from multigan.audio.vocoders.vocoder import Vocoder
    from multigan.audio.wavegan import WaveGANGenerator
    from multigan.checkpoint import export_generator
    from multigan.toy import RingGenerator

    root = tmp_path_factory.mktemp("exports")
    voc = Vocoder(generator={"resblock": 2, "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
                             "upsample_initial_channel": 8, "resblock_kernel_sizes": [3],
                             "resblock_dilation_sizes": [[1, 2]]})
    models = {"toy": RingGenerator(4, 8, 1), "wave": WaveGANGenerator(num_classes=0, z_dim=8, dim=4), "voc": voc}
    for name, model in models.items():
        export_generator(model, root / name, {"step": 1})
    import numpy as np
    import soundfile as sf
    sf.write(root / "short.wav", np.full(100, 0.1, np.float32), 22050)
    sf.write(root / "ok.wav", np.random.default_rng(0).uniform(-0.1, 0.1, 3000).astype(np.float32), 22050)
    (root / "a_file").write_text("x")
    return {**{k: root / k for k in models}, "short": root / "short.wav", "ok": root / "ok.wav",
            "file": root / "a_file", "root": root}


CLI_CASES = [
    (["generate", "{wave}", "--temperature", "0.5", "--out", "{root}/o1"], "--temperature"),
    (["generate", "{toy}", "--digit", "3", "--out", "{root}/o2"], "--digit"),
    (["generate", "{wave}", "--top-p", "0.9", "--out", "{root}/o7"], "--top-p"),
    (["generate", "{wave}", "--digit", "3", "--out", "{root}/o3"], "unconditional"),
    (["generate", "{wave}", "--out", "{file}"], "is a file, where an output folder is needed"),
    (["generate", "{toy}", "--out", "{file}/x.csv"], "a_file"),
    (["generate", "{voc}", "--out", "{root}/o4"], "does not support `multigan generate`"),
    (["generate", "{toy}", "-n", "0", "--out", "{root}/o5"], "must be >= 1"),
    (["generate", "{root}/missing", "--out", "{root}/o6"], "missing"),
    (["vocode", "{voc}", "{ok}", "-o", "{root}/x.mp3"], "x.mp3: multigan writes 16-bit PCM WAV"),
    (["vocode", "{voc}", "{short}", "-o", "{root}/x.wav"], "short.wav: audio of 256 samples is shorter than one"),
    (["vocode", "{toy}", "{ok}", "-o", "{root}/x.wav"], "not a vocoder"),
    (["vocode", "{voc}", "{root}/missing.wav", "-o", "{root}/x.wav"], "missing.wav"),
    (["eval-text", "{toy}", "--references", "{ok}", "--self-bleu-samples", "0"], "--self-bleu-samples"),
    (["eval-text", "{toy}", "--references", "{ok}", "-n", "1"], "-n"),
    (["eval-text", "{toy}", "--references", "{ok}", "--temperatures", "0,1"], "--temperatures"),
    (["eval-text", "{toy}", "--references", "{ok}", "--top-p", "0.9,1.5"], "--top-p"),
    (["eval-text", "{toy}", "--references", "{ok}", "--training-seeds"], "--training-seeds"),
    (["eval-digits", "--data", "{root}", "--samples", "{root}/missing"], "missing"),
]


@pytest.mark.parametrize("args, culprit", CLI_CASES, ids=[" ".join(a[:1] + a[2:]) for a, _ in CLI_CASES])
def test_every_cli_command_refuses_bad_input_with_one_error(exports, capsys, args, culprit):
    from multigan.cli import main

    argv = [a.format(**exports) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and culprit in lines[0], err[-2000:]
    assert "Traceback" not in err


def test_a_run_directory_in_use_by_another_process_is_refused(toy, tmp_path, capsys):
    """Two processes training into one --out would interleave validation rows: the second is refused, naming
    the first one's PID; once a recipe returns, its lock is released (the next run in this process works)."""
    import subprocess
    import time

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from multigan.recipe import lock_run_dir; lock_run_dir(Path(sys.argv[1])); "
                               "print('locked', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SystemExit) as exc:
            toy.main(["--out", str(out), "--max-steps", "2", "train.progress=false", "data.size=256"])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and f"is in use by another process (PID {holder.pid})" in err, err
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    args = ["--out", str(out), "--max-steps", "2", "train.progress=false", "data.size=256", "data.eval_samples=100"]
    toy.main(args)  # the holder is gone: the lock is free
    toy.main([*args[:2], "--resume", "--max-steps", "3", *args[4:]])  # and this process released its own


# --- nothing lost: inputs are read before --overwrite deletes anything -----------------------------------------

TOY_QUICK = ["--max-steps", "2", "train.progress=false", "data.size=256", "data.eval_samples=100"]


@pytest.fixture(scope="module")
def toy_run(toy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "run"
    toy.main(["--out", str(out), *TOY_QUICK])
    return out


def test_overwrite_init_from_the_same_directory_is_refused_and_loses_nothing(toy, toy_run, tmp_path, capsys):
    import shutil
    copy = tmp_path / "G"
    shutil.copytree(toy_run, copy)
    before = _files(copy)
    for source in (copy, copy / "checkpoints"):
        with pytest.raises(SystemExit) as exc:
            toy.main(["--out", str(copy), "--overwrite", "--init-from", str(source), *TOY_QUICK])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "would delete before it is read" in err and "Traceback" not in err, err
        assert _files(copy) == before


def test_init_from_without_a_checkpoint_is_refused_before_overwrite_deletes(toy, toy_run, tmp_path, capsys):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(toy_run, out)
    before = _files(out)
    (tmp_path / "empty").mkdir()
    for source, message in ((tmp_path / "empty", "no checkpoint found"), (tmp_path / "nope", "does not exist")):
        with pytest.raises(SystemExit) as exc:
            toy.main(["--out", str(out), "--overwrite", "--init-from", str(source), *TOY_QUICK])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert exc.value.code == 2 and len(lines) == 1 and message in lines[0], err
        assert _files(out) == before


def test_init_from_a_run_of_another_shape_names_the_first_tensor(toy, toy_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        toy.main(["--out", str(tmp_path / "other"), "--init-from", str(toy_run), "model.z_dim=3", *TOY_QUICK])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "weights do not match this run's G (RingGenerator" in lines[0] and "has shape" in lines[0], lines
    assert "a run of RingGenerator" in lines[0]


def test_overrides_may_stand_between_options(toy, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        toy.main(["data.size=1000", "--out", str(tmp_path / "o"), "train.nope=1"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(lines) == 1 and "train.nope" in lines[0], err
    result = toy.main(["data.size=256", "--out", str(tmp_path / "ok"), "--max-steps", "2", "train.progress=false",
                       "data.eval_samples=100"])
    assert result is not None and (tmp_path / "ok" / "export" / "generator.json").is_file()


# --- the one export gate: every command that opens an export refuses a damaged one the same way -------------------

def _broken_export(kind: str, source: Path, target: Path) -> Path:
    import json
    import shutil

    from safetensors.torch import load_file, save_file
    shutil.copytree(source, target)
    description, weights = target / "generator.json", target / "generator.safetensors"
    if kind == "truncated":
        description.write_text(description.read_text()[:40])
    elif kind == "forged":
        info = json.loads(description.read_text())
        description.write_text(json.dumps({**info, "class": "multigan.generator:torch.nn.Linear"}))
    else:
        state = load_file(str(weights))
        name = sorted(k for k, v in state.items() if v.dim() > 1 and v.shape[-1] > 1)[0]
        if kind == "misshaped":
            state[name] = state[name][..., :1].contiguous()
        else:
            state[name] = state[name].clone()
            state[name].view(-1)[0] = float("nan")
        save_file(state, str(weights))
    return target


GATE_KINDS = {"truncated": "not a readable export description", "forged": "is not one of multigan's exportable",
              "misshaped": "has shape", "nan": "non-finite"}
GATE_COMMANDS = {"info": ["info", "{run}"], "generate": ["generate", "{run}", "--out", "{root}/g"],
                 "vocode": ["vocode", "{run}", "{ok}", "-o", "{root}/v.wav"]}


@pytest.mark.parametrize("kind", list(GATE_KINDS))
@pytest.mark.parametrize("command", list(GATE_COMMANDS))
def test_every_command_reads_exports_through_one_gate(exports, tmp_path, capsys, command, kind):
    from multigan.cli import main

    model = "voc" if command == "vocode" else "wave"
    run = _broken_export(kind, exports[model], tmp_path / "run")
    before = _files(run)
    argv = [a.format(run=run, root=tmp_path, ok=exports["ok"]) for a in GATE_COMMANDS[command]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and GATE_KINDS[kind] in lines[0] and "Traceback" not in err, err[-2000:]
    assert str(run) in lines[0]
    assert _files(run) == before and not (tmp_path / "g").exists() and not (tmp_path / "v.wav").exists()


@pytest.mark.parametrize("device, message", [("cuda", "usable CUDA GPU"), ("cuda:7", "usable CUDA GPU"),
                                             ("tpu", "not a device torch knows")])
def test_a_device_this_machine_lacks_is_one_error(exports, tmp_path, capsys, device, message):
    import torch

    from multigan.cli import main
    if torch.cuda.device_count() > (7 if device == "cuda:7" else 0 if device == "cuda" else 10**6):
        pytest.skip(f"this machine has {device}")
    for argv in (["vocode", str(exports["voc"]), str(exports["ok"]), "-o", str(tmp_path / "v.wav")],
                 ["generate", str(exports["wave"]), "--out", str(tmp_path / "g")]):
        assert main([*argv, "--device", device]) == 2
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and message in lines[0] and repr(device) in lines[0] and "Traceback" not in err, err


# --- nothing silently wrong: absurd mels, NaN imports, loosely typed imported configs ---------------------------

def _one_error(argv: list[str], capsys) -> str:
    from multigan.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    return lines[0]


def _mel_file(tmp_path: Path, kind: str) -> Path:
    import numpy as np
    frames = np.random.default_rng(0).normal(-5.0, 2.0, (80, 40)).astype(np.float32)
    path = tmp_path / f"{kind}.npy"
    if kind == "huge":
        np.save(path, np.full((80, 40), 1e30, np.float32))
    elif kind == "max":
        np.save(path, np.full((80, 40), 3e38, np.float32))
    elif kind == "int64":
        np.save(path, frames.astype(np.int64))
    elif kind == "text":
        path = tmp_path / "mel.txt"
        path.write_text("0.1 0.2 0.3\n")
    return path


@pytest.mark.parametrize("kind, message", [("huge", "value range"), ("max", "value range"), ("int64", "int64"),
                                           ("text", "not a mel file")])
def test_absurd_mels_are_an_error_naming_the_file(exports, tmp_path, capsys, kind, message):
    mel = _mel_file(tmp_path, kind)
    line = _one_error(["vocode", str(exports["voc"]), "--mel", str(mel), "-o", str(tmp_path / "o.wav")], capsys)
    assert str(mel) in line and message in line and "pickled" not in line, line
    assert not (tmp_path / "o.wav").exists()


def test_a_malformed_mel_statistics_entry_in_an_export_is_one_error(exports, tmp_path, capsys):
    import json
    import shutil
    run = tmp_path / "voc"
    shutil.copytree(exports["voc"], run)
    info = json.loads((run / "generator.json").read_text())
    info.setdefault("meta", {})["mel_stats"] = {"mean": "x", "min": [1, 2]}
    (run / "generator.json").write_text(json.dumps(info))
    line = _one_error(["vocode", str(run), str(exports["ok"]), "-o", str(tmp_path / "o.wav")], capsys)
    assert "mel_stats" in line and str(run) in line, line


def _hifigan_reference(tmp_path: Path) -> tuple[Path, Path]:
    from test_checkpoint_import import TINY, write_reference
    ref = tmp_path / "ref"
    write_reference(ref, TINY)
    return ref / "g_00001000", ref / "config.json"


@pytest.mark.parametrize("key, value", [("upsample_initial_channel", 32.7), ("hop_size", "256"), ("hop_size", True),
                                        ("num_mels", -80), ("upsample_rates", [8, 8, 4.5])])
def test_imported_hifigan_configs_are_checked_as_strictly_as_our_own(tmp_path, capsys, key, value):
    import json
    g, conf = _hifigan_reference(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(conf.read_text()), key: value}))
    line = _one_error(["import-checkpoint", "hifigan", "--generator", str(g), "--config", str(bad), "--out",
                       str(tmp_path / "out")], capsys)
    assert str(bad) in line and key in line and not (tmp_path / "out").exists(), line
    if key == "num_mels":
        assert "keys upsample_rates" not in line


def test_an_import_with_nan_weights_is_refused(tmp_path, capsys):
    import torch
    g, conf = _hifigan_reference(tmp_path)
    state = torch.load(g, weights_only=True)
    state["generator"] = {k: torch.full_like(v, float("nan")) for k, v in state["generator"].items()}
    torch.save(state, g)
    line = _one_error(["import-checkpoint", "hifigan", "--generator", str(g), "--config", str(conf), "--out",
                       str(tmp_path / "out")], capsys)
    assert str(g) in line and "non-finite" in line and not (tmp_path / "out").exists(), line


@pytest.mark.parametrize("edit, key", [("dim=16.9", "dim"), ("init_args=list", "init_args"),
                                       ("init_args=string", "init_args"), ("nan", "non-finite")])
def test_imported_vocos_configs_and_weights_are_checked(tmp_path, capsys, edit, key):
    import torch
    import yaml
    from test_vocos_import import write_vocos
    state = write_vocos(tmp_path / "ref")
    model, config = tmp_path / "ref" / "pytorch_model.bin", tmp_path / "ref" / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    if edit == "dim=16.9":
        cfg["backbone"]["init_args"]["dim"] = 16.9
    elif edit.startswith("init_args"):
        cfg["backbone"]["init_args"] = [1, 2] if edit.endswith("list") else "dim=16"
    else:
        torch.save({k: torch.full_like(v, float("nan")) for k, v in state.items()}, model)
    config.write_text(yaml.safe_dump(cfg))
    line = _one_error(["import-checkpoint", "vocos", "--model", str(model), "--config", str(config), "--out",
                       str(tmp_path / "out")], capsys)
    assert key in line and not (tmp_path / "out").exists(), line
