"""Text GAN on COCO captions: MLE pretraining, then RelGAN-style adversarial training.

    python recipes/coco_relgan.py --data ../shared/data/coco-captions/image_coco.txt --out runs/coco_relgan
    python recipes/coco_relgan.py --preset gpu --data TRAIN.txt --test TEST.txt --out runs/coco_relgan_gpu
    python recipes/coco_relgan.py --preset transformer --data TRAIN.txt --out runs/coco_gpt2

Stages, all in ``--out``:

1. ``tokenizer.json`` -- a word-level vocabulary of the training part (a validation part is split off the
   ``--data`` file for NLL and model selection);
2. ``mle/`` -- teacher-forcing pretraining, the epoch with the lowest validation NLL is kept
   (``mle/metrics.json``: its BLEU / self-BLEU / NLL); skipped when ``--resume`` finds it done;
3. adversarial training with the core trainer (relativistic loss, ``n_critic`` D steps per G step, the
   generator's inverse temperature following ``temperature.schedule`` up to ``temperature.maximum`` over
   ``train.max_steps``), validated every ``train.val_every`` steps (BLEU-2..5 against ``--test`` or the
   validation part, self-BLEU, NLL_gen; text samples in TensorBoard); the best ``eval.score`` is exported;
4. ``mle_matched/`` -- with ``mle.matched_compute`` (``wall`` or ``cpu`` clock), MLE training continued from
   stage 2's selected weights (where stage 3 starts) for as long as stage 3 ran, with a fresh optimiser at
   ``mle.matched_lr`` (default: the generator's adversarial learning rate ``train.g_lr``), keeping the best
   validation NLL as stage 2 does: the baseline at equal compute;
5. ``frontier.json`` / ``frontier.png`` (and TensorBoard ``logs/frontier``) -- the quality-diversity
   frontiers of the GAN, the MLE generators and real text over ``eval.frontier_temperatures``
   (:mod:`multigan.text.frontier`; BLEU references and NLL_gen text: ``references.txt``, written into the run;
   the real-text point: ``eval.frontier_samples`` lines of ``--data`` that are not references);
6. ``metrics.json`` (MLE vs exported adversarial generator, compute, frontier gaps) and ``samples.txt``.

The frontier is the same as ``multigan eval-text RUN --references RUN/references.txt --real DATA -n N
--temperatures ...``.

``mle.joint_weight`` > 0 adds that many times the MLE loss of the real batch to the generator's adversarial
loss (a hybrid objective; 0, the default, is RelGAN).

``eval.score`` = mean(BLEU-3, BLEU-4, BLEU-5) - 5 * max(0, self-BLEU-2 - eval.self_bleu_cap): quality,
unless diversity collapses.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch

import multigan
from multigan.config import AtLeastOne, ConfigError, NonNegative, Positive, Range
from multigan.distributed import Runtime
from multigan.recipe import RunArgs, finish, fit, run_recipe
from multigan.text.architectures import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from multigan.text.data import TokenIdsDataset, onehot_collate, read_lines, split_lines
from multigan.text.evaluation import evaluate_generator
from multigan.text.frontier import evaluate_frontier, run_contenders
from multigan.text.frontier_plot import log_frontier, write_report
from multigan.text.generator import TemperatureSchedule, TextGenerator
from multigan.text.metrics import BleuReferences
from multigan.text.mle import is_done, load_pretrained, mle_term, pretrain_mle
from multigan.text.tokenizer import FILE_NAME, WordTokenizer

log = logging.getLogger("multigan")


@dataclass
class DataConfig:
    """Where the sentences come from and how they are split and tokenised."""

    path: str = "../shared/data/coco-captions/image_coco.txt"
    test: str = ""  # BLEU references; "" = the validation part of ``path``
    val_fraction: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.1
    split_seed: int = 0
    max_sentences: Annotated[int, NonNegative] = 0  # use only the first N lines of ``path`` (0 = all; for smoke tests)
    max_length: Annotated[int, NonNegative] = 0  # word tokens per sentence; 0 = the longest training sentence (37 on COCO)
    min_frequency: Annotated[int, AtLeastOne] = 1


@dataclass
class MLEConfig:
    """Teacher-forcing pretraining."""

    epochs: Annotated[int, NonNegative] = 150
    batch_size: Annotated[int, AtLeastOne] = 64
    lr: Annotated[float, Positive] = 1e-2
    grad_clip: Annotated[float, NonNegative] = 5.0
    patience: Annotated[int, NonNegative] = 0  # epochs without a lower validation NLL before stopping (0 = run all)
    select: Literal["best", "last"] = "best"  # the epoch kept: lowest validation NLL, or the last (RelGAN)
    max_batches: Annotated[int, NonNegative] = 0  # per epoch (0 = all; for smoke tests)
    # continue MLE after the adversarial stage for as long as it ran, by this clock ("off" = don't): mle_matched/
    matched_compute: Literal["off", "wall", "cpu"] = "wall"
    matched_lr: Annotated[float, NonNegative] = 0.0  # its learning rate; 0 = train.g_lr (what the generator trains at in the GAN stage)
    joint_weight: Annotated[float, NonNegative] = 0.0  # the MLE loss of real batches added to G's adversarial loss (0 = a pure GAN)


@dataclass
class TemperatureConfig:
    """The generator's inverse temperature during adversarial training (1 -> maximum over train.max_steps)."""

    maximum: Annotated[float, Positive] = 100.0
    schedule: Literal["exp", "linear", "constant"] = "exp"


