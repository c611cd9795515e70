"""The generator contract: what the trainer exports and :func:`multigan.export.load` rebuilds."""
from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn


class ExportableGenerator(nn.Module):
    """Base class for generators the trainer can export and :func:`load` can rebuild.

    Subclasses call ``super().__init__(**their_constructor_kwargs)`` -- the kwargs are kept in
    ``self.config`` (JSON-serialisable) and passed back to the constructor by :func:`load`. They implement
    ``forward(noise, cond=None)`` and ``sample_noise(batch, device)`` (return ``None`` when the model is purely
    conditional, e.g. a vocoder). Optional: ``export_assets(folder)`` / ``load_assets(folder)``.

    ``sample_options`` names the keyword options its ``write_samples`` accepts besides ``n``, ``out`` and
    ``seed`` (``multigan generate`` refuses the others with one clear error).
    """

    sample_options: tuple[str, ...] = ()

    def __init__(self, **config: Any):
        super().__init__()
        json.dumps(config)  # fail early, with the offending value, if a kwarg cannot be exported
        self.config = dict(config)

    def export_config(self) -> dict:
        """Constructor arguments that rebuild this generator."""
        return dict(self.config)

    def check_meta(self, meta: dict) -> None:
        """Raise a :class:`~multigan.errors.MultiganError` saying what is wrong when an export's ``meta`` holds an
        entry this generator reads but cannot use (checked at load, not at first use)."""

    def match_export(self, names: set[str]) -> None:
        """Before an export's tensors (``names``) are checked against this model: change form if the export was
        saved in another valid form (a vocoder folds its weight norm when the export holds folded weights)."""

    def sample_noise(self, batch: int, device: torch.device | str = "cpu",
                     generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Latent noise for ``batch`` samples (None for purely conditional generators)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Device of the first parameter (CPU for a parameter-less module)."""
        return next(self.parameters(), torch.empty(0)).device
