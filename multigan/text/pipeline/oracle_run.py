"""The synthetic-oracle benchmark run (:mod:`multigan.text.oracle`): oracle and data, MLE, adversarial, report.

Stages, all in the run directory:

1. ``oracle/`` -- the oracle (safetensors + JSON spec with its seed); the data (``oracle.n_train`` training,
   ``n_val`` validation and ``n_test`` test sentences) is drawn from it with ``oracle.data_seed``;
2. ``mle/`` -- teacher-forcing pretraining selected by the validation NLL (skipped with ``mle.epochs=0``: a
   generator trained from scratch, as ScratchGAN is);
3. adversarial training with the core trainer: ``objective.kind=gumbel`` is RelGAN's (Gumbel-softmax soft
   one-hots, temperature schedule, ``train.loss``), ``reinforce`` is ScratchGAN's (sampled tokens, per-token
   discriminator, discounted REINFORCE with a moving-average baseline; :mod:`multigan.text.scratchgan`),
   validated every ``train.val_every`` steps by ``nll_oracle`` of ``eval.samples`` samples and ``nll_gen`` of
   the validation sentences;
4. ``mle_matched/`` -- with ``mle.matched_compute``, MLE continued from ``mle/`` for as long as stage 3 ran;
5. ``oracle_report.json`` (also in ``metrics.json``) -- for the exported GAN, the MLE generator and the
   matched MLE: ``nll_oracle`` of ``eval.final_samples`` samples (seed ``eval.final_seed``, not the validation
   seed) and ``nll_gen`` of the test sentences at every ``eval.temperatures``, plus the oracle's NLL of its own
   test sentences (the floor ``nll_oracle`` can reach without copying).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

from ... import rng
from ...config import AtLeastOne, ConfigError, Positive
from ...distributed import Runtime
from ...export import load
from ...recipe import RunArgs, finish, fit
from ...train_config import TrainConfig
from ...trainer import Trainer
from ..architectures import (DiscriminatorConfig, GeneratorConfig, build_sized_discriminator,
                             build_sized_generator)
from ..data import TokenIdsDataset
from ..evaluation import nll_gen
from ..generator import TextGenerator
from ..mle import is_done, load_pretrained, pretrain_mle
from ..oracle import LSTMOracle, OracleSpec, OracleTask
from .config import MLEConfig, ObjectiveConfig, TemperatureConfig, check_objective
from .objective import adversarial_wiring

__all__ = ["ORACLE_OUTPUTS", "ObjectiveConfig", "OracleConfig", "OracleEvalConfig", "OracleGANConfig",
           "score_generator", "train_oracle_gan"]

log = logging.getLogger("multigan")
ORACLE_DIR, MLE_DIR, MATCHED_DIR, REPORT_FILE = "oracle", "mle", "mle_matched", "oracle_report.json"
#: what the run writes besides the trainer's outputs (``--overwrite`` deletes them)
ORACLE_OUTPUTS = (ORACLE_DIR, MLE_DIR, MATCHED_DIR, REPORT_FILE)


@dataclass
class OracleConfig:
    """The oracle (SeqGAN's shape by default) and how many sentences are drawn from it."""

    vocab_size: Annotated[int, AtLeastOne] = 5000
    seq_len: Annotated[int, AtLeastOne] = 20
    embed_dim: Annotated[int, AtLeastOne] = 32
    hidden_dim: Annotated[int, AtLeastOne] = 32
    init_std: Annotated[float, Positive] = 1.0
    seed: int = 0  # the oracle's weights (stored in oracle/oracle.json)
    data_seed: int = 1  # the sentences' stream
    n_train: Annotated[int, AtLeastOne] = 10_000
    n_val: Annotated[int, AtLeastOne] = 2_000
    n_test: Annotated[int, AtLeastOne] = 2_000

    def spec(self) -> OracleSpec:
        """The oracle's spec."""
        return OracleSpec(self.vocab_size, self.seq_len, self.embed_dim, self.hidden_dim, self.init_std, self.seed)


@dataclass
class OracleEvalConfig:
    """Validation and the final report."""

    samples: Annotated[int, AtLeastOne] = 2000  # generated sentences per validation (nll_oracle)
    seed: int = 1  # validation sampling seed
    final_samples: Annotated[int, AtLeastOne] = 10_000  # per point of the final report
    final_seed: int = 7
    temperatures: tuple[float, ...] = (1.0,)  # sampling temperatures of the final report


@dataclass
class OracleGANConfig:
    """Everything the oracle run reads."""

    oracle: OracleConfig = field(default_factory=OracleConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    mle: MLEConfig = field(default_factory=MLEConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    eval: OracleEvalConfig = field(default_factory=OracleEvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """The REINFORCE objective needs a per-token discriminator; temperatures must be positive."""
        check_objective(self.objective, self.discriminator)
        if not self.eval.temperatures or min(self.eval.temperatures) <= 0:
            raise ConfigError(f"eval.temperatures must be positive, got {list(self.eval.temperatures)}")


def prepare_task(cfg: OracleConfig, out: Path, runtime: Runtime) -> OracleTask:
    """The run's oracle (loaded from ``oracle/`` when there, else built from its seed and saved) and data."""
    folder = out / ORACLE_DIR
    if (folder / "oracle.json").is_file():
        oracle = LSTMOracle.load(folder)
        if oracle.spec != cfg.spec():
            raise ConfigError(f"{folder}: the stored oracle {asdict(oracle.spec)} is not the configured one "
                              f"{asdict(cfg.spec())}; start a new run (--overwrite)")
    else:
        oracle = LSTMOracle(cfg.spec())
        if runtime.is_main:
            oracle.save(folder)
    task = OracleTask(oracle, cfg.n_train, cfg.n_val, cfg.n_test, cfg.data_seed)
    log.info("oracle: %s", {k: v for k, v in task.describe().items()})
    return task


def score_generator(g: TextGenerator, task: OracleTask, n: int, seed: int, temperature: float = 1.0) -> dict:
    """``nll_oracle`` of ``n`` samples (``seed``, ``temperature``) and ``nll_gen`` of the test sentences."""
    was_training = g.training
    g.eval()
    try:
        ids = g.sample_ids(n, seed=seed, temperature=temperature)
        return {"temperature": temperature, "nll_oracle": task.nll_oracle(ids),
                "nll_gen": nll_gen(g, task.test_ids, temperature=temperature)["nll_gen"],
                "distinct_sentences": len({tuple(r) for r in ids.tolist()}) / n}
    finally:
        g.train(was_training)


def _validation(task: OracleTask, e: OracleEvalConfig, gen: TextGenerator):
    def validate(ctx) -> dict:
        ids = ctx.generator.sample_ids(e.samples, seed=e.seed)
        return {"nll_oracle": task.nll_oracle(ids), "nll_gen": nll_gen(ctx.generator, task.val_ids)["nll_gen"],
                "inv_temperature": float(gen.inv_temperature)}
    return validate


def _mle(cfg: OracleGANConfig, run: RunArgs, runtime: Runtime, gen: TextGenerator, task: OracleTask) -> dict:
    m = cfg.mle
    if m.epochs == 0 or run.init_from:
        return {}
    r = pretrain_mle(gen, task.train_ids, task.val_ids, run.out / MLE_DIR, m.epochs, m.batch_size, m.lr,
                     grad_clip=m.grad_clip, patience=m.patience, seed=cfg.train.seed, device=runtime.device,
                     max_batches=m.max_batches, select=m.select)
    log.info("MLE: epoch %d of %d kept, validation NLL_gen %.4f", r.best_epoch, r.epochs, r.best_nll)
    return {"best_epoch": r.best_epoch, "epochs": r.epochs, "val_nll_gen": r.best_nll, "seconds": r.seconds,
            "cpu_seconds": r.cpu_seconds}


def _matched(cfg: OracleGANConfig, run: RunArgs, runtime: Runtime, task: OracleTask, spent: dict) -> dict:
    m = cfg.mle
    if m.matched_compute == "off" or not is_done(run.out / MLE_DIR):
        return {}
    gen = build_sized_generator(cfg.generator, **task.generator_kwargs())
    budget, lr = spent[m.matched_compute], m.matched_lr or cfg.train.g_lr
    with rng.isolated():
        r = pretrain_mle(gen, task.train_ids, task.val_ids, run.out / MATCHED_DIR, 0, m.batch_size, lr,
                         grad_clip=m.grad_clip, seed=cfg.train.seed, device=runtime.device, max_batches=m.max_batches,
                         select=m.select, start_from=run.out / MLE_DIR, max_seconds=budget, clock=m.matched_compute)
    return {"clock": m.matched_compute, "budget_seconds": round(budget, 1), "lr": lr, "epochs": r.epochs,
            "best_epoch": r.best_epoch, "cpu_seconds": r.cpu_seconds}


def _contenders(cfg: OracleGANConfig, run: RunArgs, task: OracleTask, device) -> dict[str, TextGenerator]:
    found = {"gan": load(run.out, device=device)}
    for name, folder in (("mle", MLE_DIR), ("mle_matched", MATCHED_DIR)):
        if is_done(run.out / folder):
            g = build_sized_generator(cfg.generator, **task.generator_kwargs())
            load_pretrained(g, run.out / folder)
            found[name] = g.to(device)
    return found


def train_oracle_gan(cfg: OracleGANConfig, run: RunArgs, recipe: str) -> dict:
    """The whole oracle run (see the module docstring); returns the summary on the main process."""
    cfg.validate()
    t_cfg, e = cfg.train, cfg.eval
    runtime = Runtime.create(t_cfg)
    rng.seed_everything(t_cfg.seed)
    if not run.resume and runtime.is_main:
        for name in ORACLE_OUTPUTS:
            target = run.out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    runtime.barrier()
    task = prepare_task(cfg.oracle, run.out, runtime)
    gen = build_sized_generator(cfg.generator, **task.generator_kwargs())
    disc = build_sized_discriminator(cfg.discriminator, task.vocab_size, task.seq_len)
    log.info("generator %s: %.3f M parameters; discriminator %s: %.3f M", type(gen).__name__,
             sum(p.numel() for p in gen.parameters()) / 1e6, type(disc).__name__,
             sum(p.numel() for p in disc.parameters()) / 1e6)
    mle_info = _mle(cfg, run, runtime, gen, task)

    callbacks, objective = adversarial_wiring(cfg.objective, cfg.temperature, gen, disc, t_cfg, runtime)
    trainer = Trainer(gen, disc, t_cfg, TokenIdsDataset(task.train_ids), run.out, validate=_validation(task, e, gen),
                      runtime=runtime, callbacks=callbacks, g_objective=objective, meta={"recipe": recipe})
    cpu_start = time.process_time()
    result, seconds = fit(trainer, run)
    cpu_seconds = time.process_time() - cpu_start
    if not runtime.is_main:
        return {}
    matched = _matched(cfg, run, runtime, task, {"wall": seconds, "cpu": cpu_seconds})
    start = time.process_time()
    points = {name: [score_generator(g, task, e.final_samples, e.final_seed, t) for t in e.temperatures]
              for name, g in _contenders(cfg, run, task, runtime.device).items()}
    report = {"task": task.describe(), "objective": cfg.objective.kind, "points": points,
              "export_step": load(run.out).export_meta.get("step"), "steps": result.step,
              "stop_reason": result.stop_reason,
              "compute": {"mle": mle_info, "adversarial_seconds": round(seconds, 1),
                          "adversarial_cpu_seconds": round(cpu_seconds, 1), "mle_matched": matched,
                          "report_cpu_seconds": round(time.process_time() - start, 1)}}
    (run.out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    at_one = {name: next((p for p in pts if p["temperature"] == 1.0), pts[0]) for name, pts in points.items()}
    return finish(run, report, {name: {k: round(p[k], 4) for k in ("nll_oracle", "nll_gen")}
                                for name, p in at_one.items()})
