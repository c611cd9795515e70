"""Interrupted-and-resumed training ends bit-identical to an uninterrupted run; init-from is separate."""
from __future__ import annotations

import pytest
import torch

import multigan
from multigan.checkpoint import list_checkpoints
from multigan.toy import RingDataset, RingDiscriminator, RingGenerator, first_item


class RandomShiftRing(RingDataset):
    """Ring points plus per-item random jitter from torch's RNG: exercises the data RNG on resume."""

    def __getitems__(self, indices):
        return [{"real": self.points[indices] + 0.01 * torch.randn(len(indices), 2)}]


def build(run_dir, max_steps: int) -> multigan.Trainer:
    torch.manual_seed(123)
    cfg = multigan.TrainConfig(max_steps=max_steps, batch_size=16, grad_accum=2, n_critic=2, loss="rpgan",
                               r1_gamma=1.0, reg_every=3, lr_schedule="exponential", lr_decay=0.9,
                               ema_decay=0.8, val_every=5, ckpt_every=7, keep_last=2, progress=False, device="cpu",
                               early_stop_metric="m", early_stop_mode="max")
    cfg.validate()

    def validate(ctx):
        return {"m": float(ctx.generator.generate(64, seed=0).norm(dim=1).mean())}

    return multigan.Trainer(RingGenerator(4, 16, 2), RingDiscriminator(16, 2), cfg, RandomShiftRing(100, seed=1),
                            run_dir, validate=validate, collate_fn=first_item)


def flat_state(t: multigan.Trainer) -> dict[str, torch.Tensor]:
    state = {f"G.{k}": v for k, v in t.G.state_dict().items()}
    state |= {f"D.{k}": v for k, v in t.D.state_dict().items()}
    state |= {f"E.{k}": v for k, v in t.ema.state_dict().items()}
    for name, opt in (("og", t.opt_g), ("od", t.opt_d)):
        for pid, s in opt.state_dict()["state"].items():
            state |= {f"{name}.{pid}.{k}": torch.as_tensor(v) for k, v in s.items()}
    return state


def test_resume_is_bit_identical(tmp_path):
    full = build(tmp_path / "full", 20)
    full.fit()

    first = build(tmp_path / "split", 12)  # stops after step 12: its last checkpoint is step 12
    first.fit()
    assert [s for s, _ in list_checkpoints(tmp_path / "split" / "checkpoints")][-1] == 12
    torch.manual_seed(999)  # the resumed process starts from a different RNG state: resume must restore it
    second = build(tmp_path / "split", 20)
    second.fit(resume=True)

    a, b = flat_state(full), flat_state(second)
    assert a.keys() == b.keys()
    diffs = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diffs, f"resumed run differs in {diffs[:5]}"
    assert second.step == 20 and second.source.state_dict() == full.source.state_dict()
    assert second.sched_g.get_last_lr() == full.sched_g.get_last_lr()
    assert second.stopper.state_dict() == full.stopper.state_dict()


def test_init_from_loads_weights_with_fresh_optimizers(tmp_path):
    src = build(tmp_path / "src", 6)
    src.fit()
    dst = build(tmp_path / "dst", 6)
    used = dst.init_weights_from(tmp_path / "src")
    assert used.name == "step-00000006"
    assert all(torch.equal(a, b) for a, b in zip(src.G.state_dict().values(), dst.G.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(src.D.state_dict().values(), dst.D.state_dict().values()))
    assert dst.step == 0 and dst.opt_g.state_dict()["state"] == {}


def test_resume_repairs_what_a_crash_left(tmp_path):
    """Killed between the best checkpoint and its export, mid-write and after a validation row: the resumed
    run drops the staging folders and the rows of steps it re-runs, and re-exports the best checkpoint."""
    import json

    from safetensors.torch import load_file

    full = build(tmp_path / "full", 20)
    full.fit()
    run = tmp_path / "split"
    build(run, 12).fit()
    export_file = run / "export" / "generator.safetensors"
    good = load_file(str(export_file))
    best_step = json.loads((run / "export" / "generator.json").read_text())["meta"]["step"]
    # the crash: a stale export (older step, other weights), a staging folder, a row of a step after the checkpoint
    meta = json.loads((run / "export" / "generator.json").read_text())
    meta["meta"]["step"] = 0
    (run / "export" / "generator.json").write_text(json.dumps(meta))
    from safetensors.torch import save_file
    save_file({k: torch.zeros_like(v) for k, v in good.items()}, str(export_file))
    (run / ".export.tmp-abc123").mkdir()
    (run / "checkpoints" / ".step-00000014.tmp-xyz").mkdir()
    with (run / "validation.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 15, "m": 0.0}) + "\n" + '{"step": 1')  # and a half-written line

    torch.manual_seed(999)
    resumed = build(run, 12)
    resumed.fit(resume=True)  # nothing left to train: only the repair
    assert not list(run.glob(".export.tmp-*")) and not list((run / "checkpoints").glob(".*"))
    again = load_file(str(export_file))
    assert all(torch.equal(good[k], again[k]) for k in good), "the best checkpoint was not re-exported"
    assert json.loads((run / "export" / "generator.json").read_text())["meta"]["step"] == best_step

    resumed = build(run, 20)
    resumed.fit(resume=True)
    assert (run / "validation.jsonl").read_text() == (tmp_path / "full" / "validation.jsonl").read_text()


def test_resume_may_change_only_the_keys_that_do_not_change_results(tmp_path):
    """Core keys (train.max_steps, ...) and a recipe's own ``resumable`` keys (the vocoder recipes: how the
    same clips are read) may change on --resume; anything else is refused, naming the key."""
    from multigan.config import save_yaml
    from multigan.recipe import RunDirError, prepare_run_dir

    out = tmp_path / "run"
    out.mkdir()
    saved = {"data": {"path": "clips", "in_memory": False}, "train": {"max_steps": 10}}
    save_yaml(saved, out / "config.yaml")
    wider = {"data": {"path": "clips", "in_memory": True}, "train": {"max_steps": 20}}
    prepare_run_dir(out, wider, resume=True, overwrite=False, resumable=("data.in_memory",))
    save_yaml(saved, out / "config.yaml")
    with pytest.raises(RunDirError, match=r"data.in_memory\b"):
        prepare_run_dir(out, wider, resume=True, overwrite=False)
    with pytest.raises(RunDirError, match=r"data.path\b"):
        prepare_run_dir(out, {**wider, "data": {"path": "other", "in_memory": True}}, resume=True, overwrite=False,
                        resumable=("data.in_memory",))
