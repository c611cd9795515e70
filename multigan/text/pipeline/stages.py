"""The pipeline's stages around the adversarial one: MLE pretraining, MLE at matched compute, the frontier."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ... import rng
from ...config import ConfigError
from ...distributed import Runtime
from ...recipe import RunArgs
from ...trainer import ExtraLoss
from ..architectures import build_generator
from ..frontier import evaluate_frontier, run_contenders
from ..frontier_plot import log_frontier, write_report
from ..generator import TextGenerator
from ..mle import is_done, load_pretrained, mle_term, pretrain_mle
from .config import MLEConfig, TextGANConfig
from .corpus import Corpus
from .scoring import TextEvaluator, log_samples, short_metrics

__all__ = ["FRONTIER_FILE", "MATCHED_DIR", "MLE_DIR", "frontier_stage", "joint_mle_loss", "matched_mle_stage",
           "mle_stage", "wait_for_mle"]

log = logging.getLogger("multigan")

#: Where the stages write, relative to the run directory.
MLE_DIR, MATCHED_DIR, FRONTIER_FILE = "mle", "mle_matched", "frontier.json"


def _summary_writer(folder: Path):
    from torch.utils.tensorboard import SummaryWriter  # tensorboard is imported only when a stage logs

    return SummaryWriter(str(folder))


def mle_stage(cfg: TextGANConfig, run: RunArgs, runtime: Runtime, gen: TextGenerator, corpus: Corpus,
              evaluate: TextEvaluator) -> dict:
    """Teacher-forcing pretraining on the main process (skipped when done); the others load its weights."""
    mle_dir = run.out / MLE_DIR
    if run.init_from:
        log.info("--init-from: MLE pretraining skipped (weights come from %s)", run.init_from)
        return {}
    if not runtime.is_main:
        wait_for_mle(mle_dir)
        load_pretrained(gen, mle_dir)
        return {}
    writer = _summary_writer(run.out / "logs" / "mle")

    def on_epoch(epoch: int, metrics: dict) -> None:
        for k, v in metrics.items():
            if k != "epoch":
                writer.add_scalar(f"mle/{k}", v, epoch)

    m = cfg.mle
    result = pretrain_mle(gen, corpus.train_ids, corpus.val_ids, mle_dir, m.epochs, m.batch_size, m.lr,
                          grad_clip=m.grad_clip, patience=m.patience, seed=cfg.train.seed, device=runtime.device,
                          on_epoch=on_epoch, max_batches=m.max_batches, select=m.select)
    metrics_file = mle_dir / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    else:
        with rng.isolated():
            metrics, hyps = evaluate(gen)
        metrics.update(best_epoch=result.best_epoch, epochs=result.epochs, seconds=result.seconds,
                       cpu_seconds=result.cpu_seconds)
        metrics_file.write_text(json.dumps(metrics, indent=2))
        log_samples(writer, "samples/mle", hyps, result.best_epoch, cfg.eval.text_samples)
    writer.close()
    log.info("MLE generator (epoch %d): %s", result.best_epoch, short_metrics(metrics))
    return metrics


def joint_mle_loss(cfg: MLEConfig, gen: TextGenerator) -> list:
    """``mle.joint_weight`` as the trainer's extra generator loss (none when 0)."""
    if cfg.joint_weight < 0:
        raise ConfigError(f"mle.joint_weight must be >= 0, got {cfg.joint_weight}")
    return [ExtraLoss("mle", cfg.joint_weight, mle_term(gen))] if cfg.joint_weight else []


def matched_mle_stage(cfg: TextGANConfig, run: RunArgs, runtime: Runtime, corpus: Corpus,
                      spent: dict[str, float]) -> dict:
    """``mle.matched_compute``: continue MLE from ``mle/`` for the adversarial stage's ``spent`` seconds (by the
    configured clock) into ``mle_matched/``; skipped when off, without an MLE stage, or when already done.

    On ``--resume``, ``spent`` is this invocation's adversarial time only.
    """
    m = cfg.mle
    if m.matched_compute == "off" or not is_done(run.out / MLE_DIR):
        return {}
    gen = build_generator(cfg.generator, corpus.tokenizer)
    budget, lr = spent[m.matched_compute], m.matched_lr or cfg.train.g_lr
    with rng.isolated():
        result = pretrain_mle(gen, corpus.train_ids, corpus.val_ids, run.out / MATCHED_DIR, 0, m.batch_size, lr,
                              grad_clip=m.grad_clip, seed=cfg.train.seed, device=runtime.device,
                              max_batches=m.max_batches, select=m.select, start_from=run.out / MLE_DIR,
                              max_seconds=budget, clock=m.matched_compute)
    log.info("MLE with matched compute (%.0f %s seconds): epoch %d of %d kept, validation NLL %.4f per token",
             budget, m.matched_compute, result.best_epoch, result.epochs, result.best_nll)
    return {"clock": m.matched_compute, "budget_seconds": round(budget, 1), "lr": lr, "seconds": result.seconds,
            "cpu_seconds": result.cpu_seconds, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "best_nll": result.best_nll}


def frontier_stage(cfg: TextGANConfig, run: RunArgs, runtime: Runtime, corpus: Corpus) -> dict:
    """``frontier.json`` / ``frontier.png`` and TensorBoard ``logs/frontier``; returns whether the GAN beats
    an MLE curve anywhere (``frontier_gaps``' ``above``) and the seconds the evaluation took."""
    e = cfg.eval
    if not e.frontier_samples:
        return {}
    start = time.perf_counter()
    report = evaluate_frontier(run_contenders(run.out, str(runtime.device)), corpus.reference_lines,
                               e.frontier_temperatures, e.frontier_samples, seed=0, real_lines=corpus.lines,
                               self_bleu_samples=e.self_bleu_samples or None,
                               references_name=corpus.references_name, real_name=cfg.data.path)
    write_report(report, run.out / FRONTIER_FILE)
    with _summary_writer(run.out / "logs" / "frontier") as writer:
        log_frontier(writer, report)
    return {"gan_above_mle": {k: v["above"] for k, v in report["gaps"].items()},
            "seconds": round(time.perf_counter() - start, 1)}


def wait_for_mle(mle_dir: Path, poll_s: float = 5.0) -> None:
    """Wait (without a collective, which would time out) until the main process has finished MLE."""
    while not is_done(mle_dir):
        time.sleep(poll_s)
