"""CPU data parallelism: 1 process x 2 threads vs 2 processes x 1 thread (gloo), same global batch.

    python benchmarks/ddp_scaling.py [--models toy,specgan] [--toy-steps 1000] [--specgan-steps 300]
                                     [--data ../shared/data/fsdd/recordings] [--out benchmarks/results/ddp_scaling.json]
    python benchmarks/ddp_scaling.py --quick      # smoke run: 50 toy steps, 20 SpecGAN steps (small evaluation)

Each model (the toy ring and the spoken-digit SpecGAN, both on their ``cpu`` preset) trains once per configuration
for a fixed number of steps on the same global batch B, as a subprocess of its recipe script:

- ``1x2``: one plain process, ``train.cpu_threads=2``, ``train.batch_size=B`` (no process group);
- ``2x1``: ``python -m torch.distributed.run --nproc_per_node 2`` (gloo), ``train.cpu_threads=1`` and
  ``OMP_NUM_THREADS=1`` in each process, ``train.batch_size=B/2`` (each rank reads its own half of the data).

Validation runs once, at the last step (``train.val_every=steps``; no patience, no time budget, one checkpoint).
The presets' own ``train.device`` is kept (SpecGAN's is ``auto``): on a machine without CUDA it must still
form the gloo group (each rank training alone as "main" was a bug; the benchmark checks for that).

How to read it. ``samples/s`` is the trainer's own steps/s logged at the last step (before the final validation
and checkpoint, so training only) times the real samples one step draws (global batch x n_critic x grad_accum).
On a 2-core CPU two processes are not expected to beat two threads: they do the same arithmetic on the same
cores and add a gloo all-reduce of every gradient in every phase, so the ratio measures the overhead of the
multi-process path. The correctness property is the metric columns: with per-rank random streams the ranks draw
different noise, so the 2-process run sees B distinct fakes per step like the 1-process run, and its quality
after the same steps should match the 1-process run's (not bit for bit: data order and noise differ, and one
pair of GAN runs varies by seed; read a small gap as a match, a collapse as a bug). The toy's MLP is too small
for intra-op threads: one process runs it several times faster on 1 thread than on 2 (why its preset sets
``cpu_threads=1``); ``--configs 1x2,2x1,1x1`` adds that row. ``seconds`` is the recipe's ``train_seconds`` (fit,
including the final validation and checkpoint); ``wall`` adds start-up, data loading, the classifier and the
final report. The SpecGAN validation needs the digit classifier: a cold cache
is built first (timed apart, reported); ``--quick`` with a cold cache runs SpecGAN without evaluation instead.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RATE = re.compile(r"step (\d+)/(\d+) ([\d.]+) steps/s")
SHOW = {"toy": ("modes_covered", "high_quality"), "specgan": ("fid", "inception_score", "label_accuracy")}


def free_port() -> int:
    """A free TCP port on localhost for the rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def classifier_cache(data: str, cache_dir: str | None, build: bool) -> dict:
    """Where the digit classifier is cached and whether it was there; builds it (timed) when asked."""
    from multigan.audio.spoken_digits.cache import cache_entry, load_or_train_classifier
    from multigan.audio.spoken_digits.classifier import DigitClassifierConfig

    entry = cache_entry(data, cache_dir, DigitClassifierConfig())
    info: dict = {"entry": str(entry), "warm": (entry / "classifier.json").is_file()}
    if not info["warm"] and build:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        print(f"digit classifier cache is cold: building {entry} (a few minutes) ...", flush=True)
        start = time.perf_counter()
        load_or_train_classifier(data, cache_dir)
        info["build_seconds"] = round(time.perf_counter() - start, 1)
    return info


