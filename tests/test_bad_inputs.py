"""Bad input, table-driven: every case exits with status 2 and one `error:` line naming the culprit, no
traceback, and an existing run directory is left as it was. (The toy recipe and the core's config layer;
the audio and text recipes have their own refusal tests beside their data loaders.)"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

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
