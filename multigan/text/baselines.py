"""MLE baselines of another architecture beside a finished text run, at the run's compute (e.g. GPT-2-shaped).

:func:`train_baseline` trains a generator built from a :class:`~multigan.text.architectures.GeneratorConfig`
(GPT-2 from a transformers config: nothing is downloaded) by maximum likelihood on the run's own training split
and tokenizer, for as many CPU seconds as the run spent training its generator (MLE pretraining plus the
adversarial stage, from ``metrics.json``), selecting the epoch by validation NLL. It writes
``RUN/mle_NAME/`` (the MLE loop's files) with an export in ``RUN/mle_NAME/export``, which
:func:`multigan.text.frontier.run_contenders` scores as one more MLE curve, labelled by :func:`baseline_label`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import yaml

from .. import rng
from ..checkpoint import export_generator
from ..errors import MultiganError
from .architectures import GeneratorConfig, build_generator
from .data import read_lines, split_lines
from .mle import pretrain_mle
from .tokenizer import FILE_NAME, WordTokenizer

__all__ = ["BASELINE_PREFIX", "baseline_folders", "baseline_label", "run_compute", "run_corpus", "train_baseline"]

log = logging.getLogger("multigan")
BASELINE_PREFIX = "mle_"  # RUN/mle_NAME/export holds a baseline (mle/ and mle_matched/ hold no export)


def baseline_label(name: str) -> str:
    """``gpt2`` -> ``"MLE, gpt2 (matched compute)"``."""
    return f"MLE, {name} (matched compute)"


def baseline_folders(run: str | Path) -> list[Path]:
    """The baseline folders of ``run`` that hold an export, sorted by name."""
    return sorted(p.parent.parent for p in Path(run).glob(f"{BASELINE_PREFIX}*/export/generator.json"))


def run_compute(run: str | Path) -> float:
    """CPU seconds the run spent training its generator: MLE pretraining plus the adversarial stage."""
    path = Path(run) / "metrics.json"
    if not path.is_file():
        raise MultiganError(f"{run}: no metrics.json (the run has not finished)")
    compute = json.loads(path.read_text()).get("compute", {})
    try:
        return float(compute["mle_cpu_seconds"]) + float(compute["adversarial_cpu_seconds"])
    except (KeyError, TypeError):
        raise MultiganError(f"{path}: no mle_cpu_seconds / adversarial_cpu_seconds under 'compute'") from None


def run_corpus(run: str | Path, root: str | Path = ".") -> tuple[WordTokenizer, torch.Tensor, torch.Tensor]:
    """The run's tokenizer and its training / validation ids, re-split from ``config.yaml``'s data section
    (``data.path`` relative to ``root``, the directory the recipe ran in)."""
    run = Path(run)
    data = yaml.safe_load((run / "config.yaml").read_text())["data"]
    lines = read_lines(Path(root) / data["path"])
    if data.get("max_sentences"):
        lines = lines[:data["max_sentences"]]
    train, val = split_lines(lines, data["val_fraction"], data["split_seed"], data["path"])
    tok = WordTokenizer.load(run / FILE_NAME)
    return tok, tok.encode_batch(train), tok.encode_batch(val)


def train_baseline(run: str | Path, name: str, gen_cfg: GeneratorConfig, lr: float = 5e-4, batch_size: int = 64,
                   grad_clip: float = 1.0, seed: int = 0, budget_s: float | None = None, root: str | Path = ".",
                   max_batches: int = 0) -> dict:
    """Train the baseline ``RUN/mle_NAME`` for ``budget_s`` CPU seconds (default :func:`run_compute`); returns
    its summary (also in the export's metadata). A finished baseline is not retrained."""
    if not name or not name.replace("_", "").isalnum():
        raise MultiganError(f"baseline name must be letters, digits or '_', got {name!r}")
    run = Path(run)
    budget = run_compute(run) if budget_s is None else float(budget_s)
    if budget <= 0:
        raise MultiganError(f"the baseline's compute budget must be > 0 CPU seconds, got {budget}")
    tok, train_ids, val_ids = run_corpus(run, root)
    out = run / f"{BASELINE_PREFIX}{name}"
    with rng.isolated():
        torch.manual_seed(seed)
        gen = build_generator(gen_cfg, tok)
        result = pretrain_mle(gen, train_ids, val_ids, out, 0, batch_size, lr, grad_clip=grad_clip, seed=seed,
                              max_seconds=budget, clock="cpu", max_batches=max_batches)
    summary = {"label": baseline_label(name), "arch": gen_cfg.arch, "budget_cpu_seconds": round(budget, 1),
               "cpu_seconds": result.cpu_seconds, "epochs": result.epochs, "best_epoch": result.best_epoch,
               "best_nll": result.best_nll, "lr": lr, "batch_size": batch_size, "seed": seed,
               "parameters": sum(p.numel() for p in gen.parameters())}
    gen.attach_tokenizer(tok)
    export_generator(gen, out / "export", summary)
    log.info("%s: epoch %d of %d kept, validation NLL %.4f, %.0f CPU seconds", summary["label"], result.best_epoch,
             result.epochs, result.best_nll, result.cpu_seconds)
    return summary
