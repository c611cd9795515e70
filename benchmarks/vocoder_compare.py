"""Quality against CPU-minutes of training for the vocoder families' CPU presets, and CPU inference speed.

    python benchmarks/vocoder_compare.py                      # train both cpu presets concurrently, score, plot, RTF
    python benchmarks/vocoder_compare.py --reuse              # finished runs are read, not retrained
    python benchmarks/vocoder_compare.py --rtf-only           # only the inference real-time factors
    python benchmarks/vocoder_compare.py --reuse --no-rtf --include vocos-cpu-melonly   # add a finished ablation run

Training part: the LJ Speech clips of ``--data`` are split once (``--heldout`` clips drawn with seed 0 by
:func:`multigan.audio.vocoders.data.corpus.split_clips`) into a training folder and a held-out folder (symlinks under
``--work``). The HiFi-GAN ``cpu`` preset (``recipes/ljspeech_hifigan.py``) and the Vocos ``vocos-cpu`` preset
(``recipes/ljspeech_vocos.py``) train on the same training clips, at the same time, in two processes of one
thread each, for ``--minutes`` of wall clock each, and validate on the held-out folder (``data.val_path``: clips
no run ever trains on) every ``VAL_EVERY`` steps (``--val-every``). The BigVGAN ``bigvgan-cpu`` preset
(``recipes/ljspeech_bigvgan.py``) trains beside them. Every validation row records the evaluation protocol's metrics
(:mod:`multigan.audio.vocoders.evaluation`: wideband PESQ, the multi-resolution STFT distance, the mel L1 over the
full band and over the input band (0-8 kHz), periodicity RMSE and V/UV F1 with CREPE tiny, the predicted MOS) and
the process CPU seconds spent training so far (``cpu_seconds``: CPU time outside validation). At the end every
export and Griffin-Lim are scored on the held-out clips by ``multigan eval-vocoder``'s function, with bootstrapped
95 % intervals (``final_heldout``), and a listening page is written beside the runs. Griffin-Lim from the
same mels (NNLS + 100 fast Griffin-Lim iterations, :class:`~multigan.audio.vocoders.metrics.GriffinLimBaseline`)
is the reference line. Results: ``benchmarks/results/vocoder_compare.json`` and ``.png``.

RTF part: seconds of CPU compute per second of audio (batch 1, 10 s of audio, median of ``--repeats`` runs
after a warm-up; real-time factor = audio seconds / compute seconds) at 1 and 2 threads, for the published
HiFi-GAN V1 and V3, the HiFi-GAN ``cpu`` preset, the published Vocos and ``vocos-cpu`` generators (random
weights: the speed does not depend on them; weight norm folded).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "recipes"))

RESULTS = REPO / "benchmarks" / "results"
FAMILIES = {"hifigan-cpu": ("ljspeech_hifigan.py", "cpu"), "vocos-cpu": ("ljspeech_vocos.py", "vocos-cpu"),
            "bigvgan-cpu": ("ljspeech_bigvgan.py", "bigvgan-cpu")}
#: Validation interval (steps) of each family: about every 3 training CPU-minutes of its preset.
VAL_EVERY = {"hifigan-cpu": 2000, "vocos-cpu": 2000, "bigvgan-cpu": 250}
METRICS = ("pesq_wb", "mr_stft", "mel_l1", "mel_l1_8k", "periodicity", "vuv_f1", "mos")


def prepare_split(data: Path, work: Path, heldout: int) -> dict:
    """Symlink folders ``work/train`` and ``work/heldout`` (the split of :func:`split_clips`, seed 0)."""
    from multigan.audio.listing import audio_files
    from multigan.audio.vocoders.data.corpus import split_clips

    files = audio_files(data)
    names = [p.relative_to(data).as_posix() for p in files]
    train, val = split_clips([(n, None) for n in names], heldout, 0)
    for sub, items in (("train", train), ("heldout", val)):
        folder = work / sub
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, _ in items:
            (folder / name.replace("/", "_")).symlink_to((data / name).resolve())
    return {"data": str(data), "train": [n for n, _ in train], "heldout": [n for n, _ in val], "seed": 0}


def train_command(family: str, work: Path, minutes: float, val_every: int | None) -> list[str]:
    """The recipe command line of one family's cpu preset on the split of ``work``: validation on the held-out
    folder with every protocol metric (periodicity and V/UV F1 with CREPE tiny, the predicted MOS)."""
    script, preset = FAMILIES[family]
    return [sys.executable, str(REPO / "recipes" / script), "--preset", preset, "--data", str(work / "train"),
            "--out", str(work / family), "--minutes", str(minutes), f"data.val_path={work / 'heldout'}",
            f"train.val_every={val_every or VAL_EVERY[family]}", "train.progress=false", "eval.pitch=tiny",
            "eval.mos=true"]


def run_trainings(families: list[str], work: Path, minutes: float, val_every: int, reuse: bool) -> dict:
    """Train the families concurrently (one process each); finished runs are kept with ``reuse``."""
    procs, commands = {}, {}
    for family in families:
        cmd = train_command(family, work, minutes, val_every)
        commands[family] = " ".join(cmd[1:])
        if reuse and (work / family / "metrics.json").is_file():
            print(f"{family}: reusing {work / family}")
            continue
        log = open(work / f"{family}.log", "w")
        print(f"{family}: {' '.join(cmd)}")
        procs[family] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), log)
    for family, (proc, log) in procs.items():
        code = proc.wait()
        log.close()
        if code:
            raise SystemExit(f"error: {family} training failed (exit {code}); see {work / f'{family}.log'}")
    return commands


def collect(family: str, work: Path) -> dict:
    """Validation rows (step, CPU-minutes, metrics) and the final export's scores of one run."""
    run = work / family
    rows = []
    for line in (run / "validation.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append({"step": r["step"], "cpu_minutes": round(r["cpu_seconds"] / 60, 3),
                     **{k: round(r[k], 4) for k in METRICS if k in r}})
    final = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
    gl = json.loads((run / "griffin_lim" / "metrics.json").read_text())
    return {"rows": rows, "final": final, "griffin_lim": {k: round(v, 4) for k, v in gl["mean"].items()},
            "griffin_lim_iters": gl["method"]["n_iter"]}


