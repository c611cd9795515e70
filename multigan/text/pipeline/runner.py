"""The whole text GAN run: corpus, MLE pretraining, adversarial training, matched MLE, frontier, report."""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ... import rng
from ...distributed import Runtime
from ...export import load
from ...recipe import RunArgs, finish, fit
from ...trainer import Trainer
from ..architectures import build_discriminator, build_generator
from ..data import TokenIdsDataset, onehot_collate
from ..tokenizer import FILE_NAME
from .config import TextGANConfig
from .corpus import REFERENCES_FILE, prepare_corpus
from .objective import adversarial_wiring
from .scoring import TextEvaluator, short_metrics
from .stages import FRONTIER_FILE, MATCHED_DIR, MLE_DIR, frontier_stage, joint_mle_loss, matched_mle_stage, mle_stage

__all__ = ["OUTPUTS", "RECIPE_WIRING", "add_arguments", "apply_arguments", "fresh_start", "train_text_gan"]

log = logging.getLogger("multigan")

#: What :func:`train_text_gan` writes into the run directory besides the trainer's outputs (``--overwrite``
#: deletes them).
OUTPUTS = (MLE_DIR, MATCHED_DIR, FILE_NAME, "samples.txt", REFERENCES_FILE, FRONTIER_FILE, "frontier.png")


def fresh_start(out: Path) -> None:
    """Without --resume, earlier stages in ``out`` (tokenizer, MLE) are not reused: delete :data:`OUTPUTS`."""
    for name in OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def train_text_gan(cfg: TextGANConfig, run: RunArgs, recipe: str) -> dict:
    """Tokenizer, MLE pretraining, adversarial training, final evaluation (see :mod:`multigan.text.pipeline`).

    ``recipe`` names the run in the export's metadata. Returns the summary (also ``metrics.json``) on the main
    process, ``{}`` on the others. ``cfg`` is only read.
    """
    cfg.validate()
    t_cfg, e_cfg = cfg.train, cfg.eval
    runtime = Runtime.create(t_cfg)  # sets the CPU threads before the MLE stage
    rng.seed_everything(t_cfg.seed)
    if not run.resume and runtime.is_main:
        fresh_start(run.out)
    runtime.barrier()
    corpus = prepare_corpus(cfg.data, run.out, runtime)
    gen = build_generator(cfg.generator, corpus.tokenizer)
    disc = build_discriminator(cfg.discriminator, corpus.tokenizer)
    log.info("generator %s: %.2f M parameters; discriminator %s: %.2f M", type(gen).__name__,
             sum(p.numel() for p in gen.parameters()) / 1e6, type(disc).__name__,
             sum(p.numel() for p in disc.parameters()) / 1e6)
    evaluate = TextEvaluator(corpus, e_cfg)
    joint = joint_mle_loss(cfg.mle, gen)
    mle_metrics = mle_stage(cfg, run, runtime, gen, corpus, evaluate)

    collate = {}
    if t_cfg.r1_gamma > 0 or t_cfg.gp_weight > 0:  # they need gradients w.r.t. a float real input
        collate = {"collate_fn": onehot_collate(corpus.tokenizer.vocab_size)}
    callbacks, objective = adversarial_wiring(cfg.objective, cfg.temperature, gen, disc, t_cfg, runtime)
    trainer = Trainer(gen, disc, t_cfg, TokenIdsDataset(corpus.train_ids), run.out,
                      validate=evaluate.validation(gen), runtime=runtime, callbacks=callbacks, g_objective=objective,
                      extra_losses=joint, meta={"recipe": recipe}, **collate)
    cpu_start = time.process_time()
    result, seconds = fit(trainer, run)
    cpu_seconds = time.process_time() - cpu_start
    if not runtime.is_main:
        return {}

    exported = load(run.out, device=runtime.device)
    adv_metrics, _ = evaluate(exported)
    exported.write_samples(e_cfg.final_samples, run.out / "samples.txt", seed=0, temperature=e_cfg.temperature)
    matched = matched_mle_stage(cfg, run, runtime, corpus, {"wall": seconds, "cpu": cpu_seconds})
    summary = {"mle": mle_metrics, "adversarial": adv_metrics, "export_step": exported.export_meta.get("step"),
               "steps": result.step, "stop_reason": result.stop_reason,
               "compute": {"mle_seconds": mle_metrics.get("seconds"),
                           "mle_cpu_seconds": mle_metrics.get("cpu_seconds"), "adversarial_seconds": round(seconds, 1),
                           "adversarial_cpu_seconds": round(cpu_seconds, 1), "mle_matched": matched},
               "frontier": frontier_stage(cfg, run, runtime, corpus),
               "references": corpus.references_name, "tokenizer": corpus.tokenizer.describe(),
               "config": {"generator": asdict(cfg.generator), "objective": asdict(cfg.objective)}}
    log.info("exported generator (step %s): %s", summary["export_step"], short_metrics(adv_metrics))
    return finish(run, summary, {"mle": short_metrics(mle_metrics), "adversarial": short_metrics(adv_metrics),
                                 "frontier": summary["frontier"]})


def add_arguments(parser: Any) -> None:
    """``--data TEXT_FILE`` and ``--test REFERENCES_FILE`` for a text recipe's command line."""
    parser.add_argument("--data", help="training text file, one sentence per line (data.path)")
    parser.add_argument("--test", help="reference sentences for BLEU (data.test); default: the validation part")


def apply_arguments(args: Any) -> list[str]:
    """``--data`` / ``--test`` become the overrides ``data.path=...`` / ``data.test=...``."""
    extra = []
    if args.data:
        extra.append(f"data.path={args.data}")
    if args.test:
        extra.append(f"data.test={args.test}")
    return extra


#: What a text recipe hands :func:`~multigan.recipe.run_recipe` (``run_recipe(..., **RECIPE_WIRING)``).
RECIPE_WIRING = {"add_arguments": add_arguments, "apply_arguments": apply_arguments, "outputs": OUTPUTS}
