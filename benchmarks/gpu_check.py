"""GPU check: every recipe's GPU-scale preset, a few training steps in fp32, bf16 and fp16, one table.

Models: the toy ring (its ``cpu`` preset at batch 1024), SpecGAN ``gpu``, WaveGAN ``gpu``, HiFi-GAN ``v1`` and
``v3``, BigVGAN-v2 ``bigvgan-v2-22k``, ``-24k`` and ``-44k`` (112 M generator, MPD + CQTD, multi-scale mel loss,
65,536-sample crops, batch 4), RelGAN ``gpu`` and the GPT-2/BERT ``transformer`` preset. Each preset is resolved into its recipe's
config dataclass (the published hyper-parameters), the models are built by the recipe's own code, and the
data is a small synthetic in-memory set of the right shapes (random clips, made-up sentences): the GPU
machine holds no data. Per model and precision a fresh :class:`multigan.Trainer` (no validation, no
checkpoints) runs ``--warmup`` untimed steps, then ``--steps`` timed ``train_step()`` calls (fewer when a run
passes ``--run-seconds``). Reported: steps/s, samples/s (batch x grad_accum x steps/s), peak GPU memory,
whether every loss stayed finite, and the bf16/fp32 and fp16/fp32 speed ratios. A model that fails to import
or build gets an error row; fp16 refused by the core on the CPU is a skipped row.

On the GPU machine (torch >= 2.4; soundfile, soxr, librosa and pesq not needed; about 4-6 minutes on one
H200, capped by ``--budget``)::

    PYTHONPATH=. python benchmarks/gpu_check.py --device cuda

On the CPU, as the test suite does (seconds)::

    .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpu_check.json
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import platform
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import multigan  # noqa: E402
from multigan.recipe import RunArgs, resolve_config  # noqa: E402

PRECISIONS = {"fp32": "'no'", "bf16": "bf16", "fp16": "fp16"}  # quoted: YAML reads a bare no as False
COMMON = ["train.val_every=0", "train.early_stop_metric=", "train.patience=0", "train.progress=false",
          "train.ckpt_every=1000000000", "train.log_every=1000000000", "train.max_minutes=0",
          "train.num_workers=0", "train.cpu_threads=0"]
Builder = Callable[[types.ModuleType, Any, str, bool], multigan.Trainer]


@dataclass
class ModelSpec:
    """A recipe preset, the overrides that size it for this check, and how to build its trainer."""

    recipe: str
    config: str  # the recipe's config dataclass
    preset: str
    build: Builder
    full: Sequence[str]  # overrides at GPU scale
    tiny: Sequence[str]  # overrides with --tiny


_RECIPES: dict[str, types.ModuleType] = {}


def load_recipe(name: str) -> types.ModuleType:
    """``recipes/NAME.py`` as a private module (patching it does not touch other importers)."""
    if name not in _RECIPES:
        spec = importlib.util.spec_from_file_location(f"gpu_check_{name}", REPO / "recipes" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _RECIPES[name] = module
    return _RECIPES[name]


class SyntheticClips(torch.utils.data.Dataset):
    """Stands in for the FSDD ``AudioFolder``: ``n`` noise clips ``[1, canvas]`` with digit labels."""

    def __init__(self, n: int, canvas: int, num_classes: int = 10):
        self.wavs = 0.1 * torch.randn(n, 1, canvas, generator=torch.Generator().manual_seed(0))
        self.items = [types.SimpleNamespace(label=i % num_classes) for i in range(n)]
        self.num_classes, self.classes = num_classes, list(range(num_classes))

    def __len__(self) -> int:
        return len(self.wavs)

    def __getitem__(self, i: int) -> dict:
        return {"real": self.wavs[i], "cond": torch.tensor(self.items[i].label)}


def build_toy(recipe: types.ModuleType, cfg: Any, run_dir: str, tiny: bool) -> multigan.Trainer:
    """The toy recipe's MLPs and ring data, as its ``train`` builds them."""
    d, m = cfg.data, cfg.model
    return multigan.Trainer(recipe.RingGenerator(m.z_dim, m.g_hidden, m.g_layers),
                            recipe.RingDiscriminator(m.d_hidden, m.d_layers), cfg.train,
                            recipe.RingDataset(d.size, d.modes, d.radius, d.std, seed=cfg.train.seed), run_dir,
                            collate_fn=recipe.first_item)


