"""Vocoder discriminators by name, the recipe's ``discriminator`` section, and building them from it.

A discriminator is one module holding its network and a config dataclass with a ``build()`` method that returns
the network (e.g. :class:`~.mpd.MPDConfig`), plus one line in :data:`DISCRIMINATORS`. A recipe lists the ones it
trains against by name and weight::

    discriminator.use=[mpd,mrd]  discriminator.weights=[1.0,0.1]  discriminator.mrd.channels_scale=0.125

:func:`discriminator_section` makes that section: ``use``, ``weights`` and one sub-section per registered
discriminator (so a new one is configurable as soon as it is registered); :func:`build_discriminators` builds the
listed ones, in order, as one :class:`~.combined.CombinedDiscriminator`.
"""
from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Annotated, Any, Mapping, Optional, Sequence

from ....config import ConfigError, Positive
from .combined import CombinedDiscriminator
from .cqt import CQTConfig
from .mbd import MBDConfig
from .mpd import MPDConfig
from .mrd import MRDConfig
from .msd import MSDConfig

__all__ = ["DISCRIMINATORS", "build_discriminators", "discriminator_section"]

#: Discriminators by the name a recipe's ``discriminator.use`` lists: the config section of each (``build()``
#: returns the network; the section's defaults are the published settings).
DISCRIMINATORS: dict[str, type] = {
    "mpd": MPDConfig,
    "msd": MSDConfig,
    "mrd": MRDConfig,
    "cqt": CQTConfig, "mbd": MBDConfig,
}


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in DISCRIMINATORS]
    if unknown:
        raise ConfigError(f"use: unknown discriminator(s) {unknown}; available: {sorted(DISCRIMINATORS)}")
    if not names:
        raise ConfigError(f"use: name at least one discriminator (available: {sorted(DISCRIMINATORS)})")
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise ConfigError(f"use: {twice} listed twice; each discriminator has one section and one weight")


def build_discriminators(parts: Sequence[tuple[str, float]],
                         configs: Optional[Mapping[str, Any]] = None) -> CombinedDiscriminator:
    """The discriminators ``parts`` (``(name, weight)`` pairs), built in that order, as one discriminator.

    ``configs`` maps a name to its config section (a :data:`DISCRIMINATORS` dataclass); a name without one
    gets the published defaults. Raises :class:`~multigan.config.ConfigError` for unknown or repeated names.
    """
    names = [name for name, _ in parts]
    _check_names(names)
    configs = configs or {}
    built = {}
    for name in names:  # construction order = the order of the random draws of their initial weights
        cfg = configs.get(name)
        built[name] = (DISCRIMINATORS[name]() if cfg is None else cfg).build()
    return CombinedDiscriminator(built, [float(w) for _, w in parts])


def _validate(self: Any) -> None:
    """Checked when the config loads: known names, each once, one weight per name."""
    _check_names(self.use)
    if len(self.weights) != len(self.use):
        raise ConfigError(f"weights: {len(self.weights)} weight(s) {self.weights} for the {len(self.use)} "
                          f"discriminator(s) of use {self.use}: give one weight per discriminator")


def _build(self: Any) -> CombinedDiscriminator:
    """The discriminators of ``use``, weighted by ``weights``, with their sub-sections' settings."""
    return build_discriminators(list(zip(self.use, self.weights)), {n: getattr(self, n, None) for n in self.use})


def discriminator_section(use: Sequence[str], weights: Sequence[float], name: str = "DiscriminatorConfig",
                          module: Optional[str] = None) -> type:
    """A ``discriminator`` config section (a dataclass) whose defaults train against ``use`` with ``weights``.

    Fields: ``use`` (names of :data:`DISCRIMINATORS`, in the order their outputs are concatenated),
    ``weights`` (one positive factor per name on the generator's losses from it) and one sub-section per
    registered discriminator, e.g. ``mpd`` (:class:`~.mpd.MPDConfig`); ``build()`` returns the
    :class:`~.combined.CombinedDiscriminator`. ``module`` is recorded as the class's module (the recipe's).
    """
    _check_names(list(use))
    if len(weights) != len(use):
        raise ConfigError(f"discriminator_section: {len(weights)} weight(s) for {len(use)} discriminator(s)")
    defaults_use, defaults_weights = [str(n) for n in use], [float(w) for w in weights]
    fields: list[tuple[str, Any, Any]] = [
        ("use", list[str], field(default_factory=lambda: list(defaults_use))),
        ("weights", list[Annotated[float, Positive]], field(default_factory=lambda: list(defaults_weights))),
    ]
    fields += [(n, cfg, field(default_factory=cfg)) for n, cfg in DISCRIMINATORS.items()]
    namespace = {"validate": _validate, "build": _build,
                 "__doc__": f"The discriminators to train against (default {defaults_use}, weights "
                            f"{defaults_weights}) and the settings of each."}
    if module:
        namespace["__module__"] = module
    return make_dataclass(name, fields, namespace=namespace)