@dataclass
class EvalConfig:
    """Validation: sample counts and the model-selection score."""

    samples: Annotated[int, AtLeastOne] = 1000
    self_bleu_samples: Annotated[int, NonNegative] = 0  # 0 = all samples
    temperature: Annotated[float, Positive] = 1.0
    text_samples: Annotated[int, NonNegative] = 10  # sentences logged to TensorBoard
    self_bleu_cap: float = 0.9
    fixed_self_bleu: bool = False
    final_samples: int = 1000  # written to samples.txt
    frontier_samples: int = 1000  # sentences per temperature (and real sentences) for frontier.json; 0 = none
    frontier_temperatures: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)


@dataclass
class CocoRelGANConfig:
    """Everything the recipe reads."""

    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    mle: MLEConfig = field(default_factory=MLEConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: multigan.TrainConfig = field(default_factory=multigan.TrainConfig)


_ADV = {"loss": "rpgan", "batch_size": 64, "n_critic": 5, "g_lr": 1e-4, "d_lr": 1e-4, "betas": [0.9, 0.999],
        "ema_decay": 0.0, "early_stop_metric": "score", "early_stop_mode": "max"}

PRESETS = {
    # a small relational memory and a narrow CNN D, one thread (OpenMP threads spin on a shared machine);
    # early stopping after 3 validations without a better score
    "cpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 64}},
        "discriminator": {"arch": "cnn", "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [64, 64, 64, 64]}},
        "mle": {"epochs": 10, "batch_size": 64, "lr": 1e-2, "patience": 3, "matched_compute": "cpu"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 1000, "frontier_samples": 2000},
        "train": {**_ADV, "max_steps": 400, "n_critic": 3, "g_lr": 1e-4, "d_lr": 1e-4, "val_every": 50,
                  "ckpt_every": 50, "patience": 3, "log_every": 10, "device": "cpu", "cpu_threads": 1},
    },
    # the published RelGAN COCO setup
    "gpu": {
        "generator": {"arch": "relgan", "relgan": {"embed_dim": 32, "mem_slots": 1, "num_heads": 2, "head_size": 256}},
        "discriminator": {"arch": "cnn",
                          "cnn": {"embed_dim": 64, "num_rep": 64, "num_filters": [300, 300, 300, 300]}},
        "mle": {"epochs": 150, "batch_size": 64, "lr": 1e-2, "select": "last"},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 2000},
        "train": {**_ADV, "max_steps": 3000, "val_every": 100, "ckpt_every": 500, "patience": 10,
                  "log_every": 50, "device": "auto"},
    },
    # GPT-2 generator (soft tokens through inputs_embeds) against a BERT-style encoder
    "transformer": {
        "generator": {"arch": "gpt2", "gpt2": {"n_embd": 256, "n_layer": 4, "n_head": 4, "dropout": 0.1}},
        "discriminator": {"arch": "bert", "bert": {"hidden_size": 256, "num_layers": 3, "num_heads": 4,
                                                   "intermediate_size": 512, "dropout": 0.1}},
        "mle": {"epochs": 40, "batch_size": 64, "lr": 5e-4, "grad_clip": 1.0, "patience": 5},
        "temperature": {"maximum": 100.0, "schedule": "exp"},
        "eval": {"samples": 2000},
        "train": {**_ADV, "max_steps": 3000, "val_every": 100, "ckpt_every": 500, "patience": 10,
                  "log_every": 50, "device": "auto"},
    },
}


