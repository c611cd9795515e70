"""The config sections of the text GAN pipeline (:func:`~multigan.text.pipeline.runner.train_text_gan`).

A recipe composes them in :class:`TextGANConfig` (or a subclass that only changes defaults, such as the
data file) and adds its presets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from ...config import AtLeastOne, ConfigError, NonNegative, Positive, Range
from ...train_config import TrainConfig
from ..architectures import PER_TOKEN_DISCRIMINATORS, DiscriminatorConfig, GeneratorConfig

__all__ = ["DataConfig", "EvalConfig", "MLEConfig", "ObjectiveConfig", "TemperatureConfig", "TextGANConfig",
           "check_objective"]


@dataclass
class DataConfig:
    """Where the sentences come from and how they are split and tokenised."""

    path: str = ""  # training text file, one sentence per line (a recipe's --data)
    test: str = ""  # BLEU references; "" = the validation part of ``path``
    val_fraction: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.1
    split_seed: int = 0
    max_sentences: Annotated[int, NonNegative] = 0  # use only the first N lines of ``path`` (0 = all; for smoke tests)
    max_length: Annotated[int, NonNegative] = 0  # word tokens per sentence; 0 = the longest training sentence
    min_frequency: Annotated[int, AtLeastOne] = 1

    def validate(self) -> None:
        """A text file must be given."""
        if not self.path:
            raise ConfigError("path: no training text file given (set data.path or pass --data)")


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
    # its learning rate; 0 = train.g_lr (what the generator trains at in the GAN stage)
    matched_lr: Annotated[float, NonNegative] = 0.0
    # the MLE loss of real batches added to G's adversarial loss (0 = a pure GAN)
    joint_weight: Annotated[float, NonNegative] = 0.0


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
class ObjectiveConfig:
    """The adversarial objective: RelGAN's Gumbel-softmax or ScratchGAN's REINFORCE (:mod:`.objective`)."""

    kind: Literal["gumbel", "reinforce"] = "gumbel"
    gamma: Annotated[float, Range(min=0, max=1)] = 0.23  # reward discount (reinforce)
    baseline_decay: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.08  # moving average (reinforce)
    d_l2: Annotated[float, NonNegative] = 0.0  # L2 penalty on D's weights (reinforce presets: ScratchGAN's 1e-7)


def check_objective(objective: ObjectiveConfig, discriminator: DiscriminatorConfig) -> None:
    """REINFORCE needs a per-token discriminator (one logit per position): one :class:`ConfigError` otherwise."""
    if objective.kind == "reinforce" and discriminator.arch not in PER_TOKEN_DISCRIMINATORS:
        raise ConfigError(f"objective.kind=reinforce needs a per-token discriminator: discriminator.arch must be "
                          f"one of {', '.join(PER_TOKEN_DISCRIMINATORS)}, got {discriminator.arch}")


@dataclass
class TextGANConfig:
    """Everything the pipeline reads."""

    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    mle: MLEConfig = field(default_factory=MLEConfig)
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)  # RelGAN's (default) or ScratchGAN's

    def validate(self) -> None:
        """REINFORCE needs a per-token discriminator."""
        check_objective(self.objective, self.discriminator)
