"""Tests of multigan.checkpoint (pickle-free state, atomic folders, pruning) and multigan.load."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

import multigan
import multigan.checkpoint as ckpt
from multigan import rng
from multigan.checkpoint import (
    CheckpointError, export_generator, flatten_state, list_checkpoints, load_checkpoint, prune_checkpoints,
    save_checkpoint, unflatten_state,
)
from multigan.generator import ExportableGenerator
from multigan.toy import RingGenerator


def assert_same(a, b, path="state"):
    """Deep equality with exact tensor/array comparison and type checks (tuple stays tuple, int keys stay int)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert type(k) is type(next(kk for kk in b if kk == k)), f"{path}: key {k!r}"
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}/{i}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, path


def nested_state() -> dict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "model": {"w": base, "b": torch.arange(3, dtype=torch.int64), "half": torch.ones(2, dtype=torch.bfloat16)},
        "view": base.t(),  # non-contiguous
        "same": base,  # the same tensor twice
        "scalar": torch.tensor(2.5),
        "mask": torch.tensor([True, False]),
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "iarray": np.array([[1, 2], [3, 4]], dtype=np.int64)[:, ::-1],  # non-contiguous
        "u32": np.array([1, 2**32 - 1], dtype=np.uint32),
        "opt": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}, 7: {}},
                "param_groups": [{"params": [0, 7], "betas": (0.5, 0.999), "lr": 1e-3, "foreach": None}]},
        "tuple": (1, "two", (3.0, None)),
        "floats": [0.1, float("inf"), float("-inf"), float("nan"), -0.0],
        "none": None,
        "flags": [True, False],
        "np_scalars": [np.int64(5), np.float32(0.5)],
        "text": "héllo",
        "empty": {},
        "empty_list": [],
    }


def test_flatten_unflatten_round_trip():
    state = nested_state()
    skeleton, tensors = flatten_state(state)
    json_text = json.dumps(skeleton)  # the skeleton is plain JSON
    back = unflatten_state(json.loads(json_text), tensors)
    expected = dict(state)
    expected["np_scalars"] = [5, 0.5]  # numpy scalars become Python numbers
    assert_same(expected, back)
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    assert all(v.is_contiguous() for v in tensors.values())


def test_flatten_copies_tensors():
    t = torch.zeros(3)
    _, tensors = flatten_state({"t": t})
    t += 1
    assert torch.equal(next(iter(tensors.values())), torch.zeros(3))


def test_flatten_rejects_unknown_objects():
    with pytest.raises(TypeError, match=r"cannot store a object at '/bad/0'"):
        flatten_state({"bad": [object()]})


def test_user_dict_with_reserved_key_round_trips():
    state = {"__items__": 1, "x": torch.ones(1)}
    skeleton, tensors = flatten_state(state)
    assert_same(state, unflatten_state(json.loads(json.dumps(skeleton)), tensors))


def test_keys_with_slashes_do_not_collide(tmp_path):
    state = {"a/b": torch.ones(1), "a": {"b": torch.zeros(1)}}
    back = load_checkpoint(save_checkpoint(tmp_path, 1, state))
    assert_same(state, back)


def test_save_load_checkpoint_round_trip(tmp_path):
    state = nested_state()
    path = save_checkpoint(tmp_path / "ckpts", 12, state)
    assert path == tmp_path / "ckpts" / "step-00000012"
    assert sorted(p.name for p in path.iterdir()) == ["state.json", "tensors.safetensors"]
    back = load_checkpoint(path)
    expected = dict(state)
    expected["np_scalars"] = [5, 0.5]
    assert_same(expected, back)


def test_rng_states_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    path = save_checkpoint(tmp_path, 1, {"rng": rng.capture()})
    want = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    rng.restore(load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == want


def _adam_run(model, opt, steps, start):
    for i in range(start, start + steps):
        g = torch.Generator().manual_seed(100 + i)
        x, y = torch.randn(8, 3, generator=g), torch.randn(8, 2, generator=g)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _adam_pair(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.9), weight_decay=0.01)
    return model, opt