def selection_score(metrics: dict, cap: float) -> float:
    """mean(BLEU-3..5) minus 5 x (self-BLEU-2 above ``cap``): what the best checkpoint is chosen by."""
    quality = (metrics["bleu3"] + metrics["bleu4"] + metrics["bleu5"]) / 3
    return quality - 5.0 * max(0.0, metrics["self_bleu2"] - cap)


def _log_samples(writer, tag: str, sentences: list[list[str]], step: int, k: int) -> None:
    if writer is not None and k > 0:
        writer.add_text(tag, "\n".join(f"    {' '.join(s)}" for s in sentences[:k]), step)


#: What this recipe writes into the run directory besides the trainer's outputs (``--overwrite`` deletes them).
OUTPUTS = ("mle", "mle_matched", FILE_NAME, "samples.txt", "references.txt", "frontier.json", "frontier.png")


def _fresh_start(out: Path) -> None:
    """Without --resume, earlier stages in ``out`` (tokenizer, MLE) are not reused."""
    for name in OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


@dataclass
class Corpus:
    """The tokenised training and validation parts and the BLEU references."""

    tokenizer: WordTokenizer
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    references: BleuReferences
    references_name: str
    reference_lines: list[str]
    lines: list[str]  # every sentence of --data used (the real-text point draws from those not in the references)


def prepare_corpus(cfg: DataConfig, out: Path, runtime: Runtime) -> Corpus:
    """Split ``--data``, train (or reload) the tokenizer, encode both parts, read the references."""
    lines = read_lines(cfg.path)
    if cfg.max_sentences:
        lines = lines[:cfg.max_sentences]
    train_lines, val_lines = split_lines(lines, cfg.val_fraction, cfg.split_seed, cfg.path)
    if not val_lines:
        raise ConfigError("data.val_fraction must be > 0: the validation part selects the MLE epoch")
    ref_lines = read_lines(cfg.test) if cfg.test else val_lines
    tok_file = out / FILE_NAME
    if tok_file.is_file():
        tokenizer = WordTokenizer.load(tok_file)
    else:
        tokenizer = WordTokenizer.train(train_lines, cfg.max_length or None, cfg.min_frequency)
        if runtime.is_main:
            tokenizer.save(tok_file)
    if runtime.is_main:
        (out / "references.txt").write_text("".join(f"{line}\n" for line in ref_lines))
    log.info("tokenizer: %s; %d training, %d validation sentences, %d references (%s)", tokenizer.describe(),
             len(train_lines), len(val_lines), len(ref_lines), cfg.test or "validation part")
    return Corpus(tokenizer, tokenizer.encode_batch(train_lines), tokenizer.encode_batch(val_lines),
                  BleuReferences([tokenizer.split(s) for s in ref_lines], max_order=5),
                  cfg.test or f"validation part ({len(ref_lines)} sentences)", ref_lines, lines)


