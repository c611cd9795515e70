"""``multigan import-checkpoint FAMILY ...``: a published vocoder checkpoint as a multigan run.

:func:`register` adds the sub-command (named in :data:`multigan.cli.SUBCOMMANDS`) with one family per source
format; a format plugs in with its module's ``register_*(families)`` and one line in :data:`FAMILIES`.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable

from .bigvgan import register_bigvgan
from .hifigan import register_hifigan
from .vocos import register_vocos

__all__ = ["FAMILIES", "register"]

#: The ``import-checkpoint`` families: each adds its parser to the families' sub-parsers.
FAMILIES: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (register_hifigan, register_vocos, register_bigvgan)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import-checkpoint hifigan ...`` and ``import-checkpoint vocos ...`` to a ``multigan`` sub-command
    parser; returns it."""
    p = subparsers.add_parser("import-checkpoint", help="convert a published vocoder checkpoint into a multigan run")
    families = p.add_subparsers(dest="family", required=True)
    for add in FAMILIES:
        add(families)
    return p
