"""The adversarial objective of a text pipeline run, shared by the COCO and the oracle pipelines.

``objective.kind=gumbel`` is RelGAN's (Gumbel-softmax soft one-hots, the inverse-temperature schedule of
``temperature``, the trainer's ``train.loss``); ``reinforce`` is ScratchGAN's (sampled tokens, a per-token
discriminator, discounted REINFORCE with a moving-average baseline, an L2 penalty on D's weights;
:mod:`multigan.text.scratchgan`). The config is :class:`~.config.ObjectiveConfig`; :func:`adversarial_wiring` turns it into what the core
:class:`~multigan.trainer.Trainer` takes: its callbacks and its ``g_objective``.
"""
from __future__ import annotations

from torch import nn

from ...callbacks import Callback
from ...config import ConfigError
from ...distributed import Runtime
from ...train_config import TrainConfig
from ..generator import TemperatureSchedule, TextGenerator
from ..scratchgan import ReinforceObjective, add_l2_penalty
from .config import ObjectiveConfig, TemperatureConfig

__all__ = ["adversarial_wiring"]


def adversarial_wiring(objective: ObjectiveConfig, temperature: TemperatureConfig, gen: TextGenerator,
                       disc: nn.Module, train: TrainConfig,
                       runtime: Runtime) -> tuple[list[Callback], ReinforceObjective | None]:
    """``(callbacks, g_objective)`` for the trainer.

    ``gumbel``: the temperature schedule, no ``g_objective`` (the trainer's own loss). ``reinforce``: the
    :class:`ReinforceObjective` (as callback and objective; it switches ``gen`` to hard samples) and D's L2
    penalty hooks; one process only.
    """
    if objective.kind == "reinforce":
        if runtime.world_size > 1:
            raise ConfigError("objective.kind=reinforce runs in one process only")
        reinforce = ReinforceObjective(gen, objective.gamma, objective.baseline_decay)
        add_l2_penalty(disc, objective.d_l2, train.grad_accum)
        return [reinforce], reinforce
    return [TemperatureSchedule(gen, train.max_steps, temperature.maximum, temperature.schedule)], None