def score_final(work: Path, families: list[str], pitch_model: str) -> dict:
    """Every run's export and Griffin-Lim on the held-out clips through ``multigan eval-vocoder``'s own function
    (periodicity and V/UV F1 with CREPE ``pitch_model``, predicted MOS, intervals); the listening page is written
    to ``work/heldout_page.html`` (its audio stays out of the repository)."""
    from multigan.audio.vocoders.evaluation.cli import evaluate_vocoders
    from multigan.audio.vocoders.evaluation.page import write_listening_page

    runs = [work / f for f in families]
    result, page = evaluate_vocoders(runs, work / "heldout", griffin_lim=True, pitch_model=pitch_model, mos=True,
                                     page_clips=6)
    for system in result["systems"]:
        system["name"] = Path(system["name"]).name
    for clip in page:
        clip.audio = {(Path(k).name if k != "original" else k): v for k, v in clip.audio.items()}
    result["per_clip"] = {Path(k).name: v for k, v in result["per_clip"].items()}
    write_listening_page(result, page, work / "heldout_page.html", title="vocoder_compare: held-out LJ Speech clips")
    print(f"listening page: {work / 'heldout_page.html'}")
    return result


def at_minutes(runs: dict, marks: list[float]) -> list[dict]:
    """Each family's last validation at or before each mark of training CPU-minutes (equal-compute comparison)."""
    table = []
    for mark in marks:
        entry: dict[str, Any] = {"cpu_minutes": mark}
        for family, run in runs.items():
            before = [r for r in run["rows"] if r["cpu_minutes"] <= mark]
            entry[family] = before[-1] if before else None
        table.append(entry)
    return table


