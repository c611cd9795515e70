"""The vocoder pipeline, whatever the generator family: config in, run out.

:func:`train_vocoder` takes a vocoder recipe's config (the sections of :mod:`multigan.audio.vocoders.sections`,
a family's ``generator`` section and a ``discriminator`` section listing discriminators by name and weight),
builds the :class:`~multigan.audio.vocoders.vocoder.Vocoder` and its discriminators from it
(:func:`build_models`), splits the clips (deterministically, recorded in ``run_dir/split.json``), trains with
LSGAN + feature matching + mel L1 (+ optional multi-resolution STFT) through :func:`build_vocoder_trainer`,
validates on the full held-out clips beside a Griffin-Lim baseline, exports the best mel L1, then scores the
export (``metrics.json``, ``samples/``). The config is read, never written: what the run derives (the LR
decay interval of one epoch) goes into the trainer's own copy of ``train``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import asdict
from typing import Any, Callable, Optional, Sequence

from torch import nn

from ...config import ConfigError
from ...distributed import is_main_process
from ...errors import MultiganError
from ...export import load
from ...recipe import RunArgs, finish, fit
from ...rng import seed_everything
from ...train_config import TrainConfig
from ...trainer import ExtraLoss, Trainer, ValidationContext
from ..features import LogMel
from ..io import save_wav
from ..mel_front_end import resolve_front_end
from ..losses import MelL1, MultiScaleMelL1, stft_loss
from .data.aligned import aligned_crops
from .data.clips import Clip, SegmentDataset, VocoderDataError, validation_clips
from .data.corpus import VocoderCorpus
from .evaluation.report import write_report
from .init import init_from_imported
from .mel_input import dataset_mel_statistics
from .metrics import GriffinLimBaseline, VocoderValidator
from .vocoder import Vocoder

__all__ = ["OUTPUTS", "RECIPE_WIRING", "RESUMABLE", "add_arguments", "apply_arguments", "build_models",
           "build_vocoder", "build_vocoder_trainer", "steps_per_epoch", "train_vocoder"]

log = logging.getLogger("multigan")

#: What :func:`train_vocoder` writes into a run directory besides the core trainer's outputs.
OUTPUTS = ("split.json", "griffin_lim", "samples", "report.json", "report.html", "report_files")
#: Config keys a ``--resume`` may change: how the same clips are read, not which (same crops either way).
RESUMABLE = ("data.in_memory", "data.index_cache", "data.index_workers")


def steps_per_epoch(n_clips: int, repeats: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps in one pass over ``n_clips * repeats`` items (incomplete batches are dropped)."""
    return max(1, (n_clips * repeats) // (batch_size * world_size))


def build_vocoder(cfg: Any) -> Vocoder:
    """The vocoder of ``cfg.generator`` (a family's section: its ``family`` names the network) on ``cfg.mel``."""
    gen = cfg.generator
    return Vocoder(generator=asdict(gen), mel=cfg.mel.input_settings(), generator_class=type(gen).family)


def build_models(cfg: Any) -> tuple[Vocoder, nn.Module]:
    """The vocoder of ``cfg.generator`` on ``cfg.mel``, then the discriminators of ``cfg.discriminator`` (in that
    order: the order of the random draws of their initial weights)."""
    vocoder = build_vocoder(cfg)
    return vocoder, cfg.discriminator.build()


def build_vocoder_trainer(vocoder: Vocoder, discriminator: nn.Module, cfg: TrainConfig, train_clips: Sequence[Clip],
                          run_dir: str | os.PathLike, *, segment: int = 8192, mel_weight: float = 45.0,
                          stft_weight: float = 0.0, loss_fmax: Optional[float] = None, repeats: int = 1,
                          mel_loss: str = "single",
                          validate: Optional[Callable[[ValidationContext], dict]] = None,
                          meta: Optional[dict] = None) -> Trainer:
    """A :class:`multigan.Trainer` for ``vocoder`` on random crops of ``train_clips`` with their input mels.

    Extra generator losses: the mel L1 (``mel_weight``, published 45) on the vocoder's mel settings with
    ``fmax=loss_fmax`` (``None``: full band; ``mel_loss="multiscale"``: :class:`MultiScaleMelL1` instead) and,
    when ``stft_weight > 0``, the multi-resolution STFT distance.
    """
    mel = vocoder.config["mel"]
    front_end = resolve_front_end(vocoder.config.get("front_end"))
    if front_end != resolve_front_end(None):  # the crops, the loss and validation compute HiFi-GAN's mels
        raise MultiganError(f"training computes its mels with the HiFi-GAN/BigVGAN front end; this vocoder's is "
                            f"{front_end.describe()}: train it with the default front end")
    # train_clips may be a ready SegmentDataset (e.g. vocoders.data.lazy.LazySegmentDataset's lazy reads)
    dataset = train_clips if isinstance(train_clips, SegmentDataset) else SegmentDataset(train_clips, segment, mel,
                                                                                            repeats)
    if mel_loss == "multiscale":
        mel_fn: nn.Module = MultiScaleMelL1(mel["sample_rate"], fmax=loss_fmax)
    else:
        mel_fn = MelL1(LogMel.from_settings({**mel, "fmax": loss_fmax}))
    extra = [ExtraLoss("mel_l1", mel_weight, mel_fn)]
    if stft_weight > 0:
        extra.append(ExtraLoss("mrstft", stft_weight, stft_loss))
    return Trainer(vocoder, discriminator, cfg, dataset, run_dir, extra_losses=extra, validate=validate, meta=meta)


def _write_split(run: RunArgs, train_names: list[str], val_names: list[str], seed: int) -> None:
    """Record the split; a resumed run must see the same one."""
    path = run.out / "split.json"
    split = {"seed": seed, "validation": val_names, "train": train_names}
    if run.resume and path.is_file():
        saved = json.loads(path.read_text())
        if saved != split:
            raise VocoderDataError(f"--resume: the clips in --data no longer give the split recorded in {path} "
                                   "(files were added, removed or renamed); resume with the original folder")
    path.write_text(json.dumps(split, indent=2) + "\n")


def train_vocoder(cfg: Any, run: RunArgs, recipe: str) -> dict:
    """Split, train, export the best mel L1, then score the export (``metrics.json``, ``samples/``).

    ``cfg`` has the sections ``data``, ``mel``, ``generator``, ``discriminator``, ``objective``, ``eval`` and
    ``train`` (see the module docstring); the models are built from it once the clips are split, after seeding.
    ``recipe`` is the calling recipe's name, recorded in the export's meta. ``cfg`` is not changed. Returns the
    summary (empty off the main process).
    """
    start = time.monotonic()
    if not cfg.data.path:
        raise ConfigError("no training data: pass --data WAV_FOLDER (or data.path=...)")
    seed_everything(cfg.train.seed)
    mel_cfg = cfg.mel.input_settings()
    corpus = VocoderCorpus(cfg.data, cfg.mel.sample_rate, min_samples=2 * cfg.mel.hop_size)  # data.val_path too
    train_clips, val_clips = corpus.train_names, corpus.validation_clips()  # names; decoded held-out clips
    if is_main_process():
        _write_split(run, train_clips, [n for n, _ in val_clips], cfg.data.split_seed)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    epoch_steps = steps_per_epoch(len(train_clips), cfg.data.repeats, cfg.train.batch_size, world)
    train_cfg = cfg.train
    if cfg.objective.lr_decay_per_epoch:  # derived, not saved: a resume derives the same value
        train_cfg = dataclasses.replace(cfg.train, lr_decay_every=epoch_steps)
    if epoch_steps < 50 and train_cfg.lr_schedule == "exponential":
        log.warning("one epoch is only %d step(s) (%d clips x data.repeats=%d / batch %d): the per-epoch LR decay "
                    "will be fast; raise data.repeats for a small dataset", epoch_steps, len(train_clips),
                    cfg.data.repeats, train_cfg.batch_size)
    vocoder, disc = build_models(cfg)
    gl = GriffinLimBaseline(mel_cfg, n_iter=cfg.eval.griffin_lim_iters) if cfg.eval.griffin_lim else None
    validator = VocoderValidator(validation_clips(val_clips, mel_cfg), mel_cfg, cfg.mel.loss_fmax,
                                 with_pesq=cfg.eval.pesq, griffin_lim=gl, log_clips=cfg.eval.log_clips,
                                 pitch=cfg.eval.pitch, mos=cfg.eval.mos)
    if is_main_process():
        validator.baseline(run.out)  # once per validation set, cached in run_dir/griffin_lim
    log.info("%d training clips (%d steps per epoch, LR x%.4g every %d steps), %d validation clips; G %.2f M, "
             "D %.2f M parameters", len(train_clips), epoch_steps, train_cfg.lr_decay, train_cfg.lr_decay_every,
             len(val_clips), _millions(vocoder), _millions(disc))
    crops = (aligned_crops(corpus, cfg.data, vocoder.config["mel"]) if cfg.data.mel_path
             else corpus.training_crops(cfg.data.segment, vocoder.config["mel"], cfg.data.repeats))
    trainer = build_vocoder_trainer(vocoder, disc, train_cfg, crops, run.out, segment=cfg.data.segment,
                                    mel_weight=cfg.objective.mel_weight, stft_weight=cfg.objective.stft_weight,
                                    loss_fmax=cfg.mel.loss_fmax, repeats=cfg.data.repeats, validate=validator,
                                    mel_loss=cfg.objective.mel_loss,
                                    meta={"recipe": recipe, "preset": run.preset,
                                          "mel_stats": dataset_mel_statistics(crops)})  # for voc(mel)'s input check
    if run.init_from and init_from_imported(trainer, run.init_from):  # a published checkpoint: D, optimizers too
        run = dataclasses.replace(run, init_from=None)
    result, seconds = fit(trainer, run)
    if corpus.read_failures:
        log.warning("%d training read(s) failed and were replaced by other clips (named in the warnings above)",
                    corpus.read_failures)
    if not trainer.rt.is_main:
        return {}
    exported = load(run.out)
    metrics, wavs = validator.evaluate(exported.generate, "cpu", run.out)
    for clip, wav in zip(validator.clips, wavs):
        stem = os.path.splitext(clip.name)[0].replace("/", "_")
        save_wav(run.out / "samples" / f"{stem}.wav", wav, cfg.mel.sample_rate)
    summary = {"export_step": exported.export_meta["step"], "steps": result.step,
               "train_seconds": round(seconds, 1), "total_seconds": round(time.monotonic() - start, 1),
               "preset": run.preset, "read_failures": corpus.read_failures,
               **{k: round(v, 4) for k, v in metrics.items()}}
    log.info("export (step %d): mel L1 %.4f (Griffin-Lim %.4f), PESQ %s (Griffin-Lim %s)", summary["export_step"],
             metrics["mel_l1"], metrics.get("gl_mel_l1", float("nan")), _fmt(metrics.get("pesq_wb")),
             _fmt(metrics.get("gl_pesq_wb")))
    if cfg.eval.report:
        name = f"{run.preset or 'vocoder'} (step {summary['export_step']})"
        outputs, rows = {name: wavs}, {name: validator.last_rows}
        gl_wavs = validator.griffin_lim_wavs(run.out)
        if gl_wavs is not None and validator.baseline_rows is not None:
            outputs["griffin-lim"], rows["griffin-lim"] = gl_wavs, validator.baseline_rows
        write_report(run.out, [(c.name, c.audio) for c in validator.clips], cfg.mel.sample_rate, outputs, rows,
                     validator.scorer)
    return finish(run, summary)


def _millions(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def add_arguments(parser: Any) -> None:
    """``--data WAV_FOLDER`` and ``--minutes M`` for a vocoder recipe's command line."""
    parser.add_argument("--data", help="folder of training clips (data.path)")
    parser.add_argument("--minutes", type=float,
                        help="wall-clock budget of this invocation (train.max_minutes; the cpu preset has 30)")


def apply_arguments(args: Any) -> list[str]:
    """``--data`` / ``--minutes`` become the overrides ``data.path=...`` / ``train.max_minutes=...``."""
    out = [f"data.path={args.data}"] if args.data else []
    return out + ([f"train.max_minutes={args.minutes}"] if args.minutes is not None else [])


#: What every vocoder recipe hands :func:`~multigan.recipe.run_recipe`: its extra options, its outputs and the
#: keys a ``--resume`` may change (``run_recipe(..., **RECIPE_WIRING)``).
RECIPE_WIRING = {"add_arguments": add_arguments, "apply_arguments": apply_arguments, "outputs": OUTPUTS,
                 "resumable": RESUMABLE}
