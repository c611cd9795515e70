"""``multigan eval-vocoder`` on LJ Speech clips: its speed on 2 CPU cores, and Griffin-Lim's PESQ-wb against calling
``pesq`` directly.

    python benchmarks/eval_vocoder.py [RUN ...] [--data DIR] [--pitch-model tiny|full] [--limit N]

Scores every clip of ``--data`` (default: the 28 clips of ``../shared/data/ljspeech-mini/wavs``) through the given
vocoder runs and Griffin-Lim with every metric (PESQ-wb, MR-STFT, mel L1, periodicity / V/UV F1 / pitch RMSE with
CREPE ``--pitch-model``, predicted MOS, STOI with ``--stoi``), records wall and process CPU seconds and the seconds
per clip (and the projection to 100 clips), and re-scores Griffin-Lim's resynthesis with ``pesq`` called directly
after librosa's resampler (not multigan's). Writes ``benchmarks/results/eval_vocoder_<pitch>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def direct_pesq(page: list, rate: int) -> list[float]:
    """PESQ-wb of each clip's Griffin-Lim resynthesis by ``pesq`` itself, resampled to 16 kHz with librosa."""
    import librosa
    from pesq import pesq

    out = []
    for clip in page:
        ref, deg = (librosa.resample(clip.audio[k].astype(np.float64), orig_sr=rate, target_sr=16000)
                    for k in ("original", "griffin-lim"))
        out.append(float(pesq(16000, ref, deg, "wb")))
    return out


def main(argv: list[str] | None = None) -> dict:
    from multigan.audio.vocoders.evaluation.cli import evaluate_vocoders

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "ljspeech-mini" / "wavs"))
    p.add_argument("--pitch-model", default="tiny", choices=["tiny", "full"])
    p.add_argument("--limit", type=int)
    p.add_argument("--stoi", action="store_true")
    p.add_argument("--no-griffin-lim", action="store_true", help="score the runs alone (speed without the baseline)")
    p.add_argument("--workers", type=int, default=1, help="processes scoring clips (eval-vocoder --workers)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    wall, cpu = time.monotonic(), _cpu_seconds()
    result, page = evaluate_vocoders(args.runs, args.data, griffin_lim=not args.no_griffin_lim,
                                     pitch_model=args.pitch_model, mos=True,
                                     with_stoi=args.stoi, limit=args.limit, page_clips=10_000, workers=args.workers)
    wall, cpu = time.monotonic() - wall, _cpu_seconds() - cpu
    clips = result["clips"]
    audio_seconds = sum(c.audio["original"].shape[0] for c in page) / result["sample_rate"]
    gl = next((s for s in result["systems"] if s["name"] == "griffin-lim"), None)
    direct = direct_pesq(page, result["sample_rate"]) if gl else []
    summary = {
        "command": " ".join(["python", "benchmarks/eval_vocoder.py", *(argv or sys.argv[1:])]),
        "clips": clips, "audio_seconds": round(audio_seconds, 1), "systems": len(result["systems"]),
        "workers": args.workers,
        "pitch_model": args.pitch_model, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "wall_seconds_per_clip": round(wall / clips, 2),
        "projected_wall_seconds_100_clips": round(100 * wall / clips, 1),
        "griffin_lim_pesq_wb": round(gl["pesq_wb"], 4) if gl else None,
        "griffin_lim_pesq_wb_direct": round(float(np.mean(direct)), 4) if gl else None,
        "machine": {"cpus": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "table": {s["name"]: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()
                              if k not in ("name", "ci95")} | {"ci95": s["ci95"]} for s in result["systems"]},
        "original_mos": result.get("original", {}).get("mos"),
    }
    suffix = ("_no_gl" if args.no_griffin_lim else "") + (f"_{args.workers}workers" if args.workers > 1 else "")
    out = Path(args.out) if args.out else RESULTS / f"eval_vocoder_{args.pitch_model}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "table"}, indent=2))
    print(f"wrote {out}")
    return summary


if __name__ == "__main__":
    main()