def test_adam_resume_matches_uninterrupted_run(tmp_path):
    model, opt = _adam_pair()
    _adam_run(model, opt, 6, 0)
    straight = {k: v.clone() for k, v in model.state_dict().items()}

    model, opt = _adam_pair()
    _adam_run(model, opt, 3, 0)
    path = save_checkpoint(tmp_path, 3, {"model": model.state_dict(), "opt": opt.state_dict(), "step": 3})
    del model, opt

    state = load_checkpoint(path)
    assert state["step"] == 3
    assert set(state["opt"]["state"]) == {0, 1}  # int keys survive
    assert isinstance(state["opt"]["param_groups"][0]["betas"], tuple)
    model, opt = _adam_pair(seed=123)  # different init: everything must come from the checkpoint
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    _adam_run(model, opt, 3, 3)
    resumed = model.state_dict()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k
    # the optimiser really carried state: resuming with a fresh Adam gives different weights
    model2, opt2 = _adam_pair(seed=123)
    model2.load_state_dict(state["model"])
    _adam_run(model2, opt2, 3, 3)
    assert not torch.equal(model2.weight, straight["weight"])


# --- atomic folders -------------------------------------------------------------------------------------------

def _failing_save_file(tensors, filename, *args, **kwargs):
    with open(filename, "wb") as fh:
        fh.write(b"partial")
    raise OSError("disk full (simulated)")


def test_failed_save_leaves_no_folder(tmp_path, monkeypatch):
    root = tmp_path / "ckpts"
    first = save_checkpoint(root, 1, {"x": torch.ones(2)})
    monkeypatch.setattr(ckpt, "save_file", _failing_save_file)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(root, 2, {"x": torch.zeros(2)})
    assert list_checkpoints(root) == [(1, first)]
    assert sorted(p.name for p in root.iterdir()) == ["step-00000001"]  # no temp folder left
    assert torch.equal(load_checkpoint(list_checkpoints(root)[-1][1])["x"], torch.ones(2))


def test_failed_rewrite_of_a_step_keeps_the_old_one(tmp_path, monkeypatch):
    root = tmp_path / "ckpts"
    save_checkpoint(root, 4, {"x": torch.ones(2)})
    monkeypatch.setattr(ckpt, "save_file", _failing_save_file)
    with pytest.raises(OSError):
        save_checkpoint(root, 4, {"x": torch.zeros(2)})
    assert sorted(p.name for p in root.iterdir()) == ["step-00000004"]
    assert torch.equal(load_checkpoint(root / "step-00000004")["x"], torch.ones(2))


def test_rewrite_of_a_step_replaces_it(tmp_path):
    root = tmp_path / "ckpts"
    save_checkpoint(root, 4, {"x": torch.ones(2), "old": 1})
    save_checkpoint(root, 4, {"x": torch.zeros(2)})
    assert sorted(p.name for p in root.iterdir()) == ["step-00000004"]
    assert_same(load_checkpoint(root / "step-00000004"), {"x": torch.zeros(2)})


def test_list_checkpoints_ignores_incomplete_and_foreign_folders(tmp_path):
    root = tmp_path / "ckpts"
    assert list_checkpoints(root) == []  # missing root
    save_checkpoint(root, 3, {"a": 1})
    save_checkpoint(root, 10, {"a": 2})
    incomplete = root / "step-00000005"
    incomplete.mkdir()
    (incomplete / "tensors.safetensors").write_bytes(b"")
    (root / "step-11").mkdir()  # wrong width
    (root / ".step-00000012.tmp-abc").mkdir()
    (root / "notes.txt").write_text("x")
    assert [s for s, _ in list_checkpoints(root)] == [3, 10]
    assert list_checkpoints(root)[-1][1] == root / "step-00000010"
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        load_checkpoint(incomplete)


def test_steps_sort_numerically(tmp_path):
    for step in (100, 9, 20):
        save_checkpoint(tmp_path, step, {})
    assert [s for s, _ in list_checkpoints(tmp_path)] == [9, 20, 100]


def test_prune_keeps_last_k_and_protected(tmp_path):
    for step in range(1, 7):
        save_checkpoint(tmp_path, step, {"s": step})
    (tmp_path / ".step-00000007.tmp-xyz").mkdir()
    prune_checkpoints(tmp_path, keep_last=2, protect={2})
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 5, 6]
    assert not (tmp_path / ".step-00000007.tmp-xyz").exists()
    assert load_checkpoint(tmp_path / "step-00000002")["s"] == 2
    prune_checkpoints(tmp_path, keep_last=1)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [6]
    prune_checkpoints(tmp_path, keep_last=5, protect={6})
    assert [s for s, _ in list_checkpoints(tmp_path)] == [6]


# --- export and multigan.load --------------------------------------------------------------------------------

