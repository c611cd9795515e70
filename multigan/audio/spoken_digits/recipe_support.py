"""What the spoken-digit recipes (WaveGAN, SpecGAN) share: data settings, validation and the final report.

:func:`train_digit_gan` runs the core trainer with :func:`make_digit_validation` as its validation
callback (a fixed-seed set of samples per class, scored by the digit classifier, with per-digit audio and a
spectrogram grid in TensorBoard and the run directory), then evaluates the export into ``metrics.json``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from ...config import AtLeastOne, ConfigError, NonNegative
from ...export import load
from ...recipe import RunArgs, finish, fit
from ...trainer import Trainer
from ..dataset import AudioFolder, Label
from ..generation import AudioGenerator
from ..io import save_wav
from ..plots import close_figure, spectrogram_grid
from .data import FSDD_PATTERN, fsdd_split, require_split
from .evaluator import DigitEvaluator

__all__ = ["RESUMABLE", "DigitEval", "FSDDData", "fsdd_train_set", "make_digit_validation", "train_digit_gan"]

log = logging.getLogger("multigan")


@dataclass
class FSDDData:
    """Where the recordings are and how clips become fixed-length training examples."""

    path: str = ""  # the FSDD recordings folder (a recipe's --data)
    sample_rate: Annotated[int, AtLeastOne] = 8000
    conditional: bool = True  # condition on the digit (from the file name)
    skip_bad: bool = True  # FSDD holds two clips longer than 1.25 s: skip (and name) them
    max_excess: Annotated[float, NonNegative] = 0.25
    in_memory: bool = True  # decode the training clips once at start; false: read each item from its file

    def validate(self) -> None:
        """A recordings folder must be given."""
        if not self.path:
            raise ConfigError("path: no FSDD recordings folder given (set data.path or pass --data)")


@dataclass
class DigitEval:
    """The digit-classifier evaluation used for validation, early stopping and the final report."""

    enabled: bool = True
    per_class: Annotated[int, AtLeastOne] = 30  # samples per digit at each validation
    final_per_class: Annotated[int, AtLeastOne] = 100  # samples per digit for the final report
    cache_dir: str = ""  # classifier cache ("" = $MULTIGAN_CACHE or ~/.cache/multigan)


def fsdd_train_set(data: FSDDData, canvas: int) -> AudioFolder:
    """The official training split (takes 5-49) on a ``canvas``-sample canvas, end-padded."""
    return AudioFolder(data.path, data.sample_rate, canvas, label_pattern=FSDD_PATTERN if data.conditional else None,
                       split="train", split_fn=fsdd_split, skip_bad=data.skip_bad, max_excess=data.max_excess,
                       cache=data.in_memory, option_prefix="data.")


#: Config keys a ``--resume`` of a digit recipe may change (how the same clips are read).
RESUMABLE = ("data.in_memory",)


def digits_of(labels: torch.Tensor | None, label_names: Sequence[Label]) -> torch.Tensor | None:
    """Class indices -> the digits they stand for (a model trained on digits 5-7 has classes 0-2)."""
    if labels is None:
        return None
    return torch.tensor([int(label_names[int(i)]) for i in labels.cpu()], dtype=torch.long)


def make_digit_validation(evaluate: Callable[[torch.Tensor, torch.Tensor | None], dict],
                          label_names: Sequence[Label], per_class: int = 50, keep_wavs: int = 1,
                          seed: int = 1234) -> Callable:
    """A validation callback: ``per_class`` samples of every class (one class if unconditional), scored by
    ``evaluate(wavs, digits) -> metrics``; audio/images go to TensorBoard and ``run_dir/samples/step-N/``.
    ``label_names`` names each class index (the digit it stands for)."""

    def validate(ctx) -> dict:
        g: AudioGenerator = ctx.generator
        classes = g.num_classes or 1
        wavs = g.generate(per_class * classes, seed=seed)
        metrics = evaluate(wavs, digits_of(g.labels_for(per_class * classes, None), label_names))
        folder = Path(ctx.run_dir) / "samples" / f"step-{ctx.step:08d}"
        show = list(range(classes))  # the first sample of each class (labels cycle 0, 1, 2, ...)
        names = [f"digit {label_names[i]}" if g.num_classes else f"sample {i}" for i in show]
        for i in show:
            for k in range(keep_wavs):  # sample i + k * classes has class i
                stem = label_names[i] if g.num_classes else i
                save_wav(folder / f"{stem}_{k}.wav", wavs[i + k * classes], g.sample_rate)
            if ctx.writer is not None:
                ctx.writer.add_audio(f"audio/{i}", wavs[i].unsqueeze(0), ctx.step, g.sample_rate)
        fig = spectrogram_grid(wavs[show], names, g.sample_rate, folder / "spectrograms.png")
        if ctx.writer is not None:
            ctx.writer.add_figure("spectrograms", fig, ctx.step)
        else:
            close_figure(fig)
        return metrics

    return validate


def train_digit_gan(cfg, run: RunArgs, generator: nn.Module, discriminator: nn.Module, dataset: Dataset,
                    recipe: str, label_names: Sequence[Label] = (), collate_fn: Callable | None = None) -> dict:
    """Train with digit-classifier validation, then evaluate the export and write ``metrics.json``.

    ``label_names`` are the digits of the class indices (``AudioFolder.classes``); they are stored in the
    export, so that ``generate(label=5)`` means the digit 5 whichever digits the model was trained on.
    """
    label_names = list(label_names) or list(range(getattr(generator, "num_classes", 0)))
    if cfg.eval.enabled:  # the final report's real-test anchors: check now, not after training
        require_split(cfg.data.path, "test", "the final evaluation's real-data anchors need "
                      "(or set eval.enabled=false)")
    # the evaluator trains (or loads) the classifier: only when evaluation is on
    evaluator = DigitEvaluator(cfg.data.path, cache_dir=cfg.eval.cache_dir or None) if cfg.eval.enabled else None
    # without the evaluator, validation still logs audio and spectrograms (and returns no metrics)
    score = evaluator.evaluate if evaluator else (lambda wavs, labels: {})
    validate = make_digit_validation(score, label_names, cfg.eval.per_class if evaluator else 1)
    if evaluator is None and cfg.train.early_stop_metric:
        log.info("evaluation is off: early stopping on %s is disabled", cfg.train.early_stop_metric)
        cfg.train.early_stop_metric, cfg.train.patience = "", 0
    kwargs = {"collate_fn": collate_fn} if collate_fn else {}
    trainer = Trainer(generator, discriminator, cfg.train, dataset, run.out, validate=validate,
                      meta={"recipe": recipe, "label_names": [str(x) for x in label_names]}, **kwargs)
    result, seconds = fit(trainer, run)
    if not trainer.rt.is_main:
        return {}
    g = load(run.out)
    report = {"recipe": recipe, "steps": result.step, "export_step": g.export_meta["step"],
              "train_seconds": round(seconds, 1), "stop_reason": result.stop_reason}
    if evaluator is not None:
        n = cfg.eval.final_per_class * max(g.num_classes, 1)
        wavs = g.generate(n, seed=0)
        report.update(evaluator.evaluate(wavs, digits_of(g.labels_for(n, None), label_names)))
        report["anchors"] = evaluator.anchors(n)
        g.write_samples(2 * max(g.num_classes, 1), run.out / "final_samples", seed=0)
    log.info("final report: %s", json.dumps(report))
    return finish(run, report)
