"""Tests of multigan.config (typed dataclass loading, overrides), TrainConfig.validate and the recipe layer."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from multigan import ConfigError, MultiganError, TrainConfig
from multigan import config as C
from multigan.checkpoint import save_checkpoint
from multigan.recipe import RunDirError, prepare_run_dir, resolve_config

TOY_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "toy_ring.py"


@dataclass
class Model:
    width: int = 8
    dims: tuple[int, ...] = (4,)
    act: Literal["relu", "gelu"] = "relu"
    scale: float = 1.0
    pair: tuple[float, int] = (0.5, 2)
    init: str | None = None


@dataclass
class Cfg:
    model: Model = field(default_factory=Model)
    train: TrainConfig = field(default_factory=TrainConfig)


def _error(exc_info) -> str:
    return str(exc_info.value)


# --- from_dict ------------------------------------------------------------------------------------------------

def test_defaults_and_nested_values():
    cfg = C.from_dict(Cfg, {"model": {"width": 16, "dims": [1, 2, 3]}, "train": {"loss": "hinge", "n_critic": 2}})
    assert cfg.model.width == 16 and cfg.model.dims == (1, 2, 3) and isinstance(cfg.model.dims, tuple)
    assert cfg.model.act == "relu" and cfg.model.init is None
    assert cfg.train.loss == "hinge" and cfg.train.n_critic == 2 and cfg.train.batch_size == 64
    assert C.from_dict(Cfg, {}) == Cfg()
    # round trip through plain data (tuples -> lists -> tuples)
    plain = C.to_dict(cfg)
    assert plain["model"]["dims"] == [1, 2, 3] and plain["train"]["betas"] == [0.5, 0.999]
    assert C.from_dict(Cfg, plain) == cfg


def test_unknown_top_level_key_names_it_and_lists_valid_keys():
    with pytest.raises(ConfigError) as exc:
        C.from_dict(Cfg, {"trian": {}})
    msg = _error(exc)
    assert "trian" in msg
    assert "valid keys here: model, train" in msg


def test_unknown_nested_key_names_it_with_its_prefix():
    with pytest.raises(ConfigError) as exc:
        C.from_dict(Cfg, {"train": {"lr": 1e-3}})
    msg = _error(exc)
    assert "train.lr" in msg
    valid = msg.split("valid keys here:")[1]
    for name in ("train.g_lr", "train.d_lr", "train.max_steps", "train.loss"):
        assert name in valid
    assert isinstance(exc.value, MultiganError) and isinstance(exc.value, ValueError)


def test_several_unknown_keys_all_named():
    with pytest.raises(ConfigError, match=r"unknown config keys model\.a, model\.b"):
        C.from_dict(Cfg, {"model": {"b": 1, "a": 2}})


def test_invalid_literal_lists_choices():
    with pytest.raises(ConfigError) as exc:
        C.from_dict(Cfg, {"train": {"loss": "foo"}})
    msg = _error(exc)
    assert msg.startswith("train.loss:") and "'foo'" in msg
    for name in ("'ns'", "'hinge'", "'lsgan'", "'wgan'", "'rpgan'"):
        assert name in msg
    with pytest.raises(ConfigError, match=r"model\.act: invalid value 'tanh'; valid choices: 'relu', 'gelu'"):
        C.from_dict(Cfg, {"model": {"act": "tanh"}})


def test_yaml_bool_spelling_of_a_literal_choice():
    """YAML reads a bare `no` as False: `train.mixed_precision=no` must still mean "no"."""
    cfg = C.from_dict(Cfg, C.parse_overrides(["train.mixed_precision=no"]))
    assert cfg.train.mixed_precision == "no"
    with pytest.raises(ConfigError, match=r"train\.loss: invalid value False"):
        C.from_dict(Cfg, C.parse_overrides(["train.loss=no"]))


@pytest.mark.parametrize("data, pattern", [
    ({"train": {"batch_size": "64"}}, r"train\.batch_size: expected an integer, got '64'"),
    ({"train": {"batch_size": 3.5}}, r"train\.batch_size: expected an integer"),
    ({"train": {"batch_size": True}}, r"train\.batch_size: expected an integer"),
    ({"train": {"g_lr": True}}, r"train\.g_lr: expected a number, got True"),
    ({"train": {"g_lr": "fast"}}, r"train\.g_lr: expected a number"),
    ({"train": {"progress": 1}}, r"train\.progress: expected true or false"),
    ({"train": {"early_stop_metric": 3}}, r"train\.early_stop_metric: expected a string"),
    ({"model": {"dims": 4}}, r"model\.dims: expected a list"),
    ({"model": {"dims": [1, "x"]}}, r"model\.dims\[1\]: expected an integer"),
    ({"model": 5}, r"model: expected a mapping of Model fields"),
])
def test_wrong_types(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        C.from_dict(Cfg, data)


def test_tuple_length():
    with pytest.raises(ConfigError, match=r"train\.betas: expected 2 values, got 1"):
        C.from_dict(Cfg, {"train": {"betas": [0.5]}})
    with pytest.raises(ConfigError, match=r"train\.betas: expected 2 values, got 3"):
        C.from_dict(Cfg, {"train": {"betas": [0.5, 0.9, 0.99]}})
    with pytest.raises(ConfigError, match=r"model\.pair\[1\]: expected an integer"):
        C.from_dict(Cfg, {"model": {"pair": [1, 0.5]}})
    cfg = C.from_dict(Cfg, {"train": {"betas": [0, 0]}, "model": {"pair": [1, 3]}})
    assert cfg.train.betas == (0.0, 0.0) and all(type(b) is float for b in cfg.train.betas)
    assert cfg.model.pair == (1.0, 3) and type(cfg.model.pair[0]) is float and type(cfg.model.pair[1]) is int


def test_int_to_float_and_integral_float_to_int():
    cfg = C.from_dict(Cfg, {"train": {"g_lr": 1, "max_steps": 500.0}, "model": {"scale": 2}})
    assert cfg.train.g_lr == 1.0 and type(cfg.train.g_lr) is float
    assert cfg.model.scale == 2.0 and type(cfg.model.scale) is float
    assert cfg.train.max_steps == 500 and type(cfg.train.max_steps) is int


def test_optional_field():
    assert C.from_dict(Cfg, {"model": {"init": None}}).model.init is None
    assert C.from_dict(Cfg, {"model": {"init": "runs/a"}}).model.init == "runs/a"
    with pytest.raises(ConfigError, match=r"model\.init: expected a string"):
        C.from_dict(Cfg, {"model": {"init": 3}})


# --- overrides --------------------------------------------------------------------------------------------------

def test_parse_overrides_nests_and_parses_yaml_values():
    out = C.parse_overrides(["train.max_steps=20", "model.dims=[1,2]", "train.loss=hinge",
                             "train.early_stop_metric=", "train.progress=false", "model.scale=0.5"])
    assert out == {"train": {"max_steps": 20, "loss": "hinge", "early_stop_metric": "", "progress": False},
                   "model": {"dims": [1, 2], "scale": 0.5}}
    cfg = C.from_dict(Cfg, out)
    assert cfg.model.dims == (1, 2) and cfg.train.max_steps == 20


def test_parse_overrides_value_may_contain_equals():
    assert C.parse_overrides(["train.early_stop_metric=a=b"]) == {"train": {"early_stop_metric": "a=b"}}


def test_parse_overrides_documented_example_scientific_notation():
    out = C.parse_overrides(["train.g_lr=1e-4", "model.dims=[1,2]"])
    assert out == {"train": {"g_lr": 1e-4}, "model": {"dims": [1, 2]}}
    assert C.from_dict(Cfg, out).train.g_lr == pytest.approx(1e-4)


def test_yaml_file_scientific_notation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  g_lr: 1e-4\n")
    assert C.from_dict(Cfg, C.load_yaml(path)).train.g_lr == pytest.approx(1e-4)


@pytest.mark.parametrize("pair, pattern", [
    ("train.g_lr", "not of the form key=value"),
    ("train..g_lr=1", "empty key"),
    ("=3", "empty key"),
    ("train.=3", "empty key"),
])
def test_malformed_override(pair, pattern):
    with pytest.raises(ConfigError, match=pattern) as exc:
        C.parse_overrides([pair])
    assert repr(pair) in str(exc.value)


def test_conflicting_overrides():
    with pytest.raises(ConfigError, match="conflicts"):
        C.parse_overrides(["train=1", "train.max_steps=2"])


def test_merge_and_diff():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    merged = C.merge(base, {"a": {"c": 5}, "e": 6})
    assert merged == {"a": {"b": 1, "c": 5}, "d": 3, "e": 6}
    assert base == {"a": {"b": 1, "c": 2}, "d": 3}  # not mutated
    assert C.diff(base, merged) == ["a.c", "e"]
    assert C.diff(base, base) == []


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        C.load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        C.load_yaml(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty"):  # an empty file is a mistake, not "no changes"
        C.load_yaml(empty)


# --- TrainConfig.validate ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, pattern", [
    ({"patience": 3}, r"train\.patience is set but train\.early_stop_metric is empty"),
    ({"n_critic": 0}, r"train\.n_critic must be >= 1, got 0"),
    ({"batch_size": 0}, r"train\.batch_size must be >= 1"),
    ({"ema_decay": 1.0}, r"train\.ema_decay must be in \[0, 1\), got 1\.0"),
    ({"ema_decay": -0.1}, r"train\.ema_decay must be in \[0, 1\)"),
    ({"lr_decay": 0.0}, r"train\.lr_decay must be in \(0, 1\]"),
    ({"r1_gamma": -1.0}, r"train\.r1_gamma must be >= 0"),
    ({"reuse_fakes": True, "n_critic": 2}, r"train\.reuse_fakes needs train\.n_critic=1"),
    ({"early_stop_metric": "fid", "val_every": 0}, r"train\.early_stop_metric needs validation"),
])
def test_train_config_validate_rules(values, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig(**values).validate()
    # from_dict runs validate too, nested under train. (and does not double the prefix)
    with pytest.raises(ConfigError, match=pattern) as exc:
        C.from_dict(Cfg, {"train": values})
    assert not str(exc.value).startswith("train.train.")


@pytest.mark.parametrize("values", [
    {},
    {"patience": 3, "early_stop_metric": "fid", "early_stop_mode": "min"},
    {"reuse_fakes": True, "n_critic": 1},
    {"mixed_precision": "fp16", "device": "cuda"},
    {"mixed_precision": "bf16", "device": "cpu"},
    {"ema_decay": 0.0},
])
def test_train_config_valid_combinations(values):
    TrainConfig(**values).validate()
    assert C.from_dict(TrainConfig, values) == TrainConfig(**values)


# --- recipe: resolve_config and prepare_run_dir -----------------------------------------------------------------

def test_resolve_config_layering(tmp_path):
    preset = {"train": {"max_steps": 100, "g_lr": 0.1, "d_lr": 0.1, "loss": "hinge"}, "model": {"width": 2}}
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("train:\n  max_steps: 200\n  d_lr: 0.2\n  n_critic: 3\nmodel:\n  width: 3\n")
    cfg = resolve_config(Cfg, preset, str(yaml_file), ["train.max_steps=300", "train.n_critic=4"], 400)
    assert cfg.train.max_steps == 400  # --max-steps wins over everything
    assert cfg.train.n_critic == 4  # override beats yaml
    assert cfg.train.d_lr == 0.2 and cfg.model.width == 3  # yaml beats preset
    assert cfg.train.g_lr == 0.1 and cfg.train.loss == "hinge"  # preset beats defaults
    assert cfg.train.batch_size == 64 and cfg.model.act == "relu"  # defaults
    cfg2 = resolve_config(Cfg, preset, str(yaml_file), ["train.max_steps=300"], None)
    assert cfg2.train.max_steps == 300
    assert resolve_config(Cfg, preset, None, [], None).train.max_steps == 100


def test_resolve_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.los"):
        resolve_config(Cfg, {}, None, ["train.los=ns"], None)
    with pytest.raises(ConfigError, match=r"unknown config key model\.wdith"):
        resolve_config(Cfg, {"model": {"wdith": 3}}, None, [], None)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(Cfg, {}, str(tmp_path / "nope.yaml"), [], None)


def _data(**train) -> dict:
    return C.to_dict(C.from_dict(Cfg, {"train": train}))


def test_prepare_run_dir_new_and_same_config(tmp_path):
    out = tmp_path / "run"
    data = _data(max_steps=10)
    assert prepare_run_dir(out, data, resume=False, overwrite=False) == data
    assert C.load_yaml(out / "config.yaml") == data
    # the same config again and no checkpoints: fine
    prepare_run_dir(out, data, resume=False, overwrite=False)


def test_prepare_run_dir_refuses_different_config(tmp_path):
    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=10), resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 5, {"x": 1})
    with pytest.raises(RunDirError) as exc:
        prepare_run_dir(out, _data(max_steps=10, g_lr=0.5), resume=False, overwrite=False)
    msg = str(exc.value)
    assert "train.g_lr" in msg and "train.max_steps" not in msg
    assert "--resume" in msg and "--overwrite" in msg
    assert isinstance(exc.value, MultiganError)
    assert C.load_yaml(out / "config.yaml")["train"]["g_lr"] == TrainConfig().g_lr  # untouched


def test_a_failed_attempt_does_not_block_the_corrected_rerun(tmp_path):
    """A directory with a config but no checkpoint or export is not a run to protect."""
    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=10, g_lr=0.5), resume=False, overwrite=False)
    assert prepare_run_dir(out, _data(max_steps=10), resume=False, overwrite=False) == _data(max_steps=10)
    assert C.load_yaml(out / "config.yaml")["train"]["g_lr"] == TrainConfig().g_lr
    (out / "export").mkdir()  # but an export is protected
    with pytest.raises(RunDirError, match="train.g_lr"):
        prepare_run_dir(out, _data(max_steps=10, g_lr=0.5), resume=False, overwrite=False)


@pytest.mark.parametrize("make", [lambda out: None, lambda out: out.mkdir()])
def test_resume_with_nothing_to_resume_is_an_error(tmp_path, make):
    out = tmp_path / "run"
    make(out)
    with pytest.raises(RunDirError, match="--resume: .* holds no run to continue"):
        prepare_run_dir(out, _data(max_steps=10), resume=True, overwrite=False)
    assert not (out / "config.yaml").exists()


def test_resume_refuses_max_steps_below_the_reached_step(tmp_path):
    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=500), resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 500, {"x": 1})
    with pytest.raises(RunDirError, match="max_steps=100 is below step 500"):
        prepare_run_dir(out, _data(max_steps=100), resume=True, overwrite=False)
    assert C.load_yaml(out / "config.yaml")["train"]["max_steps"] == 500


def test_run_dir_lock_names_the_other_process(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=10), resume=False, overwrite=False)  # this process holds the lock
    code = ("import sys; from pathlib import Path; from multigan.recipe import lock_run_dir, RunDirError\n"
            "try:\n    lock_run_dir(Path(sys.argv[1]))\nexcept RunDirError as e:\n    print(e); sys.exit(2)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and f"PID {os.getpid()}" in proc.stdout, proc.stdout + proc.stderr


def test_prepare_run_dir_refuses_existing_checkpoints(tmp_path):
    out = tmp_path / "run"
    data = _data(max_steps=10)
    prepare_run_dir(out, data, resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 5, {"x": 1})
    with pytest.raises(RunDirError, match="checkpoints already.*--resume.*--overwrite"):
        prepare_run_dir(out, data, resume=False, overwrite=False)
    assert prepare_run_dir(out, data, resume=True, overwrite=False) == data


def test_prepare_run_dir_resume_rules(tmp_path):
    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=10), resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 5, {"x": 1})
    with pytest.raises(RunDirError) as exc:
        prepare_run_dir(out, _data(max_steps=20, d_lr=0.5), resume=True, overwrite=False)
    msg = str(exc.value)
    assert "--resume" in msg and "train.d_lr" in msg and "train.max_steps" not in msg
    # only run-length keys changed: allowed, and the saved config is updated
    longer = _data(max_steps=20, progress=False)
    assert prepare_run_dir(out, longer, resume=True, overwrite=False) == longer
    assert C.load_yaml(out / "config.yaml")["train"]["max_steps"] == 20


def test_prepare_run_dir_overwrite_clears(tmp_path):
    out = tmp_path / "run"
    prepare_run_dir(out, _data(max_steps=10), resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 5, {"x": 1})
    (out / "export").mkdir()
    (out / "export" / "generator.json").write_text("{}")
    (out / "metrics.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    (out / "samples" / "step-5").mkdir(parents=True)
    (out / "split.json").write_text("{}")
    new = _data(max_steps=10, g_lr=0.5)
    prepare_run_dir(out, new, resume=False, overwrite=True, outputs=("samples", "split.json"))
    assert not (out / "checkpoints").exists()
    assert not (out / "export").exists() and not (out / "metrics.json").exists()
    assert not (out / "samples").exists() and not (out / "split.json").exists()  # the recipe's declared outputs
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files go
    assert C.load_yaml(out / "config.yaml") == new


# --- the toy recipe's command line -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_recipe():
    name = "_toy_ring_recipe_under_test"
    spec = importlib.util.spec_from_file_location(name, TOY_RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve string annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_toy_recipe_bad_override_exits_2(toy_recipe, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        toy_recipe.main(["--out", str(out), "train.loss=foo"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert "train.loss" in lines[0] and "'foo'" in lines[0]
    for name in ("ns", "hinge", "lsgan", "wgan", "rpgan"):
        assert repr(name) in lines[0]
    assert "Traceback" not in err
    assert not out.exists()  # nothing written for a bad config


def test_toy_recipe_unknown_key_exits_2(toy_recipe, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        toy_recipe.main(["--out", str(tmp_path / "run"), "train.n_critc=2"])
    assert exc.value.code == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "train.n_critc" in lines[0] and "train.n_critic" in lines[0]


def test_toy_recipe_run_dir_refusals(toy_recipe, tmp_path, capsys):
    out = tmp_path / "run"
    cfg = resolve_config(toy_recipe.ToyRingConfig, toy_recipe.PRESETS["cpu"], None, [], None)
    prepare_run_dir(out, C.to_dict(cfg), resume=False, overwrite=False)
    save_checkpoint(out / "checkpoints", 5, {"x": 1})
    with pytest.raises(SystemExit) as exc:
        toy_recipe.main(["--out", str(out), "train.d_lr=0.5"])
    assert exc.value.code == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "train.d_lr" in lines[0] and "--resume" in lines[0] and "--overwrite" in lines[0]
    with pytest.raises(SystemExit) as exc:
        toy_recipe.main(["--out", str(out), "--resume", "train.d_lr=0.5"])
    assert exc.value.code == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "--resume" in lines[0] and "train.d_lr" in lines[0]
    assert C.load_yaml(out / "config.yaml") == C.to_dict(cfg)


def test_toy_recipe_resume_and_overwrite_are_exclusive(toy_recipe, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        toy_recipe.main(["--out", str(tmp_path / "run"), "--resume", "--overwrite"])
    assert exc.value.code == 2  # argparse's usage error
    assert "not allowed with" in capsys.readouterr().err
