"""Time one adversarial step of the ``gpu`` preset of recipes/coco_relgan.py on the CPU.

One step = ``n_critic`` (5) discriminator phases -- a Gumbel-softmax roll-out of the relational-memory
generator without a graph, the CNN discriminator on 64 real and 64 generated sentences, its backward and
Adam step -- then one generator phase (roll-out with graph, the frozen D, backward through the roll-out).
Sizes: batch 64, COCO vocabulary (4.6k words) and length (37 + <eos>), RMC 1 slot x 2 heads x 256,
D embedding 64 in 64 representations, 300 filters of widths 2-5 -- the published RelGAN setting.

The reference text-GAN toolkit takes about 200 CPU-seconds per adversarial step at these sizes on this
machine class (its D phases back-propagate through G and its D runs the full conv2d); the goal is >= 3x.

Usage::

    .venv/bin/python benchmarks/text_step.py [--steps 3] [--threads 1] [--data PATH] [--out PATH]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import multigan  # noqa: E402
import multigan.config as C  # noqa: E402
from multigan.text.architectures import build_discriminator, build_generator  # noqa: E402
from multigan.text.data import TokenIdsDataset, read_lines  # noqa: E402
from multigan.text.tokenizer import WordTokenizer  # noqa: E402

REFERENCE_SECONDS = 200.0


def load_recipe():
    """recipes/coco_relgan.py as a module (its config and presets)."""
    spec = importlib.util.spec_from_file_location("coco_relgan_recipe", REPO / "recipes" / "coco_relgan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> dict:
    """Build the gpu-preset models, run warm-up + timed steps, write and print the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared/data/coco-captions/image_coco.txt"))
    p.add_argument("--preset", default="gpu")
    p.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", help="JSON result (default benchmarks/results/text_step[_PRESET].json)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    recipe = load_recipe()
    cfg = C.from_dict(recipe.CocoRelGANConfig, recipe.PRESETS[args.preset])
    cfg.train.device, cfg.train.progress, cfg.train.val_every, cfg.train.cpu_threads = "cpu", False, 0, args.threads
    cfg.train.early_stop_metric, cfg.train.patience = "", 0
    lines = read_lines(args.data)
    tok = WordTokenizer.train(lines)
    multigan.rng.seed_everything(0)
    gen = build_generator(cfg.generator, tok)
    disc = build_discriminator(cfg.discriminator, tok)
    run_dir = Path("/tmp/multigan_text_step_bench")
    trainer = multigan.Trainer(gen, disc, cfg.train, TokenIdsDataset(tok.encode_batch(lines)), run_dir)
    gen.set_inverse_temperature(10.0)

    trainer.train_step()  # warm-up
    times, cpu_times = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step()
        times.append(round(time.perf_counter() - t0, 3))
        cpu_times.append(round(time.process_time() - c0, 3))
    median, cpu_median = statistics.median(times), statistics.median(cpu_times)
    result = {
        "preset": args.preset, "batch_size": cfg.train.batch_size, "n_critic": cfg.train.n_critic,
        "vocab_size": tok.vocab_size, "seq_len": tok.seq_len,
        "generator_params": sum(p.numel() for p in gen.parameters()),
        "discriminator_params": sum(p.numel() for p in disc.parameters()),
        "threads": args.threads, "step_seconds": times, "median_step_seconds": round(median, 3),
        "step_cpu_seconds": cpu_times, "median_step_cpu_seconds": round(cpu_median, 3),
        "reference_cpu_seconds": REFERENCE_SECONDS,
        # the reference figure is for the gpu preset's sizes only
        "speedup_vs_reference_cpu_seconds": (round(REFERENCE_SECONDS / cpu_median, 1) if args.preset == "gpu"
                                             else None),
        "load_average": os.getloadavg(), "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "torch": torch.__version__,
    }
    suffix = "" if args.preset == "gpu" else f"_{args.preset}"
    out = Path(args.out) if args.out else REPO / f"benchmarks/results/text_step{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