class TextEvaluator:
    """BLEU / self-BLEU / NLL_gen of a generator's samples, plus the model-selection ``score``."""

    def __init__(self, corpus: Corpus, cfg: EvalConfig):
        self.corpus, self.cfg = corpus, cfg

    def __call__(self, g: TextGenerator, seed: int = 0) -> tuple[dict, list[list[str]]]:
        e = self.cfg
        metrics, hyps = evaluate_generator(
            g, self.corpus.references, e.samples, seed=seed, temperature=e.temperature, nll_ids=self.corpus.val_ids,
            self_bleu_samples=e.self_bleu_samples or None, fixed_self_bleu=e.fixed_self_bleu)
        metrics["score"] = selection_score(metrics, e.self_bleu_cap)
        return metrics, hyps

    def validation(self, generator: TextGenerator):
        """The trainer's validation callback: metrics of the EMA generator, G's inverse temperature, samples."""
        def validate(ctx: multigan.ValidationContext) -> dict:
            metrics, hyps = self(ctx.generator)
            metrics["inv_temperature"] = float(generator.inv_temperature)
            _log_samples(ctx.writer, "samples/adversarial", hyps, ctx.step, self.cfg.text_samples)
            return metrics
        return validate


def mle_stage(cfg: CocoRelGANConfig, run: RunArgs, runtime: Runtime, gen: TextGenerator, corpus: Corpus,
              evaluate: TextEvaluator) -> dict:
    """Teacher-forcing pretraining on the main process (skipped when done); the others load its weights."""
    mle_dir = run.out / "mle"
    if run.init_from:
        log.info("--init-from: MLE pretraining skipped (weights come from %s)", run.init_from)
        return {}
    if not runtime.is_main:
        _wait_for(mle_dir)
        load_pretrained(gen, mle_dir)
        return {}
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(str(run.out / "logs" / "mle"))

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
        with multigan.rng.isolated():
            metrics, hyps = evaluate(gen)
        metrics.update(best_epoch=result.best_epoch, epochs=result.epochs, seconds=result.seconds,
                       cpu_seconds=result.cpu_seconds)
        metrics_file.write_text(json.dumps(metrics, indent=2))
        _log_samples(writer, "samples/mle", hyps, result.best_epoch, cfg.eval.text_samples)
    writer.close()
    log.info("MLE generator (epoch %d): %s", result.best_epoch, _short(metrics))
    return metrics


def train(cfg: CocoRelGANConfig, run: RunArgs) -> dict:
    """Tokenizer, MLE pretraining, adversarial training, final evaluation (see the module docstring)."""
    t_cfg, e_cfg = cfg.train, cfg.eval
    runtime = Runtime.create(t_cfg)  # sets the CPU threads before the MLE stage
    multigan.rng.seed_everything(t_cfg.seed)
    if not run.resume and runtime.is_main:
        _fresh_start(run.out)
    runtime.barrier()
    corpus = prepare_corpus(cfg.data, run.out, runtime)
    gen = build_generator(cfg.generator, corpus.tokenizer)
    disc = build_discriminator(cfg.discriminator, corpus.tokenizer)
    log.info("generator %s: %.2f M parameters; discriminator %s: %.2f M", type(gen).__name__,
             sum(p.numel() for p in gen.parameters()) / 1e6, type(disc).__name__,
             sum(p.numel() for p in disc.parameters()) / 1e6)
    evaluate = TextEvaluator(corpus, e_cfg)
    joint = _joint_mle_loss(cfg.mle, gen)
    mle_metrics = mle_stage(cfg, run, runtime, gen, corpus, evaluate)

    collate = {}
    if t_cfg.r1_gamma > 0 or t_cfg.gp_weight > 0:  # they need gradients w.r.t. a float real input
        collate = {"collate_fn": onehot_collate(corpus.tokenizer.vocab_size)}
    schedule = TemperatureSchedule(gen, t_cfg.max_steps, cfg.temperature.maximum, cfg.temperature.schedule)
    trainer = multigan.Trainer(gen, disc, t_cfg, TokenIdsDataset(corpus.train_ids), run.out,
                               validate=evaluate.validation(gen), runtime=runtime, callbacks=[schedule],
                               extra_losses=joint, meta={"recipe": "coco_relgan"}, **collate)
    cpu_start = time.process_time()
    result, seconds = fit(trainer, run)
    cpu_seconds = time.process_time() - cpu_start
    if not runtime.is_main:
        return {}

    exported = multigan.load(run.out, device=runtime.device)
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
               "config": {"generator": asdict(cfg.generator)}}
    log.info("exported generator (step %s): %s", summary["export_step"], _short(adv_metrics))
    return finish(run, summary, {"mle": _short(mle_metrics), "adversarial": _short(adv_metrics),
                                 "frontier": summary["frontier"]})


