"""Start-up, memory and speed of the vocoder recipe on large corpora: lazy index-based reading vs in-memory.

Builds LJ-Speech-sized corpora as symbolic links cycling through the shared LJ Speech clips (13,100 links
for "24 h"; 546 and 3,275 for 1 h and 6 h; each link named ``NNNNN_<clip>.wav``) and runs
``recipes/ljspeech_hifigan.py --preset cpu`` on them as a subprocess, reading its log as it comes:

* ``first_step_s``: seconds from the process start to the log line of training step 1, with no index cache
  (``cold``: headers read and every clip decoded once for its peak, in parallel) and with the index cached;
  the clips themselves are in the page cache both times (as in the issue's measurement);
* ``vmhwm_mb``: peak resident memory of the training process (``VmHWM`` read from ``/proc`` just before it
  is stopped), ``ru_maxrss_mb``: ``ru_maxrss`` that ``wait4`` reports for it (the largest of it and its
  reaped children: index and DataLoader workers), ``workers_rss_mb``: resident memory of its live children;
* ``steps_per_s``: steady-state steps/s between logged steps ``--skip`` and ``--steps`` of adversarial
  training (``train.adv_start_step=0``) with ``train.num_workers`` 0 and 2, next to the in-memory loader
  (``data.in_memory=true``: every clip decoded at start, the earlier behaviour) on the 28 shared clips;
  ``--rounds`` rounds, each running every setting once in turn, so that all see similar machine load.

Each run records the 1-minute load average before and after it: the machine is shared.

    .venv/bin/python benchmarks/corpus_scale.py                      # writes benchmarks/results/corpus_scale.json
    .venv/bin/python benchmarks/corpus_scale.py --steps 120 --hours 1  # a quicker look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
LJ = REPO.parent / "shared" / "data" / "ljspeech-mini" / "wavs"
LINKS_24H = 13_100
STEP_LINE = re.compile(r"step (\d+)/(\d+)")


def build_corpus(root: Path, hours: float, clips: list[Path]) -> Path:
    """A folder of ``round(13100 * hours / 24)`` links cycling through ``clips`` (reused when complete)."""
    n = round(LINKS_24H * hours / 24)
    folder = root / f"{hours:g}h" / "wavs"
    if folder.is_dir() and len(os.listdir(folder)) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        src = clips[i % len(clips)]
        os.symlink(src, folder / f"{i:05d}_{src.name}")
    return folder


def _status_kb(pid: int, key: str) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_recipe(data: Path, out: Path, cache: Path, stop_at: int, extra: list[str]) -> dict:
    """Run the cpu preset until step ``stop_at`` is logged; timings of the logged steps and memory."""
    cmd = [sys.executable, "recipes/ljspeech_hifigan.py", "--preset", "cpu", "--data", str(data), "--out", str(out),
           "--overwrite", "--max-steps", str(stop_at + 1000), "train.adv_start_step=0", "train.log_every=1",
           "train.val_every=0", "train.early_stop_metric=", "train.ckpt_every=100000", "train.max_minutes=0",
           "train.progress=false", "eval.griffin_lim=false", "eval.pesq=false", *extra]
    env = {**os.environ, "MULTIGAN_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    times: dict[int, float] = {}
    tail: list[str] = []
    hwm = workers = None
    for line in proc.stderr:  # type: ignore[union-attr]
        tail = (tail + [line.rstrip()])[-30:]
        match = STEP_LINE.search(line)
        if match:
            step = int(match.group(1))
            times[step] = time.perf_counter() - start
            if step >= stop_at:
                hwm = _status_kb(proc.pid, "VmHWM")
                workers = [_status_kb(c, "VmRSS") or 0 for c in _children(proc.pid)]
                proc.kill()
                break
    _, status, usage = os.wait4(proc.pid, 0)
    if 1 not in times:
        raise SystemExit(f"run on {data} failed (status {status}):\n" + "\n".join(tail))
    return {"first_step_s": round(times[1], 2), "step_times": times, "vmhwm_mb": round((hwm or 0) / 1024, 1),
            "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
            "workers_rss_mb": [round(w / 1024, 1) for w in workers or []],
            "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def steady_rate(times: dict[int, float], skip: int, last: int) -> float:
    """Steps per second between logged steps ``skip`` and ``last``."""
    return round((last - skip) / (times[last] - times[skip]), 3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/corpus_scale", help="where the link corpora, caches and runs go")
    p.add_argument("--hours", default="1,6,24", help="corpus sizes for the start-up and memory runs")
    p.add_argument("--steps", type=int, default=300, help="steps of each steps/s run")
    p.add_argument("--skip", type=int, default=50, help="first steps left out of steps/s (warm-up)")
    p.add_argument("--memory-steps", type=int, default=20, help="steps of each start-up / memory run")
    p.add_argument("--rounds", type=int, default=2, help="rounds of the steps/s runs (interleaved)")
    p.add_argument("--out", default="benchmarks/results/corpus_scale.json")
    args = p.parse_args(argv)
    work = Path(args.work)
    clips = sorted(LJ.glob("*.wav"))
    if not clips:
        raise SystemExit(f"no LJ Speech clips under {LJ}")
    result: dict = {"command": "benchmarks/corpus_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), CPU only",
                    "preset": "cpu (recipes/ljspeech_hifigan.py), adversarial from step 0, one torch thread",
                    "corpora": {}, "startup": {}, "steps_per_s": {}}
    hours = [float(h) for h in args.hours.split(",") if h]
    for h in hours:
        folder = build_corpus(work, h, clips)
        result["corpora"][f"{h:g}h"] = {"links": len(os.listdir(folder)), "path": str(folder)}
        cache = work / "cache" / f"{h:g}h"
        shutil.rmtree(cache, ignore_errors=True)
        for kind in ("cold", "cached"):
            r = run_recipe(folder, work / "runs" / f"{h:g}h_{kind}", cache, args.memory_steps, [])
            r.pop("step_times")
            result["startup"][f"{h:g}h_{kind}"] = r
            print(f"{h:g}h {kind}: {r}", flush=True)
    memory = work / "cache" / "in_memory"
    r = run_recipe(LJ, work / "runs" / "in_memory_28", memory, args.memory_steps, ["data.in_memory=true"])
    r.pop("step_times")
    result["startup"]["in_memory_28_clips"] = r
    print(f"in-memory 28 clips: {r}", flush=True)

    big = build_corpus(work, max(hours), clips)
    runs = {"in_memory_28_clips_workers0": (LJ, ["data.in_memory=true", "train.num_workers=0"]),
            f"lazy_{max(hours):g}h_workers2": (big, ["train.num_workers=2"]),
            f"lazy_{max(hours):g}h_workers0": (big, ["train.num_workers=0"]),
            "in_memory_28_clips_workers2": (LJ, ["data.in_memory=true", "train.num_workers=2"])}
    for round_ in range(args.rounds):  # rounds interleave the settings, so each sees the same machine load
        for name, (data, extra) in runs.items():
            cache = work / "cache" / ("in_memory" if data == LJ else f"{max(hours):g}h")
            r = run_recipe(data, work / "runs" / name, cache, args.steps, extra)
            r["steps_per_s"] = steady_rate(r.pop("step_times"), args.skip, args.steps)
            result["steps_per_s"].setdefault(name, []).append(r)
            print(f"round {round_ + 1} {name}: {r}", flush=True)
    mean = {name: sum(r["steps_per_s"] for r in rs) / len(rs) for name, rs in result["steps_per_s"].items()}
    result["mean_steps_per_s"] = {name: round(v, 3) for name, v in mean.items()}
    result["lazy_workers2_vs_in_memory_workers0"] = round(
        mean[f"lazy_{max(hours):g}h_workers2"] / mean["in_memory_28_clips_workers0"], 3)
    result["lazy_workers0_vs_in_memory_workers0"] = round(
        mean[f"lazy_{max(hours):g}h_workers0"] / mean["in_memory_28_clips_workers0"], 3)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