def build_fsdd(recipe: types.ModuleType, cfg: Any, run_dir: str, tiny: bool) -> multigan.Trainer:
    """Runs the recipe's own ``train`` on synthetic clips and takes the models it hands to ``train_digit_gan``."""
    def trainer_instead(c: Any, run: RunArgs, g: Any, d: Any, dataset: Any, **kw: Any) -> multigan.Trainer:
        collate = {"collate_fn": kw["collate_fn"]} if kw.get("collate_fn") else {}
        return multigan.Trainer(g, d, c.train, dataset, run.out, **collate)

    n = max(2 * cfg.train.batch_size, 16)
    recipe.fsdd_train_set = lambda data, canvas: SyntheticClips(n, canvas)
    recipe.train_digit_gan = trainer_instead
    return recipe.train(cfg, RunArgs(Path(run_dir), "gpu_check", False, None, argparse.Namespace()))


def build_vocoder(recipe: types.ModuleType, cfg: Any, run_dir: str, tiny: bool) -> multigan.Trainer:
    """The recipe's vocoder and discriminators (HiFi-GAN: MPD + MSD; BigVGAN: MPD + CQTD) in
    ``build_vocoder_trainer`` with the recipe's mel loss (single or multi-scale) on random clips."""
    from multigan.audio.vocoders.training import build_models, build_vocoder_trainer

    vocoder, disc = build_models(cfg)
    g = torch.Generator().manual_seed(0)
    clips = [(f"clip{i}.wav", 0.3 * torch.randn(2 * cfg.data.segment, generator=g))
             for i in range(cfg.train.batch_size)]
    return build_vocoder_trainer(vocoder, disc, cfg.train, clips, run_dir, segment=cfg.data.segment,
                                 mel_weight=cfg.objective.mel_weight, stft_weight=cfg.objective.stft_weight,
                                 loss_fmax=cfg.mel.loss_fmax, repeats=cfg.data.repeats,
                                 mel_loss=cfg.objective.mel_loss)


