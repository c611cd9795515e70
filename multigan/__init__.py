"""multigan: adversarial training for audio and text with one modality-agnostic trainer core.

The trainer (:class:`multigan.Trainer`) alternates discriminator and generator phases; generators and
discriminators are plain ``nn.Module``\\ s following two small contracts (see the README). Trained runs
are rebuilt with :func:`multigan.load`.
"""
from . import rng
from .callbacks import Callback, TimeBudget
from .config import ConfigError
from .errors import MultiganError
from .export import load
from .generator import ExportableGenerator
from .train_config import TrainConfig
from .trainer import ExtraLoss, Trainer, TrainingDiverged, TrainResult, ValidationContext

__version__ = "0.1.0"

__all__ = [
    "Callback", "ConfigError", "ExportableGenerator", "ExtraLoss", "MultiganError", "TrainConfig", "Trainer",
    "TimeBudget", "TrainingDiverged", "TrainResult", "ValidationContext", "load", "__version__",
]


def __getattr__(name: str):
    """Sub-packages (``multigan.audio``, ``multigan.text``) load on first use."""
    if name in ("audio", "text"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'multigan' has no attribute {name!r}")
