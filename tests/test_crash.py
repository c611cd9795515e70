"""Kill -9 at the worst moments (inside checkpoint and export writes) and at a random moment: every run
resumes with --resume, and ends bit-identical to the uninterrupted run (weights, export, validation rows).
The toy recipe at every moment; an audio recipe (WaveGAN on real FSDD clips) inside a write and mid-training."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "helpers" / "crash_worker.py"
ARGS = ["--max-steps", "30", "train.val_every=5", "train.ckpt_every=5", "train.log_every=5", "train.keep_last=2",
        "train.progress=false", "data.size=512", "data.eval_samples=200", "model.g_hidden=32", "model.d_hidden=32"]
AUDIO_ARGS = ["--max-steps", "12", "train.val_every=4", "train.ckpt_every=4", "train.log_every=4", "train.keep_last=2",
              "train.progress=false", "train.batch_size=4", "train.cpu_threads=1", "eval.enabled=false",
              "model.g_dim=4", "model.d_dim=4", "model.z_dim=8"]


def run(out: Path, *extra: str, kill_on: int = 0, kill_when: Path | None = None, recipe: str = "toy_ring",
        args: list[str] = ARGS) -> int:
    """Run the worker; SIGKILL it from outside as soon as ``kill_when`` exists (a moment during training)."""
    env = {**os.environ, "KILL_ON": str(kill_on), "OMP_NUM_THREADS": "1", "RECIPE": recipe}
    proc = subprocess.Popen([sys.executable, str(WORKER), "--out", str(out), *extra, *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill_when is not None:
        while not kill_when.exists() and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, -signal.SIGKILL), err[-3000:]
    return proc.returncode


def fingerprint(out: Path) -> dict:
    """What must match: the export's tensors, the last checkpoint's tensors, the validation rows."""
    last = sorted((out / "checkpoints").glob("step-*"))[-1]
    return {"export": load_file(str(out / "export" / "generator.safetensors")),
            "checkpoint": (last.name, load_file(str(last / "tensors.safetensors"))),
            "validation": (out / "validation.jsonl").read_text()}


def same(a: dict, b: dict) -> bool:
    (name_a, ckpt_a), (name_b, ckpt_b) = a["checkpoint"], b["checkpoint"]
    return (a["validation"] == b["validation"] and name_a == name_b
            and a["export"].keys() == b["export"].keys() and ckpt_a.keys() == ckpt_b.keys()
            and all(v.equal(b["export"][k]) for k, v in a["export"].items())
            and all(v.equal(ckpt_b[k]) for k, v in ckpt_a.items()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("crash") / "uninterrupted"
    assert run(out) == 0
    return fingerprint(out)


@pytest.mark.parametrize("kill_on", [2, 3, 6], ids=["in-export-write", "in-checkpoint-write", "later-write"])
def test_killed_inside_a_write_resumes_bit_identical(reference, tmp_path, kill_on):
    out = tmp_path / "run"
    assert run(out, kill_on=kill_on) == -signal.SIGKILL
    assert list(out.rglob(".*.tmp-*")), "the kill did not happen inside a write"
    assert run(out, "--resume") == 0
    assert not list(out.rglob(".*.tmp-*")) and not list(out.rglob(".*.old-*"))
    assert same(fingerprint(out), reference)


def test_killed_during_training_resumes_bit_identical(reference, tmp_path):
    out = tmp_path / "run"
    assert run(out, kill_when=out / "validation.jsonl") == -signal.SIGKILL  # just after the first validation
    assert run(out, "--resume") == 0
    assert same(fingerprint(out), reference)


# --- an audio recipe: WaveGAN on 40 real FSDD clips --------------------------------------------------------------

@pytest.fixture(scope="module")
def audio(tmp_path_factory, data_dir) -> tuple[list[str], dict]:
    import shutil
    source = data_dir / "fsdd" / "recordings"
    if not source.is_dir():
        pytest.skip(f"FSDD recordings not found at {source}")
    clips = tmp_path_factory.mktemp("fsdd")
    for digit in (1, 2):
        for take in range(5, 25):
            shutil.copy(source / f"{digit}_jackson_{take}.wav", clips)
    args = ["--data", str(clips), *AUDIO_ARGS]
    out = tmp_path_factory.mktemp("crash_audio") / "uninterrupted"
    assert run(out, recipe="fsdd_wavegan", args=args) == 0
    return args, fingerprint(out)


def test_audio_recipe_killed_inside_a_checkpoint_write_resumes_bit_identical(audio, tmp_path):
    args, reference = audio
    out = tmp_path / "run"
    assert run(out, kill_on=3, recipe="fsdd_wavegan", args=args) == -signal.SIGKILL
    assert list(out.rglob(".*.tmp-*")), "the kill did not happen inside a write"
    assert run(out, "--resume", recipe="fsdd_wavegan", args=args) == 0
    assert same(fingerprint(out), reference)


def test_audio_recipe_killed_during_training_resumes_bit_identical(audio, tmp_path):
    args, reference = audio
    out = tmp_path / "run"
    assert run(out, kill_when=out / "validation.jsonl", recipe="fsdd_wavegan", args=args) == -signal.SIGKILL
    assert run(out, "--resume", recipe="fsdd_wavegan", args=args) == 0
    assert same(fingerprint(out), reference)