class ExternalGenerator(ExportableGenerator):
    """A generator defined outside multigan (in this test module)."""

    def __init__(self, dim: int = 3):
        super().__init__(dim=dim)
        self.lin = nn.Linear(dim, dim)

    def forward(self, noise, cond=None):
        return self.lin(noise)


def _ring(seed=0) -> RingGenerator:
    torch.manual_seed(seed)
    return RingGenerator(z_dim=4, hidden=8, layers=2)


def test_export_and_load_round_trip(tmp_path):
    gen = _ring()
    gen.train()
    folder = export_generator(gen, tmp_path / "run" / "export", meta={"step": 7, "recipe": "toy"})
    assert folder == tmp_path / "run" / "export"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["generator.json", "generator.safetensors"]
    assert all(p.suffix in {".json", ".safetensors"} for p in folder.rglob("*"))
    info = json.loads((folder / "generator.json").read_text())
    assert info["class"] == "multigan.toy:RingGenerator"
    assert info["config"] == {"z_dim": 4, "hidden": 8, "layers": 2}

    noise = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = gen(noise)
    for path in (tmp_path / "run", folder, str(folder)):  # a run directory or the export folder itself
        loaded = multigan.load(path)
        assert type(loaded) is RingGenerator and not loaded.training
        assert loaded.export_meta == {"step": 7, "recipe": "toy"}
        with torch.no_grad():
            assert torch.equal(loaded(noise), want)
        assert torch.equal(loaded.generate(6, seed=3), gen.eval().generate(6, seed=3))
        gen.train()


def test_export_replaces_previous_export(tmp_path):
    export_generator(_ring(0), tmp_path / "export")
    gen = _ring(1)
    export_generator(gen, tmp_path / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    noise = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.equal(multigan.load(tmp_path)(noise), gen(noise))


def test_export_needs_export_config(tmp_path):
    with pytest.raises(CheckpointError, match="export_config"):
        export_generator(nn.Linear(2, 2), tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_load_refuses_external_class(tmp_path):
    gen = ExternalGenerator(3)
    export_generator(gen, tmp_path / "export")
    with pytest.raises(CheckpointError, match="outside multigan.*allow_external=True"):
        multigan.load(tmp_path)
    loaded = multigan.load(tmp_path, allow_external=True)
    assert type(loaded) is ExternalGenerator and not loaded.training
    x = torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(loaded(x), gen(x))


def _rewrite_info(folder, **changes):
    info = json.loads((folder / "generator.json").read_text())
    info.update(changes)
    (folder / "generator.json").write_text(json.dumps(info))


def test_load_refuses_non_module_and_unknown_classes(tmp_path):
    folder = export_generator(_ring(), tmp_path / "export")
    _rewrite_info(folder, **{"class": "os:system"})
    with pytest.raises(CheckpointError, match="outside multigan"):
        multigan.load(folder)
    with pytest.raises(CheckpointError, match="not an nn.Module class"):
        multigan.load(folder, allow_external=True)
    _rewrite_info(folder, **{"class": "multigan.toy:NoSuchGenerator"})
    with pytest.raises(CheckpointError, match="cannot import generator class"):
        multigan.load(folder)
    _rewrite_info(folder, **{"class": "multigan.no_such_module:X"})
    with pytest.raises(CheckpointError, match="cannot import generator class"):
        multigan.load(folder)


def test_load_missing_or_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        multigan.load(tmp_path / "nope")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="holds no exported generator"):
        multigan.load(tmp_path / "run")
    assert issubclass(CheckpointError, multigan.MultiganError)


def test_load_detects_missing_and_unexpected_weights(tmp_path):
    from safetensors.torch import load_file, save_file
    folder = export_generator(_ring(), tmp_path / "export")
    weights = load_file(str(folder / "generator.safetensors"))
    del weights["net.0.bias"]
    save_file(weights, str(folder / "generator.safetensors"))
    with pytest.raises(CheckpointError, match=r"weights do not match.*net\.0\.bias"):
        multigan.load(folder)
    weights["net.0.bias"], weights["extra"] = torch.zeros(8), torch.zeros(1)
    save_file(weights, str(folder / "generator.safetensors"))
    with pytest.raises(CheckpointError, match=r"weights do not match.*extra"):
        multigan.load(folder)


def test_load_shape_mismatch_is_a_checkpoint_error(tmp_path):
    folder = export_generator(_ring(), tmp_path / "export")
    _rewrite_info(folder, config={"z_dim": 4, "hidden": 16, "layers": 2})
    with pytest.raises(CheckpointError, match="weights do not match"):
        multigan.load(folder)
