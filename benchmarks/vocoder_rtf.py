"""Inference speed of every vocoder family on the CPU: PyTorch eager vs onnxruntime, and exact streaming.

For each preset (random weights: the cost does not depend on their values; weight norm folded; batch 1):

* ``x real time`` (seconds of audio per second of compute; 10 = ten times faster than real time) of
  ``voc(mel)`` under ``torch.inference_mode()`` and of the ONNX file (:mod:`multigan.audio.vocoders.onnx_export`)
  in onnxruntime's CPU provider, at each of ``--threads`` (intra-op threads; torch's ``set_num_threads``);
  the median of ``--repeats`` timed runs after one warm-up; plus the largest ``|onnxruntime - PyTorch|``;
* streaming (:meth:`~multigan.audio.vocoders.vocoder.Vocoder.stream`, PyTorch eager, the first thread count):
  the look-ahead (frames and milliseconds of added latency) and ``x real time`` when the mel arrives in chunks
  of 1, 8 and 32 frames (``--stream-seconds`` of audio).

Usage::

    nice -n 19 .venv/bin/python benchmarks/vocoder_rtf.py [--presets hifigan-v1,vocos] [--threads 1,2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from multigan.audio.vocoders.hifigan import HIFIGAN_CONFIGS  # noqa: E402
from multigan.audio.vocoders.onnx_export import export_onnx, onnx_session, run_onnx  # noqa: E402
from multigan.audio.vocoders.registry import GENERATORS  # noqa: E402
from multigan.audio.vocoders.vocoder import Vocoder  # noqa: E402
from multigan.audio.vocoders.vocos import VOCOS_CONFIGS  # noqa: E402

_CPU_HIFIGAN = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
                "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 5, 7],
                "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]}  # recipes/ljspeech_hifigan.py --preset cpu


def _strip(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in ("n_mels", "hop_size")}


def presets() -> dict[str, tuple[str, dict]]:
    """Preset name -> (family, generator settings) at the LJ Speech front end (80 mels, hop 256)."""
    out = {"hifigan-v1": ("hifigan", _strip(HIFIGAN_CONFIGS["v1"])),
           "hifigan-v3": ("hifigan", _strip(HIFIGAN_CONFIGS["v3"])),
           "hifigan-cpu": ("hifigan", _CPU_HIFIGAN),
           "vocos": ("vocos", dict(VOCOS_CONFIGS["published"])),
           "vocos-cpu": ("vocos", {"dim": 128, "intermediate_dim": 384, "num_layers": 4})}  # --preset vocos-cpu
    if "bigvgan" in GENERATORS:
        from multigan.audio.vocoders.bigvgan import BIGVGAN_CONFIGS

        out["bigvgan-base"] = ("bigvgan", _strip(BIGVGAN_CONFIGS["base"]))
        out["bigvgan-v2"] = ("bigvgan", _strip(BIGVGAN_CONFIGS["v2"]))  # 112 M (the 22 kHz, 80-band layout)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="hifigan-v1,hifigan-v3,hifigan-cpu,vocos,vocos-cpu",
                   help=f"comma-separated, of {sorted(presets())}")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--seconds", type=float, default=5.0, help="audio per whole-utterance run")
    p.add_argument("--stream-seconds", type=float, default=2.0, help="audio per streaming run")
    p.add_argument("--chunks", default="1,8,32", help="streaming chunk sizes (mel frames)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/vocoder_rtf.json")
    return p.parse_args(argv)


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_preset(name: str, family: str, generator: dict, args: argparse.Namespace, tmp: Path) -> dict:
    """All rows of one preset."""
    torch.manual_seed(0)
    voc = Vocoder(generator=generator, generator_class=family).eval().remove_weight_norm()
    hop, sr = voc.hop_size, voc.sample_rate
    frames = int(args.seconds * sr / hop)
    mel = torch.randn(1, voc.n_mels, frames) * 1.5 - 5.0
    audio_s = frames * hop / sr
    path = export_onnx(voc, tmp / f"{name}.onnx")
    threads = [int(t) for t in args.threads.split(",")]
    row: dict = {"family": family, "params_m": round(sum(p.numel() for p in voc.parameters()) / 1e6, 3),
                 "onnx_mb": round(path.stat().st_size / 1e6, 2), "audio_seconds": round(audio_s, 3)}
    with torch.inference_mode():
        ref = voc(mel).numpy()
    for n in threads:
        torch.set_num_threads(n)
        with torch.inference_mode():
            eager = _median_seconds(lambda: voc(mel), args.repeats)
        session = onnx_session(path, threads=n)
        ort = _median_seconds(lambda: run_onnx(session, mel), args.repeats)
        row[f"eager_x_realtime_{n}t"] = round(audio_s / eager, 2)
        row[f"onnxruntime_x_realtime_{n}t"] = round(audio_s / ort, 2)
        row["onnx_max_abs_diff"] = max(row.get("onnx_max_abs_diff", 0.0), float(np.abs(run_onnx(session, mel) - ref).max()))
    torch.set_num_threads(threads[0])
    left, right = voc.stream_context()
    row.update(stream_context_frames=[left, right], lookahead_frames=right,
               lookahead_ms=round(1000 * right * hop / sr, 1), stream_threads=threads[0])
    s_frames = int(args.stream_seconds * sr / hop)
    s_mel, s_audio = mel[:, :, :s_frames], s_frames * hop / sr
    with torch.inference_mode():
        whole = voc(s_mel)
    for size in (int(c) for c in args.chunks.split(",")):
        pieces: list[torch.Tensor] = []

        def run() -> None:
            pieces[:] = list(voc.stream(s_mel.split(size, dim=2)))

        seconds = _median_seconds(run, max(1, args.repeats - 2))
        row[f"stream_x_realtime_chunk{size}"] = round(s_audio / seconds, 2)
        row[f"stream_max_abs_diff_chunk{size}"] = float((torch.cat(pieces, 1) - whole).abs().max())
    return row


def write_result(result: dict, out: str) -> Path:
    """Write ``result`` as JSON to ``out`` (relative to the repository unless absolute); returns the path."""
    path = Path(out) if Path(out).is_absolute() else REPO / out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> dict:
    """Time every preset, print a table and write the JSON results."""
    args = parse_args(argv)
    table = presets()
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in (n.strip() for n in args.presets.split(",")):
            family, generator = table[name]
            results[name] = time_preset(name, family, generator, args, Path(tmp))
            print(name, json.dumps(results[name]), flush=True)
    import onnxruntime

    out = {"benchmark": "vocoder_inference_rtf", "device": "cpu", "batch": 1, "weight_norm": "removed",
           "threads": args.threads, "seconds": args.seconds, "stream_seconds": args.stream_seconds,
           "presets": results, "loadavg_before": [round(v, 2) for v in load_before],
           "loadavg_after": [round(v, 2) for v in os.getloadavg()], "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
           "python": platform.python_version(), "machine": platform.machine()}
    write_result(out, args.out)
    return out


if __name__ == "__main__":
    main()
