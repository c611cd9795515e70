"""BigVGAN on the CPU: the anti-aliased activation's polyphase path against the published writing, and x real time.

Side by side in one run, one thread, CPU time (``time.process_time``), batch 1:

* **activation**: :class:`~multigan.audio.vocoders.alias_free.Activation1d` (polyphase, time-major) against
  ``ReferenceActivation1d`` (``tests/helpers/bigvgan_reference.py``: replicate padding, transposed conv on
  zero-stuffed samples, SnakeBeta, padded strided conv, as NVIDIA/BigVGAN's ``alias_free_activation/torch``) at
  the shapes the 14 M ``base`` and 112 M ``v2`` generators run on one second of audio; the largest difference;
* **generator**: the same networks (random weights, weight norm folded) with their activations as they are and
  with every one swapped for the reference writing: CPU seconds and x real time (seconds of audio per second of
  compute) of ``voc(mel)`` under ``torch.inference_mode()``, and the largest output difference;
* **x real time** of HiFi-GAN V1 and Vocos (the published sizes, :func:`vocoder_rtf.presets`) the same way.

Each timing is the least CPU time of ``--rounds`` rounds, the two variants interleaved (other processes on a
shared machine only ever add time). Usage::

    nice -n 10 .venv/bin/python benchmarks/bigvgan_speed.py [--seconds 1] [--rounds 5]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from multigan.audio.vocoders.alias_free import Activation1d, SnakeBeta  # noqa: E402
from multigan.audio.vocoders.vocoder import Vocoder  # noqa: E402


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = _load("bigvgan_reference", REPO / "tests" / "helpers" / "bigvgan_reference.py")
RTF = _load("vocoder_rtf", REPO / "benchmarks" / "vocoder_rtf.py")


def cpu_seconds(variants: dict[str, Callable[[], object]], rounds: int, min_seconds: float = 0.3) -> dict[str, float]:
    """Least CPU seconds per call of each variant over ``rounds`` interleaved rounds (one warm-up call each)."""
    best = {k: math.inf for k in variants}
    for fn in variants.values():
        fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            start, calls = time.process_time(), 0
            while True:
                fn()
                calls += 1
                spent = time.process_time() - start
                if spent >= min_seconds:
                    break
            best[name] = min(best[name], spent / calls)
    return best


def activation_shapes(preset: str, frames: int) -> list[tuple[int, int]]:
    """``(channels, samples)`` of every stage of a BigVGAN preset's activations for ``frames`` mel frames."""
    cfg = RTF.presets()[preset][1]
    ch, t, out = cfg["upsample_initial_channel"], frames, []
    for rate in cfg["upsample_rates"]:
        ch, t = ch // 2, t * rate
        out.append((ch, t))
    return out


def bench_activation(shapes: Sequence[tuple[int, int]], rounds: int) -> list[dict]:
    """Polyphase ``Activation1d`` against the reference writing on random inputs of each shape."""
    rows = []
    torch.manual_seed(0)
    for channels, samples in shapes:
        act = SnakeBeta(channels, logscale=True)
        with torch.no_grad():
            for p in act.parameters():
                p.normal_(0.0, 0.5)
        ours, ref = Activation1d(act), REFERENCE.ReferenceActivation1d(act)
        x = torch.randn(1, channels, samples)
        with torch.inference_mode():
            diff = float((ours(x) - ref(x)).abs().max())
            t = cpu_seconds({"reference": lambda: ref(x), "polyphase": lambda: ours(x)}, rounds)
        rows.append({"channels": channels, "samples": samples, "reference_ms": round(1e3 * t["reference"], 3),
                     "polyphase_ms": round(1e3 * t["polyphase"], 3),
                     "speedup": round(t["reference"] / t["polyphase"], 2), "max_abs_diff": diff})
        print("activation", json.dumps(rows[-1]), flush=True)
    return rows


def _with_reference_activations(voc: Vocoder) -> None:
    """Swap every ``Activation1d`` of ``voc`` for the reference writing around the same Snake module."""
    for name, module in list(voc.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Activation1d):
                setattr(module, child_name, REFERENCE.ReferenceActivation1d(child.act))


def bench_network(preset: str, seconds: float, rounds: int) -> dict:
    """x real time of a preset; for BigVGAN also with the reference activations, and their output difference."""
    family, generator = RTF.presets()[preset]
    torch.manual_seed(0)
    voc = Vocoder(generator=generator, generator_class=family).eval().remove_weight_norm()
    frames = max(1, round(seconds * voc.sample_rate / voc.hop_size))
    audio = frames * voc.hop_size / voc.sample_rate
    mel = torch.randn(1, voc.n_mels, frames) * 1.5 - 5.0
    variants: dict[str, Callable[[], object]] = {"library": lambda: voc(mel)}
    row: dict = {"family": family, "params_m": round(sum(p.numel() for p in voc.parameters()) / 1e6, 2),
                 "audio_seconds": round(audio, 3)}
    if family == "bigvgan":
        slow = Vocoder(generator=generator, generator_class=family).eval().remove_weight_norm()
        slow.load_state_dict(voc.state_dict())
        _with_reference_activations(slow)
        variants["reference_activations"] = lambda: slow(mel)
        with torch.inference_mode():
            row["max_abs_diff"] = float((voc(mel) - slow(mel)).abs().max())
    with torch.inference_mode():
        t = cpu_seconds(variants, rounds, min_seconds=0.0)
    row.update({f"{k}_cpu_seconds": round(v, 3) for k, v in t.items()})
    row.update({f"{k}_x_realtime": round(audio / v, 3) for k, v in t.items()})
    if family == "bigvgan":
        row["speedup"] = round(t["reference_activations"] / t["library"], 2)
    print("network", preset, json.dumps(row), flush=True)
    return row


def main(argv: Sequence[str] | None = None) -> dict:
    """Run both parts, print them and write the JSON results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=1.0, help="audio per generator run")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (the least time counts)")
    p.add_argument("--presets", default="bigvgan-base,bigvgan-v2,hifigan-v1,vocos")
    p.add_argument("--out", default="benchmarks/results/bigvgan_speed.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    frames = round(args.seconds * 22050 / 256)
    shapes = sorted(set(activation_shapes("bigvgan-base", frames) + activation_shapes("bigvgan-v2", frames)))
    act_rows = bench_activation(shapes, args.rounds)
    total_ref = sum(r["reference_ms"] for r in act_rows)
    total_fast = sum(r["polyphase_ms"] for r in act_rows)
    networks = {name: bench_network(name, args.seconds, max(2, args.rounds // 2))
                for name in (n.strip() for n in args.presets.split(","))}
    out = {"benchmark": "bigvgan_speed", "device": "cpu", "threads": 1, "batch": 1, "clock": "process_time",
           "seconds": args.seconds, "rounds": args.rounds, "activation": act_rows,
           "activation_total_speedup": round(total_ref / total_fast, 2),
           "activation_max_abs_diff": max(r["max_abs_diff"] for r in act_rows), "networks": networks,
           "loadavg_before": [round(v, 2) for v in load_before],
           "loadavg_after": [round(v, 2) for v in os.getloadavg()], "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine()}
    print(f"activation: {out['activation_total_speedup']}x faster summed over {len(act_rows)} shapes, "
          f"max |difference| {out['activation_max_abs_diff']:.2e}")
    for name, row in networks.items():
        extra = f", {row['speedup']}x the reference activations" if "speedup" in row else ""
        print(f"{name}: {row['library_x_realtime']}x real time{extra}")
    RTF.write_result(out, args.out)
    return out


if __name__ == "__main__":
    main()