def plot(result: dict, path: Path) -> None:
    """One PNG: every protocol metric against CPU-minutes, Griffin-Lim as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multigan.audio.vocoders.evaluation.protocol import METRICS as PROTOCOL

    titles = {k: f"{PROTOCOL[k].label} ({'higher' if PROTOCOL[k].higher_is_better else 'lower'} is better)"
              for k in METRICS}
    titles["mel_l1"], titles["mel_l1_8k"] = "mel L1, full band (lower is better)", "mel L1, 0-8 kHz input band"
    fig, axes = plt.subplots(2, 4, figsize=(20, 7.5))
    axes.flat[-1].axis("off")
    first = next(iter(result["runs"].values()))
    gl = first["griffin_lim"]
    for ax, key in zip(axes.flat, METRICS):
        for family, run in result["runs"].items():
            xs = [r["cpu_minutes"] for r in run["rows"] if key in r]
            ax.plot(xs, [r[key] for r in run["rows"] if key in r], marker=".", label=family)
        if key in gl:
            ax.axhline(gl[key], color="gray", linestyle="--",
                       label=f"Griffin-Lim (NNLS + {first.get('griffin_lim_iters', '?')} it.)")
        ax.set_title(titles.get(key, key), fontsize=10)
        ax.set_xlabel("training CPU-minutes (process CPU time)")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{len(result['split']['heldout'])} held-out LJ Speech clips, never trained on", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_rtf(threads: list[int], seconds: float, repeats: int) -> dict:
    """Real-time factors of the vocoder generators on the CPU (batch 1, ``seconds`` of audio)."""
    from dataclasses import asdict

    import torch

    import ljspeech_hifigan
    import ljspeech_vocos
    from multigan.audio.vocoders.hifigan import HIFIGAN_CONFIGS, HiFiGANConfig
    from multigan.audio.vocoders.vocoder import Vocoder
    from multigan.audio.vocoders.vocos import VocosConfig

    hifigan_cpu = {**asdict(HiFiGANConfig()), **ljspeech_hifigan.PRESETS["cpu"]["generator"]}
    vocos_cpu = {**asdict(VocosConfig()), **ljspeech_vocos.PRESETS["vocos-cpu"]["generator"]}
    models = {
        "hifigan-v1": ("hifigan", dict(HIFIGAN_CONFIGS["v1"])),
        "hifigan-v3": ("hifigan", dict(HIFIGAN_CONFIGS["v3"])),
        "hifigan-cpu": ("hifigan", hifigan_cpu),
        "vocos (published 512/1536/8)": ("vocos", asdict(VocosConfig())),
        "vocos-cpu": ("vocos", vocos_cpu),
    }
    out: dict[str, Any] = {"audio_seconds": seconds, "batch": 1, "repeats": repeats, "models": {}}
    torch.manual_seed(0)
    for name, (family, gen) in models.items():
        gen = {k: v for k, v in gen.items() if k not in ("n_mels", "hop_size")}
        voc = Vocoder(generator=gen, mel={}, generator_class=family).eval().remove_weight_norm()
        frames = int(round(seconds * voc.sample_rate / voc.hop_size))
        mel = torch.randn(1, voc.n_mels, frames) - 5.0
        entry = {"params_m": round(sum(p.numel() for p in voc.parameters()) / 1e6, 3)}
        for n in threads:
            torch.set_num_threads(n)
            with torch.inference_mode():
                sec = _median_seconds(lambda: voc(None, mel), repeats)
            entry[f"rtf_{n}_threads"] = round(frames * voc.hop_size / voc.sample_rate / sec, 2)
            entry[f"seconds_{n}_threads"] = round(sec, 4)
        out["models"][name] = entry
        print(name, entry, flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point; returns the result written to ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "ljspeech-mini" / "wavs"))
    p.add_argument("--work", default=str(REPO / "runs" / "vocoder_compare"), help="split folders and run directories")
    p.add_argument("--heldout", type=int, default=6, help="held-out clips (the rest train)")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of each training")
    p.add_argument("--val-every", type=int, default=None, help="validation interval (steps) of every run "
                   "(default: VAL_EVERY, per family)")
    p.add_argument("--pitch-model", default="tiny", choices=["tiny", "full"],
                   help="CREPE size of the final held-out scoring (eval-vocoder's protocol)")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    p.add_argument("--include", nargs="*", default=[],
                   help="also read and plot these finished run directories under --work (e.g. ablations)")
    p.add_argument("--reuse", action="store_true", help="read runs that finished (metrics.json) instead of training")
    p.add_argument("--rtf-only", action="store_true", help="only measure the inference real-time factors")
    p.add_argument("--no-rtf", action="store_true", help="skip the real-time factors")
    p.add_argument("--rtf-seconds", type=float, default=10.0)
    p.add_argument("--rtf-repeats", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "vocoder_compare.json"))
    args = p.parse_args(argv)
    out = Path(args.out)
    result: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    if not args.rtf_only:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        split = prepare_split(Path(args.data), work, args.heldout)
        commands = run_trainings(args.families, work, args.minutes, args.val_every, args.reuse)
        result.update({"split": split, "commands": commands, "threads_per_run": 1, "minutes": args.minutes,
                       "runs": {f: collect(f, work) for f in [*args.families, *args.include]}})
        ends = [run["rows"][-1]["cpu_minutes"] for run in result["runs"].values() if run["rows"]]
        marks = [m for m in (1, 2, 5, 10, 15, 20, 25, 30) if m <= max(ends, default=0)] + sorted(ends)
        result["at_cpu_minutes"] = at_minutes(result["runs"], marks)
        result["final_heldout"] = score_final(work, [*args.families, *args.include], args.pitch_model)
        out.parent.mkdir(parents=True, exist_ok=True)
        plot(result, out.with_suffix(".png"))
    if not args.no_rtf:
        result["rtf"] = measure_rtf([1, 2], args.rtf_seconds, args.rtf_repeats)
    result["machine"] = {"cpus": os.cpu_count(), "device": "cpu", "note": "shared 2-core machine"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
