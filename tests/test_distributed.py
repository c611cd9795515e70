"""Two processes under torchrun (gloo on the CPU): same weights on every rank; the recipe runs unchanged."""
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


def test_two_processes_end_with_identical_weights(tmp_path):
    torchrun(str(ROOT / "tests" / "helpers" / "ddp_toy.py"), str(tmp_path))
    infos = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world_size"] for i in infos] == [2, 2]
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("E.") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), "ranks diverged"
    # 6 iterations x 1 D phase x 2 micro-batches per rank, each rank on its own half of the data
    assert infos[0]["data"] == {"epoch": 0, "position": 12}


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
