"""The text GAN pipeline: MLE pretraining, then RelGAN-style adversarial training, then the baselines.

A recipe composes :class:`TextGANConfig` (its presets fill it) and calls :func:`train_text_gan`; stages, all
in the run directory:

1. ``tokenizer.json`` -- a word-level vocabulary of the training part (a validation part is split off the
   ``data.path`` file for NLL and model selection);
2. ``mle/`` -- teacher-forcing pretraining, the epoch with the lowest validation NLL is kept
   (``mle/metrics.json``: its BLEU / self-BLEU / NLL); skipped when ``--resume`` finds it done;
3. adversarial training with the core trainer (relativistic loss, ``n_critic`` D steps per G step, the
   generator's inverse temperature following ``temperature.schedule`` up to ``temperature.maximum`` over
   ``train.max_steps``), validated every ``train.val_every`` steps (BLEU-2..5 against ``data.test`` or the
   validation part, self-BLEU, NLL_gen; text samples in TensorBoard); the best ``eval.score`` is exported;
4. ``mle_matched/`` -- with ``mle.matched_compute`` (``wall`` or ``cpu`` clock), MLE training continued from
   stage 2's selected weights (where stage 3 starts) for as long as stage 3 ran, with a fresh optimiser at
   ``mle.matched_lr`` (default: the generator's adversarial learning rate ``train.g_lr``), keeping the best
   validation NLL as stage 2 does: the baseline at equal compute;
5. ``frontier.json`` / ``frontier.png`` (and TensorBoard ``logs/frontier``) -- the quality-diversity
   frontiers of the GAN, the MLE generators and real text over ``eval.frontier_temperatures``
   (:mod:`multigan.text.frontier`; BLEU references and NLL_gen text: ``references.txt``, written into the run;
   the real-text point: ``eval.frontier_samples`` lines of ``data.path`` that are not references);
6. ``metrics.json`` (MLE vs exported adversarial generator, compute, frontier gaps) and ``samples.txt``.

The frontier is the same as ``multigan eval-text RUN --references RUN/references.txt --real DATA -n N
--temperatures ...``.

``mle.joint_weight`` > 0 adds that many times the MLE loss of the real batch to the generator's adversarial
loss (a hybrid objective; 0, the default, is RelGAN).

``objective.kind=reinforce`` replaces stage 3's Gumbel-softmax objective by ScratchGAN's (sampled tokens, a
per-token LSTM discriminator, discounted REINFORCE with a moving-average baseline; :mod:`.objective`, shared
with the oracle pipeline); the temperature schedule is then off.

``eval.score`` = mean(BLEU-3, BLEU-4, BLEU-5) - 5 * max(0, self-BLEU-2 - eval.self_bleu_cap): quality,
unless diversity collapses.

Modules: :mod:`.config` (the config sections), :mod:`.corpus` (split, tokenizer, references),
:mod:`.scoring` (the evaluator and the selection score), :mod:`.stages` (MLE, matched MLE, frontier) and
:mod:`.runner` (the whole run and a recipe's command-line wiring).
"""
from .config import DataConfig, EvalConfig, MLEConfig, ObjectiveConfig, TemperatureConfig, TextGANConfig
from .corpus import Corpus, prepare_corpus
from .runner import OUTPUTS, RECIPE_WIRING, add_arguments, apply_arguments, fresh_start, train_text_gan
from .scoring import TextEvaluator, selection_score, short_metrics
from .stages import frontier_stage, joint_mle_loss, matched_mle_stage, mle_stage, wait_for_mle

__all__ = [
    "OUTPUTS", "RECIPE_WIRING", "Corpus", "DataConfig", "EvalConfig", "MLEConfig", "ObjectiveConfig", "TemperatureConfig",
    "TextEvaluator", "TextGANConfig", "add_arguments", "apply_arguments", "fresh_start", "frontier_stage",
    "joint_mle_loss", "matched_mle_stage", "mle_stage", "prepare_corpus", "selection_score", "short_metrics",
    "train_text_gan", "wait_for_mle",
]
