"""What the spoken-digit recipes (WaveGAN, SpecGAN) share: data settings, evaluation and the final report."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import Dataset

from ..generator import load
from ..recipe import RunArgs, fit
from ..trainer import Trainer
from .dataset import AudioFolder, fsdd_split
from .digit_samples import make_digit_validation

log = logging.getLogger("multigan")


@dataclass
class FSDDData:
    """Where the recordings are and how clips become fixed-length training examples."""

    path: str = "../shared/data/fsdd/recordings"
    sample_rate: int = 8000
    conditional: bool = True  # condition on the digit (from the file name)
    skip_bad: bool = True  # FSDD holds two clips longer than 1.25 s: skip (and name) them
    max_excess: float = 0.25


@dataclass
class DigitEval:
    """The digit-classifier evaluation used for validation, early stopping and the final report."""

    enabled: bool = True
    per_class: int = 30  # samples per digit at each validation
    final_per_class: int = 100  # samples per digit for the final report
    cache_dir: str = ""  # classifier cache ("" = $MULTIGAN_CACHE or ~/.cache/multigan)


def fsdd_train_set(data: FSDDData, canvas: int) -> AudioFolder:
    """The official training split (takes 5-49) on a ``canvas``-sample canvas, end-padded."""
    return AudioFolder(data.path, data.sample_rate, canvas, split="train", split_fn=fsdd_split,
                       skip_bad=data.skip_bad, max_excess=data.max_excess,
                       **({} if data.conditional else {"label_pattern": None}))


def _evaluator(data: FSDDData, ev: DigitEval, device: torch.device):
    from .digits import DigitEvaluator  # trains (or loads) the classifier: only when evaluation is on

    return DigitEvaluator(data.path, device=device, cache_dir=ev.cache_dir or None)


def train_digit_gan(cfg, run: RunArgs, generator: nn.Module, discriminator: nn.Module, dataset: Dataset,
                    recipe: str, collate_fn: Callable | None = None) -> dict:
    """Train with digit-classifier validation, then evaluate the export and write ``metrics.json``."""
    evaluator = _evaluator(cfg.data, cfg.eval, torch.device("cpu")) if cfg.eval.enabled else None
    # without the evaluator, validation still logs audio and spectrograms (and returns no metrics)
    score = evaluator.evaluate if evaluator else (lambda wavs, labels: {})
    validate = make_digit_validation(score, cfg.eval.per_class if evaluator else 1)
    if evaluator is None and cfg.train.early_stop_metric:
        log.info("evaluation is off: early stopping on %s is disabled", cfg.train.early_stop_metric)
        cfg.train.early_stop_metric, cfg.train.patience = "", 0
    kwargs = {"collate_fn": collate_fn} if collate_fn else {}
    trainer = Trainer(generator, discriminator, cfg.train, dataset, run.out, validate=validate,
                      meta={"recipe": recipe}, **kwargs)
    result, seconds = fit(trainer, run)
    if not trainer.rt.is_main:
        return {}
    g = load(run.out)
    report = {"recipe": recipe, "steps": result.step, "export_step": g.export_meta["step"],
              "train_seconds": round(seconds, 1), "stop_reason": result.stop_reason}
    if evaluator is not None:
        n = cfg.eval.final_per_class * max(g.num_classes, 1)
        wavs = g.generate(n, seed=0)
        labels = g.labels_for(n, None)
        report.update(evaluator.evaluate(wavs, None if labels is None else labels.cpu()))
        report["anchors"] = evaluator.anchors(n)
        g.write_samples(2 * max(g.num_classes, 1), Path(run.out) / "final_samples", seed=0)
    (Path(run.out) / "metrics.json").write_text(json.dumps(report, indent=2))
    log.info("final report: %s", json.dumps(report))
    print(json.dumps(report))
    return report
