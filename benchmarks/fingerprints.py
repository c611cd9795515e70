"""Fingerprints of short recipe runs: proof that a refactoring left training behaviour unchanged.

Runs four short, deterministic recipe commands (one thread each) and records SHA-256 hashes of the
exported generator's tensors and of ``validation.jsonl``:

* ``toy``: the toy ring's default preset (4,000 steps, ~1.5 min);
* ``specgan``: 200 SpecGAN steps on FSDD (the ``demo`` preset, digit evaluation off);
* ``vocoder``: 200 HiFi-GAN steps on the LJ Speech clips (``cpu`` preset: 100 mel-only + 100 adversarial);
* ``vocos``: 200 Vocos steps on the same clips (``vocos-cpu`` preset: 100 mel-only + 100 adversarial);
* ``wavegan``: 100 WaveGAN steps on FSDD (``cpu`` preset, digit evaluation off);
* ``text``: 20 adversarial RelGAN steps on 400 COCO captions after 2 MLE epochs.

Validation rows are hashed without their timing fields (``cpu_seconds``, ``seconds``, ``wall_seconds``...),
which differ between two runs of the same command.

    python benchmarks/fingerprints.py --out benchmarks/results/fingerprints.json          # record
    python benchmarks/fingerprints.py --check benchmarks/results/fingerprints.json        # compare

``--check`` exits with status 1 and names every run whose hashes differ.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ONE_THREAD = ["train.cpu_threads=1", "train.progress=false", "train.max_minutes=0"]

RUNS: dict[str, list[str]] = {
    "toy": ["recipes/toy_ring.py"],
    "specgan": ["recipes/fsdd_specgan.py", "--preset", "demo", "--data", str(DATA / "fsdd" / "recordings"),
                "--max-steps", "200", "train.val_every=100", "train.ckpt_every=100"],
    "vocoder": ["recipes/ljspeech_hifigan.py", "--preset", "cpu", "--data", str(DATA / "ljspeech-mini" / "wavs"),
                "--max-steps", "200", "train.adv_start_step=100", "train.val_every=100", "train.ckpt_every=100",
                "eval.griffin_lim=false"],
    "vocos": ["recipes/ljspeech_vocos.py", "--preset", "vocos-cpu", "--data", str(DATA / "ljspeech-mini" / "wavs"),
              "--max-steps", "200", "train.adv_start_step=100", "train.val_every=100", "train.ckpt_every=100",
              "eval.griffin_lim=false"],
    "wavegan": ["recipes/fsdd_wavegan.py", "--preset", "cpu", "--data", str(DATA / "fsdd" / "recordings"),
                "--max-steps", "100", "train.val_every=50", "train.ckpt_every=50", "eval.enabled=false"],
    "text": ["recipes/coco_relgan.py", "--preset", "cpu", "--data", str(DATA / "coco-captions" / "image_coco.txt"),
             "--max-steps", "20", "data.max_sentences=400", "mle.epochs=2", "train.val_every=10",
             "train.ckpt_every=10", "eval.samples=100", "eval.final_samples=50"],
}


def tensor_hash(path: Path) -> str:
    """SHA-256 over the tensors of a safetensors file, in name order (metadata ignored)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(load_file(str(path)).items()):
        digest.update(name.encode())
        digest.update(tensor.contiguous().view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


TIMING_KEYS = ("seconds", "cpu_seconds", "wall_seconds", "cpu_minutes", "wall_minutes", "steps_per_s")


def validation_hash(path: Path) -> str:
    """SHA-256 over the validation rows with their timing fields removed (those differ run to run)."""
    digest = hashlib.sha256()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        for key in TIMING_KEYS:
            row.pop(key, None)
        for value in row.values():
            if isinstance(value, dict):
                for key in TIMING_KEYS:
                    value.pop(key, None)
        digest.update(json.dumps(row, sort_keys=True).encode())
    return digest.hexdigest()


def fingerprint(name: str, work: Path) -> dict:
    """Run one recipe command into ``work/name`` and hash what it produced."""
    out = work / name
    script, *rest = RUNS[name]  # overrides (key=value) must come last, in one run
    cmd = [sys.executable, script, "--out", str(out), "--overwrite", *rest, *ONE_THREAD]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    validation = out / "validation.jsonl"
    return {"export": tensor_hash(out / "export" / "generator.safetensors"),
            "validation": validation_hash(validation) if validation.is_file() else None,
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=",".join(RUNS), help="comma-separated subset of " + ", ".join(RUNS))
    p.add_argument("--out", default="benchmarks/results/fingerprints.json", help="where to record")
    p.add_argument("--check", help="a recorded JSON to compare against instead of recording")
    args = p.parse_args(argv)
    names = [n for n in args.runs.split(",") if n]
    with tempfile.TemporaryDirectory() as tmp:
        found = {}
        for name in names:
            found[name] = fingerprint(name, Path(tmp))
            print(name, json.dumps(found[name]), flush=True)
    if args.check:
        recorded = json.loads(Path(args.check).read_text())["runs"]
        differ = [n for n in names if {k: v for k, v in found[n].items() if k != "seconds"}
                  != {k: v for k, v in recorded[n].items() if k != "seconds"}]
        print("identical" if not differ else f"DIFFERENT: {', '.join(differ)}")
        return 1 if differ else 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "runs": found}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
