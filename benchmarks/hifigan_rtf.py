"""Inference real-time factor of HiFi-GAN generators on the CPU (weight norm removed).

RTF = seconds of compute / seconds of audio produced (lower is faster; 0.1 = ten times faster than real
time). Each preset vocodes the mel of ``--seconds`` of audio (batch 1) under ``torch.inference_mode()``;
the median of ``--repeats`` timed runs after one warm-up run is reported. Weights are random: the cost
does not depend on their values.

Usage::

    nice -n 19 .venv/bin/python benchmarks/hifigan_rtf.py [--presets v1,v3] [--threads 2] [--seconds 10]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from multigan.audio.vocoders.hifigan import HIFIGAN_CONFIGS  # noqa: E402
from multigan.audio.vocoders.vocoder import Vocoder  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="v1,v3", help="comma-separated generator presets")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10.0, help="audio length per run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/hifigan_rtf.json")
    return p.parse_args(argv)


def time_preset(name: str, seconds: float, repeats: int) -> dict:
    """RTF of one preset (weight norm removed, eval, inference mode)."""
    torch.manual_seed(0)
    voc = Vocoder(generator=HIFIGAN_CONFIGS[name]).eval().remove_weight_norm()
    frames = int(seconds * voc.sample_rate / voc.hop_size)
    mel = torch.randn(1, voc.n_mels, frames) - 5.0
    audio_s = frames * voc.hop_size / voc.sample_rate
    times = []
    with torch.inference_mode():
        for i in range(repeats + 1):
            t = time.perf_counter()
            voc(mel)
            if i:
                times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {"params_m": round(sum(p.numel() for p in voc.parameters()) / 1e6, 3), "audio_seconds": round(audio_s, 3),
            "seconds": round(median, 3), "runs_seconds": [round(t, 3) for t in times], "rtf": round(median / audio_s, 4),
            "x_realtime": round(audio_s / median, 2)}


def main(argv: Sequence[str] | None = None) -> dict:
    """Time every preset and write the JSON results."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results = {}
    for name in args.presets.split(","):
        results[name] = time_preset(name.strip(), args.seconds, args.repeats)
        print(name, json.dumps(results[name]), flush=True)
    out = {"benchmark": "hifigan_inference_rtf", "threads": args.threads, "device": "cpu", "batch": 1,
           "weight_norm": "removed", "presets": results,
           "loadavg_before": [round(v, 2) for v in load_before],
           "loadavg_after": [round(v, 2) for v in os.getloadavg()], "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine()}
    path = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