def run_config(model: str, procs: int, threads: int, batch: int, steps: int, options: list[str], extra: list[str],
               out: Path) -> dict:
    """Train one configuration as a subprocess of the recipe (``options`` before the ``key=value`` overrides,
    ``extra`` after them); returns its row, or one with an ``error``."""
    recipe = ROOT / "recipes" / ("toy_ring.py" if model == "toy" else "fsdd_specgan.py")
    overrides = [f"train.batch_size={batch}", f"train.cpu_threads={threads}", f"train.max_steps={steps}",
                 f"train.val_every={steps}", f"train.ckpt_every={steps}", f"train.log_every={steps}",
                 "train.patience=0", "train.max_minutes=0", "train.progress=false"]
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_addr", "127.0.0.1",
                     "--master_port", str(free_port())]
    cmd = [*launcher, str(recipe), "--preset", "cpu", "--out", str(out), "--overwrite", *options, *overrides, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    row: dict = {"config": f"{procs}x{threads}", "processes": procs, "threads": threads, "batch_per_process": batch,
                 "global_batch": batch * procs, "steps": steps}
    start, row["load_before"] = time.perf_counter(), round(os.getloadavg()[0], 2)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    row["wall_seconds"], row["load_after"] = round(time.perf_counter() - start, 1), round(os.getloadavg()[0], 2)
    rates = [float(m[3]) for m in RATE.finditer(proc.stderr) if int(m[1]) == steps]
    if len(rates) > 1:  # only the main process logs: several "main" processes trained apart, in one folder
        return {**row, "error": f"{len(rates)} processes each logged as the main one: no process group formed"}
    if proc.returncode != 0 or not (out / "metrics.json").is_file():
        return {**row, "error": (proc.stdout + proc.stderr)[-3000:]}
    report = json.loads((out / "metrics.json").read_text())
    train_cfg = yaml.safe_load((out / "config.yaml").read_text())["train"]
    per_step = row["global_batch"] * train_cfg["n_critic"] * train_cfg["grad_accum"]
    if rates:
        steps_per_s, source = rates[-1], "trainer log at the last step"
    else:  # the log line changed: fall back to the recipe's fit time (includes the final validation)
        steps_per_s, source = report["steps"] / report["train_seconds"], "steps / train_seconds"
    lines = (out / "validation.jsonl").read_text().splitlines() if (out / "validation.jsonl").is_file() else []
    validation = json.loads(lines[-1]) if lines else {}
    final = {k: v for k, v in report.items() if isinstance(v, (int, float)) and k not in ("steps", "train_seconds")}
    return {**row, "steps_done": report["steps"], "seconds": report["train_seconds"],
            "steps_per_s": round(steps_per_s, 3), "samples_per_s": round(steps_per_s * per_step, 1),
            "rate_source": source, "validation": validation, "final": final}


def print_table(model: str, rows: list[dict]) -> None:
    """One table per model, then each configuration's throughput relative to the first one's."""
    keys = SHOW[model]
    print(f"\n{model}\n{'config':<8}{'batch/proc':>11}{'global':>8}{'steps':>7}{'seconds':>9}{'wall':>8}"
          f"{'samples/s':>11}" + "".join(f"{k:>17}" for k in keys))
    for r in rows:
        if "error" in r:
            lines = [ln.strip() for ln in r["error"].splitlines() if ln.strip()] or ["?"]
            print(f"{r['config']:<8} FAILED: {([ln for ln in lines if 'Error' in ln] or lines)[-1][:200]}")
            continue
        vals = "".join(f"{r['validation'][k]:>17.4g}" if k in r["validation"] else f"{'-':>17}" for k in keys)
        print(f"{r['config']:<8}{r['batch_per_process']:>11}{r['global_batch']:>8}{r['steps_done']:>7}"
              f"{r['seconds']:>9.1f}{r['wall_seconds']:>8.1f}{r['samples_per_s']:>11.1f}{vals}")
    ok = [r for r in rows if "error" not in r]
    for r in ok[1:]:
        print(f"{r['config']} / {ok[0]['config']} samples/s: {r['samples_per_s'] / ok[0]['samples_per_s']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="toy,specgan", help="comma-separated: toy, specgan")
    parser.add_argument("--toy-steps", type=int, default=1000)
    parser.add_argument("--specgan-steps", type=int, default=300)
    parser.add_argument("--toy-batch", type=int, default=256, help="global batch (the cpu preset's)")
    parser.add_argument("--specgan-batch", type=int, default=32, help="global batch (the cpu preset's)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))
    parser.add_argument("--cache-dir", help="digit classifier cache (default $MULTIGAN_CACHE or ~/.cache/multigan)")
    parser.add_argument("--runs-dir", help="keep the run directories here (default: a temporary folder)")
    parser.add_argument("--configs", default="1x2,2x1",
                        help="PROCESSESxTHREADS, the first is the reference (add 1x1: the toy preset's own setting)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 toy / 20 SpecGAN steps, small eval")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ddp_scaling.json"))
    args = parser.parse_args()
    if args.quick:
        args.toy_steps, args.specgan_steps = 50, 20
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        configs = [(int(p), int(t)) for p, t in (c.strip().split("x") for c in args.configs.split(",") if c.strip())]
    except ValueError:
        parser.error(f"--configs: expected PROCESSESxTHREADS,... (e.g. 1x2,2x1), got {args.configs!r}")
    if bad := [p for p, _ in configs if args.toy_batch % p or args.specgan_batch % p]:
        parser.error(f"--configs: the global batches must divide by the process count ({bad[0]})")
    if unknown := set(models) - set(SHOW):
        parser.error(f"--models: unknown {', '.join(sorted(unknown))} (choose from toy, specgan)")
    import torch

    result: dict = {"command": shlex.join([Path(sys.executable).name, *sys.argv]), "quick": args.quick,
                    "cpu_count": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
                    "machine": platform.processor() or platform.machine(), "models": {}}
    with tempfile.TemporaryDirectory(prefix="ddp_scaling_") as tmp:
        runs = Path(args.runs_dir or tmp)
        for model in models:
            steps, batch = (args.toy_steps, args.toy_batch) if model == "toy" else (args.specgan_steps,
                                                                                   args.specgan_batch)
            options: list[str] = []
            extra: list[str] = []
            entry: dict = {"recipe": "toy_ring.py" if model == "toy" else "fsdd_specgan.py", "preset": "cpu"}
            if model == "specgan":
                options = ["--data", args.data]
                extra = [f"eval.cache_dir={args.cache_dir}"] if args.cache_dir else []
                entry["classifier_cache"] = cache = classifier_cache(args.data, args.cache_dir, build=not args.quick)
                if args.quick:
                    extra += ["eval.per_class=10", "eval.final_per_class=10"]
                    if not cache["warm"]:
                        print("digit classifier cache is cold: --quick runs SpecGAN without evaluation "
                              "(run without --quick once to build it)", flush=True)
                        extra.append("eval.enabled=false")
            entry["rows"] = []
            for procs, threads in configs:  # the reference first
                print(f"{model}: {procs} process(es) x {threads} thread(s), {steps} steps ...", flush=True)
                entry["rows"].append(run_config(model, procs, threads, batch // procs, steps, options, extra,
                                                runs / f"{model}_{procs}x{threads}"))
            result["models"][model] = entry
            print_table(model, entry["rows"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