def made_up_sentences(vocab: int, max_len: int, n: int) -> list[str]:
    """``n`` sentences of random made-up words (``vocab`` of them), the first one ``max_len`` words long."""
    g = torch.Generator().manual_seed(0)
    lengths = [max_len] + torch.randint(max(1, max_len // 3), max_len + 1, (n - 1,), generator=g).tolist()
    words = torch.randint(vocab, (sum(lengths),), generator=g).tolist()
    words[:vocab] = range(min(vocab, len(words)))  # every word occurs
    out, pos = [], 0
    for k in lengths:
        out.append(" ".join(f"w{w}" for w in words[pos:pos + k]))
        pos += k
    return out


def build_text(recipe: types.ModuleType, cfg: Any, run_dir: str, tiny: bool) -> multigan.Trainer:
    """The recipe's tokenizer, generator and discriminator on made-up sentences (COCO sizes unless tiny)."""
    from multigan.text.architectures import build_discriminator, build_generator
    from multigan.text.data import TokenIdsDataset, onehot_collate
    from multigan.text.tokenizer import WordTokenizer

    lines = made_up_sentences(30, 5, 16) if tiny else made_up_sentences(4600, 37, 2000)
    tok = WordTokenizer.train(lines, cfg.data.max_length or None, cfg.data.min_frequency)
    gen = build_generator(cfg.generator, tok)
    disc = build_discriminator(cfg.discriminator, tok)
    gen.set_inverse_temperature(1.0)  # the recipe's schedule starts there
    t = cfg.train
    kwargs = {"collate_fn": onehot_collate(tok.vocab_size)} if t.r1_gamma > 0 or t.gp_weight > 0 else {}
    return multigan.Trainer(gen, disc, t, TokenIdsDataset(tok.encode_batch(lines)), run_dir, **kwargs)


_HIFI_TINY = ["train.batch_size=2", "data.segment=512", "generator.upsample_initial_channel=32",
              "discriminator.mpd.channels_scale=0.0625", "discriminator.msd.channels_scale=0.0625"]
_BIGVGAN_TINY = ["train.batch_size=2", "data.segment=4096", "generator.upsample_initial_channel=64",
                 "generator.resblock_kernel_sizes=[3]", "generator.resblock_dilation_sizes=[[1,3,5]]",
                 "discriminator.mpd.channels_scale=0.0625", "discriminator.cqt.filters=4",
                 "discriminator.cqt.max_filters=8"]
_TEXT_TINY = ["train.batch_size=2", "generator.relgan.head_size=8", "generator.relgan.embed_dim=8",
              "generator.gpt2.n_embd=16", "generator.gpt2.n_layer=1", "discriminator.cnn.embed_dim=8",
              "discriminator.cnn.num_rep=8", "discriminator.cnn.num_filters=[4,4,4,4]", "discriminator.cnn.hidden=8",
              "discriminator.bert.hidden_size=16", "discriminator.bert.num_layers=1",
              "discriminator.bert.intermediate_size=32"]
MODELS = {
    "toy": ModelSpec("toy_ring", "ToyRingConfig", "cpu", build_toy, ["train.batch_size=1024"],
                     ["train.batch_size=8", "data.size=64", "model.g_hidden=16", "model.d_hidden=16"]),
    "specgan": ModelSpec("fsdd_specgan", "FSDDSpecGANConfig", "gpu", build_fsdd, [],
                         ["train.batch_size=2", "model.size=16", "model.n_fft=32", "model.hop=8", "model.z_dim=8",
                          "model.g_dim=4", "model.d_dim=4"]),
    "wavegan": ModelSpec("fsdd_wavegan", "FSDDWaveGANConfig", "gpu", build_fsdd, [],
                         ["train.batch_size=2", "model.length=1024", "model.z_dim=8", "model.g_dim=2",
                          "model.d_dim=2"]),
    "hifigan_v1": ModelSpec("ljspeech_hifigan", "HiFiGANRecipeConfig", "v1", build_vocoder, [], _HIFI_TINY),
    "hifigan_v3": ModelSpec("ljspeech_hifigan", "HiFiGANRecipeConfig", "v3", build_vocoder, [], _HIFI_TINY),
    **{f"bigvgan_{rate}": ModelSpec("ljspeech_bigvgan", "BigVGANRecipeConfig", f"bigvgan-v2-{rate}", build_vocoder,
                                    [], _BIGVGAN_TINY) for rate in ("22k", "24k", "44k")},
    "relgan": ModelSpec("coco_relgan", "CocoRelGANConfig", "gpu", build_text, [], _TEXT_TINY),
    "transformer": ModelSpec("coco_relgan", "CocoRelGANConfig", "transformer", build_text, [], _TEXT_TINY),
}


def run_one(name: str, precision: str, args: argparse.Namespace, cap_s: float) -> dict:
    """Build a fresh trainer for one model and precision, warm up, time; never raises (errors become rows)."""
    spec, cuda = MODELS[name], args.device == "cuda"
    row: dict[str, Any] = {"model": name, "recipe": spec.recipe, "preset": spec.preset, "precision": precision,
                           "status": "ok", "finite": None, "steps_per_s": None, "samples_per_s": None,
                           "peak_mem_mib": None, "message": ""}
    trainer, wall = None, time.perf_counter()
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        with tempfile.TemporaryDirectory(prefix="gpu_check_") as run_dir:
            recipe = load_recipe(spec.recipe)
            cfg = resolve_config(getattr(recipe, spec.config), recipe.PRESETS[spec.preset], None,
                                 [*COMMON, *(spec.tiny if args.tiny else spec.full), f"train.device={args.device}",
                                  f"train.mixed_precision={PRECISIONS[precision]}"], None)
            t = cfg.train
            row.update(batch=t.batch_size * t.grad_accum, n_critic=t.n_critic, loss=t.loss)
            torch.manual_seed(0)
            trainer = spec.build(recipe, cfg, run_dir, args.tiny)
            row["params_m"] = round(sum(p.numel() for m in (trainer.G, trainer.D) for p in m.parameters()) / 1e6, 3)
            for _ in range(args.warmup):
                losses = trainer.train_step()
            warm = 0  # fp16: the GradScaler skips steps while its scale falls; those would flatter the timing
            while (trainer.d_skipped or trainer.g_skipped) and warm < 30:
                losses, warm = trainer.train_step(), warm + 1
            row["skipped_warmup_steps"] = warm
            if cuda:
                torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while n < args.steps and (n < min(2, args.steps) or time.perf_counter() - t0 < cap_s):
                losses = trainer.train_step()
                n += 1
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            rate = n / seconds
            row.update(timed_steps=n, seconds=round(seconds, 3), steps_per_s=round(rate, 3),
                       samples_per_s=round(rate * row["batch"], 1), finite=all(map(math.isfinite, losses.values())),
                       losses={k: float(f"{v:.4g}") for k, v in losses.items()})
            scalers = {k: getattr(trainer, f"scaler_{k}", None) for k in ("g", "d")}
            if all(sc is not None and sc.is_enabled() for sc in scalers.values()):  # fp16: where the scales ended
                row["grad_scale"] = {k: sc.get_scale() for k, sc in scalers.items()}
    except multigan.TrainingDiverged as exc:
        row.update(status="diverged", finite=False, message=str(exc))
    except multigan.MultiganError as exc:
        refused = precision == "fp16" and "fp16" in str(exc) and "cuda" in str(exc).lower()
        row.update(status="skipped" if refused else "error", message=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken model must not stop the others
        row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:2000])
    finally:
        del trainer
        gc.collect()
        row["wall_seconds"] = round(time.perf_counter() - wall, 2)
        if cuda:
            try:
                row["peak_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
                torch.cuda.empty_cache()
            except RuntimeError as exc:  # a broken CUDA context: keep the row
                row["message"] += f" (CUDA: {exc})"
    return row


def ratios(rows: list[dict]) -> dict[str, dict[str, float | None]]:
    """bf16/fp32 and fp16/fp32 of steps/s per model (None where either run has no rate)."""
    rate = {(r["model"], r["precision"]): r["steps_per_s"] for r in rows}
    out = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        base = rate.get((model, "fp32"))
        out[model] = {f"{p}/fp32": (round(rate[(model, p)] / base, 3) if base and rate.get((model, p)) else None)
                      for p in ("bf16", "fp16")}
    return out


def print_table(rows: list[dict], ratio: dict) -> None:
    """A readable summary of the rows on stdout."""
    fmt = "{:<12}{:<6}{:<10}{:>9}{:>11}{:>11}{:>8}{:>9}"
    print(fmt.format("model", "prec", "status", "steps/s", "samples/s", "peak MiB", "finite", "x fp32"))
    for r in rows:
        x = ratio[r["model"]].get(f"{r['precision']}/fp32") if r["precision"] != "fp32" else r["steps_per_s"] and 1.0
        cells = [r["steps_per_s"], r["samples_per_s"], r["peak_mem_mib"], r["finite"], x]
        print(fmt.format(r["model"], r["precision"], r["status"], *["-" if c is None else str(c) for c in cells]))
        if r["message"]:
            print(f"    {r['message'].splitlines()[0][:160]}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--steps``/``--warmup`` default to 20/3 (2/1 with ``--tiny``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--tiny", action="store_true", help="shrink every model and batch (CPU smoke test)")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    p.add_argument("--precisions", default="fp32,bf16,fp16", help="comma list of fp32, bf16, fp16")
    p.add_argument("--steps", type=int, help="timed steps per run (default 20; 2 with --tiny)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 3; 1 with --tiny)")
    p.add_argument("--run-seconds", type=float, default=15.0, help="stop timing a run after this (>= 2 steps)")
    p.add_argument("--budget", type=float, default=400.0, help="seconds: shortens later runs' timing to fit")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave torch's setting)")
    p.add_argument("--out", default="benchmarks/results/gpu_check.json")
    args = p.parse_args(argv)
    args.models, args.precisions = args.models.split(","), args.precisions.split(",")
    for value, valid, opt in ((args.models, MODELS, "--models"), (args.precisions, PRECISIONS, "--precisions")):
        if unknown := [v for v in value if v not in valid]:
            p.error(f"{opt}: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error(f"--device cuda: no CUDA device is available to torch {torch.__version__}; use --device cpu --tiny")
    args.steps = args.steps if args.steps is not None else (2 if args.tiny else 20)
    if args.steps < 1:
        p.error("--steps must be >= 1")
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 3)
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run every (model, precision), write the JSON (after each run) and print the table; returns the JSON."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda, start, rows = args.device == "cuda", time.perf_counter(), []
    result = {
        "benchmark": "gpu_check",
        "command": " ".join(["benchmarks/gpu_check.py", *(sys.argv[1:] if argv is None else argv)]),
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "multigan": multigan.__version__, "tiny": args.tiny, "warmup": args.warmup, "steps": args.steps,
        "run_seconds": args.run_seconds, "threads": torch.get_num_threads(),
    }
    out = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = [(m, p) for m in args.models for p in args.precisions]
    for i, (model, precision) in enumerate(runs):
        cap = min(args.run_seconds, max(2.0, (args.budget - (time.perf_counter() - start)) / (len(runs) - i)))
        rows.append(run_one(model, precision, args, cap))
        result.update(total_seconds=round(time.perf_counter() - start, 1), rows=rows, ratios=ratios(rows))
        out.write_text(json.dumps(result, indent=2) + "\n")  # a run cut short keeps what it measured
        r = rows[-1]
        print(f"[{result['total_seconds']:6.1f} s] {model} {precision}: {r['status']}"
              + (f", {r['steps_per_s']} steps/s" if r["steps_per_s"] else "")
              + (f", {r['message'].splitlines()[0][:120]}" if r["message"] else ""), flush=True)
    print_table(rows, result["ratios"])
    print(f"{result['total_seconds']} s; wrote {out}")
    return result


if __name__ == "__main__":
    main()
