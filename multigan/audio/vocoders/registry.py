"""The vocoder generator families by name: what :class:`~multigan.audio.vocoders.vocoder.Vocoder` builds.

A family is one module holding its network, its typed config section and its checks (e.g.
:mod:`multigan.audio.vocoders.hifigan`) plus one line in :data:`GENERATORS`. The network class:

* takes ``n_mels`` and ``hop_size`` keyword arguments (the vocoder fills them from its mel settings);
* derives from :class:`multigan.ExportableGenerator` (``config`` rebuilds it);
* has a classmethod ``validate_config(**kwargs)`` raising a :class:`~multigan.errors.MultiganError` for
  inconsistent arguments, without building anything;
* has ``remove_weight_norm()`` for inference (returning ``self``; a no-op when it has no weight norm);
* has ``forward(noise, cond=mel)`` returning ``[B, 1, frames * hop_size]`` in ``[-1, 1]``.

Its config section is a dataclass of the constructor's other arguments with a class attribute ``family``
(its name here) and ``keys`` (the config keys a failed check names); a recipe's ``generator`` section is
that dataclass.
"""
from __future__ import annotations

from ...errors import MultiganError
from ...generator import ExportableGenerator
from .bigvgan import BigVGANGenerator
from .hifigan import HiFiGANGenerator
from .vocos import VocosGenerator

__all__ = ["GENERATORS", "VocoderConfigError", "generator_family"]

#: Vocoder generator families by the name an export records (``generator_class``); the first is the default.
GENERATORS: dict[str, type[ExportableGenerator]] = {
    "hifigan": HiFiGANGenerator,
    "vocos": VocosGenerator,
    "bigvgan": BigVGANGenerator,
}


class VocoderConfigError(MultiganError, ValueError):
    """Inconsistent vocoder settings (a user error: recipes print it as one line)."""


def generator_family(name: str) -> type[ExportableGenerator]:
    """The network class of family ``name``; raises :class:`VocoderConfigError` naming the families there are."""
    if name not in GENERATORS:
        raise VocoderConfigError(f"unknown generator_class {name!r}; available: {sorted(GENERATORS)}")
    return GENERATORS[name]
