"""Time one HiFi-GAN training step (G + MPD + MSD, forward + backward) through ``Trainer.train_step()``.

Protocol (the issue's): generator V1 with the published discriminators, batch 4, segment 8192, LSGAN +
feature matching (2) + mel L1 (45), AdamW, ``reuse_fakes`` (one G forward per step), on the CPU with 2
threads. Reported: the median seconds per step over ``--steps`` timed steps after ``--warmup`` steps.

With ``--reference`` the same modules also run the reference implementation's step, interleaved with ours
so both see the same machine load: its generator step runs the discriminators on real *and* fake audio
with gradients for the discriminator parameters (then discarded) and back-propagates through the real
branch of the feature-matching loss; ours freezes D in the G phase and computes the real branch without a
graph. The published reference figure on an idle machine of this class is ~12 s/step.

Usage::

    nice -n 19 .venv/bin/python benchmarks/hifigan_step.py [--reference] [--steps 3] [--threads 2]
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
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import multigan  # noqa: E402
from multigan.audio.features import LogMel  # noqa: E402
from multigan.audio.losses import MelL1  # noqa: E402
from multigan.audio.vocoders.data.clips import load_clips  # noqa: E402
from multigan.audio.vocoders.discriminators.registry import build_discriminators  # noqa: E402
from multigan.audio.vocoders.hifigan import HIFIGAN_CONFIGS  # noqa: E402
from multigan.audio.vocoders.training import build_vocoder_trainer  # noqa: E402
from multigan.audio.vocoders.vocoder import Vocoder  # noqa: E402

REFERENCE_SECONDS = 12.0
DEFAULT_DATA = "../shared/data/ljspeech-mini/wavs"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; relative paths are taken from the repository root."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="LJ Speech wav folder (crops come from it)")
    p.add_argument("--preset", default="v1", choices=sorted(HIFIGAN_CONFIGS))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--segment", type=int, default=8192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3, help="timed steps (the median is reported)")
    p.add_argument("--reference", action="store_true", help="also time the reference-style step, interleaved")
    p.add_argument("--out", default="benchmarks/results/hifigan_step.json")
    return p.parse_args(argv)


def resolve(path: str) -> Path:
    """``path`` as given if absolute, else relative to the repository root."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else REPO / candidate


def reference_step(trainer: multigan.Trainer, mel_loss: MelL1) -> None:
    """The reference implementation's iteration, on the trainer's modules, optimizers and data."""
    G, D, opt_g, opt_d = trainer.G, trainer.D, trainer.opt_g, trainer.opt_d
    batch = trainer.rt.to_device(next(trainer.source))
    y, mel = batch["real"], batch["cond"]
    y_hat = G(None, mel)
    # discriminator step: D on real and on detached fakes
    opt_d.zero_grad()
    real_out, fake_out = D(y), D(y_hat.detach())
    loss_d = sum(torch.mean((1 - r[-1]) ** 2) + torch.mean(f[-1] ** 2) for r, f in zip(real_out, fake_out))
    loss_d.backward()
    opt_d.step()
    # generator step: D not frozen, real branch with a graph, D parameter gradients computed and discarded
    opt_g.zero_grad()
    loss_mel = mel_loss(y_hat, batch) * 45
    real_out, fake_out = D(y), D(y_hat)
    loss_fm = sum(torch.mean(torch.abs(rl - gl)) for r, f in zip(real_out, fake_out) for rl, gl in zip(r[:-1], f[:-1]))
    loss_adv = sum(torch.mean((1 - f[-1]) ** 2) for f in fake_out)
    (loss_adv + 2 * loss_fm + loss_mel).backward()
    opt_g.step()


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and write the JSON results."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clips = load_clips(resolve(args.data), 22050)
    voc = Vocoder(generator=HIFIGAN_CONFIGS[args.preset])
    disc = build_discriminators([("mpd", 1.0), ("msd", 1.0)])  # the published MPD + MSD
    cfg = multigan.TrainConfig(max_steps=10**6, batch_size=args.batch, loss="lsgan", fm_weight=2.0,
                               reuse_fakes=True, optimizer="adamw", g_lr=2e-4, d_lr=2e-4, betas=(0.8, 0.99),
                               lr_schedule="exponential", lr_decay=0.999, ema_decay=0.0, device="cpu",
                               cpu_threads=args.threads, val_every=0, progress=False)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = build_vocoder_trainer(voc, disc, cfg, clips, run_dir, segment=args.segment, repeats=8)
        mel_loss = MelL1(LogMel.from_settings({**voc.config["mel"], "fmax": None}))  # the full-band loss mel
        load_before = os.getloadavg()
        ours, ref = [], []
        for i in range(args.warmup + args.steps):
            t = time.perf_counter()
            trainer.train_step()
            dt = time.perf_counter() - t
            if i >= args.warmup:
                ours.append(dt)
            if args.reference:
                t = time.perf_counter()
                reference_step(trainer, mel_loss)
                dt_ref = time.perf_counter() - t
                if i >= args.warmup:
                    ref.append(dt_ref)
            print(f"step {i}: ours {dt:.2f} s" + (f", reference-style {dt_ref:.2f} s" if args.reference else "")
                  + ("" if i >= args.warmup else " (warm-up)"), flush=True)
        load_after = os.getloadavg()
    median = statistics.median(ours)
    result = {
        "benchmark": "hifigan_train_step",
        "protocol": {"generator": args.preset, "discriminators": "MPD(2,3,5,7,11)+MSD(3), published widths",
                     "batch": args.batch, "segment": args.segment, "threads": args.threads, "device": "cpu",
                     "warmup": args.warmup, "timed_steps": args.steps, "loss": "lsgan + 2 fm + 45 mel L1",
                     "path": "multigan.Trainer.train_step (reuse_fakes, D frozen in G phase)"},
        "seconds_per_step": round(median, 3),
        "steps_seconds": [round(t, 3) for t in ours],
        "reference_published_seconds": REFERENCE_SECONDS,
        "speedup_vs_published_reference": round(REFERENCE_SECONDS / median, 2),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in load_after],
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.reference:
        ref_median = statistics.median(ref)
        result.update({"reference_style_seconds_per_step": round(ref_median, 3),
                       "reference_style_steps_seconds": [round(t, 3) for t in ref],
                       "speedup_vs_reference_style_same_load": round(ref_median / median, 2)})
    out = resolve(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