def _joint_mle_loss(cfg: MLEConfig, gen: TextGenerator) -> list:
    """``mle.joint_weight`` as the trainer's extra generator loss (none when 0)."""
    if cfg.joint_weight < 0:
        raise ConfigError(f"mle.joint_weight must be >= 0, got {cfg.joint_weight}")
    return [multigan.ExtraLoss("mle", cfg.joint_weight, mle_term(gen))] if cfg.joint_weight else []


def matched_mle_stage(cfg: CocoRelGANConfig, run: RunArgs, runtime: Runtime, corpus: Corpus,
                      spent: dict[str, float]) -> dict:
    """``mle.matched_compute``: continue MLE from ``mle/`` for the adversarial stage's ``spent`` seconds (by the
    configured clock) into ``mle_matched/``; skipped when off, without an MLE stage, or when already done.

    On ``--resume``, ``spent`` is this invocation's adversarial time only.
    """
    m = cfg.mle
    if m.matched_compute == "off" or not is_done(run.out / "mle"):
        return {}
    gen = build_generator(cfg.generator, corpus.tokenizer)
    budget, lr = spent[m.matched_compute], m.matched_lr or cfg.train.g_lr
    with multigan.rng.isolated():
        result = pretrain_mle(gen, corpus.train_ids, corpus.val_ids, run.out / "mle_matched", 0, m.batch_size, lr,
                              grad_clip=m.grad_clip, seed=cfg.train.seed, device=runtime.device,
                              max_batches=m.max_batches, select=m.select, start_from=run.out / "mle",
                              max_seconds=budget, clock=m.matched_compute)
    log.info("MLE with matched compute (%.0f %s seconds): epoch %d of %d kept, validation NLL %.4f per token",
             budget, m.matched_compute, result.best_epoch, result.epochs, result.best_nll)
    return {"clock": m.matched_compute, "budget_seconds": round(budget, 1), "lr": lr, "seconds": result.seconds,
            "cpu_seconds": result.cpu_seconds, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "best_nll": result.best_nll}


def frontier_stage(cfg: CocoRelGANConfig, run: RunArgs, runtime: Runtime, corpus: Corpus) -> dict:
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
    write_report(report, run.out / "frontier.json")
    from torch.utils.tensorboard import SummaryWriter
    with SummaryWriter(str(run.out / "logs" / "frontier")) as writer:
        log_frontier(writer, report)
    return {"gan_above_mle": {k: v["above"] for k, v in report["gaps"].items()},
            "seconds": round(time.perf_counter() - start, 1)}


def _wait_for(mle_dir: Path, poll_s: float = 5.0) -> None:
    """Wait (without a collective, which would time out) until the main process has finished MLE."""
    while not is_done(mle_dir):
        time.sleep(poll_s)


def _short(metrics: dict) -> dict:
    keys = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "nll_gen", "nll_gen_sentence", "nll_self", "score")
    return {k: round(metrics[k], 4) for k in keys if k in metrics}


def _add_arguments(parser) -> None:
    parser.add_argument("--data", help="training text file, one sentence per line (data.path)")
    parser.add_argument("--test", help="reference sentences for BLEU (data.test); default: the validation part")


def _apply_arguments(args) -> list[str]:
    extra = []
    if args.data:
        extra.append(f"data.path={args.data}")
    if args.test:
        extra.append(f"data.test={args.test}")
    return extra


def main(argv=None) -> dict:
    """Entry point (also used by tests and benchmarks)."""
    return run_recipe(CocoRelGANConfig, PRESETS, train, description=__doc__.splitlines()[0],
                      default_out="runs/coco_relgan", add_arguments=_add_arguments,
                      apply_arguments=_apply_arguments, outputs=OUTPUTS,
                      argv=argv)


if __name__ == "__main__":
    main()
