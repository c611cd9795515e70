"""Two processes under torchrun (gloo on the CPU): same weights on every rank, each rank its own noise,
DDP-correct accumulation with reused fakes, exact N-process resume; the recipe runs unchanged."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_multi_process_semantics(tmp_path):
    torchrun(str(ROOT / "tests" / "helpers" / "ddp_checks.py"), str(tmp_path))
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys()
    # every rank draws its own noise (one seed on all ranks would make D see one fake batch twice)
    assert a["noise/first"].shape == b["noise/first"].shape
    assert not torch.allclose(a["noise/first"], b["noise/first"]), "both ranks drew the same noise"
    # reused fakes + accumulation: the whole accumulated G gradient is all-reduced, the ranks stay identical
    for loss in ("ns", "hinge", "rpgan"):
        keys = [k for k in a if k.startswith(f"reuse_{loss}/")]
        assert any("/E." in k for k in keys) and any("/D." in k for k in keys)
        diverged = [k for k in keys if not torch.equal(a[k], b[k])]
        assert not diverged, f"{loss}: ranks differ after reuse_fakes + grad_accum 2: {diverged[:3]}"
    # a 2-process run interrupted at step 5 and resumed with 2 processes ends as the uninterrupted one
    for weights in (a, b):
        resumed = {k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith("resumed/")}
        full = {k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith("full/")}
        assert resumed.keys() == full.keys() and resumed
        assert all(torch.equal(full[k], resumed[k]) for k in full), "the resumed 2-process run differs"
    infos = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["step"] for i in infos] == [8, 8] and [i["world_size"] for i in infos] == [2, 2]
    # 8 iterations x 1 D phase x 2 micro-batches per rank, each rank on its own half of the data
    assert infos[0]["data"] == {"epoch": 0, "position": 16}


def test_toy_recipe_runs_under_torchrun(tmp_path):
    out = tmp_path / "toy"
    torchrun(str(ROOT / "recipes" / "toy_ring.py"), "--out", str(out), "--max-steps", "20",
             "train.val_every=10", "train.ckpt_every=10", "data.eval_samples=1000", "train.progress=false")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 20
    assert (out / "export" / "generator.safetensors").is_file()
    assert (out / "checkpoints" / "step-00000020" / "state.json").is_file()
    state = json.loads((out / "checkpoints" / "step-00000020" / "state.json").read_text())
    assert len(state["rng"]) == 2, "each rank's RNG state must be saved"
