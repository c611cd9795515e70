"""Reading other people's torch files safely: ``torch.load(..., weights_only=True)`` and nothing else.

A torch checkpoint is a pickle; a full unpickle runs whatever code the file names. :func:`read_torch_file`
only ever calls ``torch.load(path, map_location="cpu", weights_only=True)``, which accepts tensors and plain
containers, and turns every failure (a file that needs more, a truncated or corrupt file, a missing one) into
one :class:`~multigan.errors.MultiganError` naming the file.
"""
from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any, Union

import torch

from ..errors import MultiganError

__all__ = ["TorchFileError", "read_torch_file"]


class TorchFileError(MultiganError):
    """A torch file is missing, damaged, or needs more than tensors and plain containers to load."""


def _unsupported_global(message: str) -> str:
    """The class a weights-only load refused, as torch's message names it (``''`` when it does not)."""
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message) or re.search(r"GLOBAL ([\w.]+)", message)
    return m.group(1) if m else ""


def read_torch_file(path: Union[str, os.PathLike], what: str = "torch file") -> Any:
    """The content of torch file ``path``, read with ``weights_only=True`` onto the CPU.

    Args:
        path: the file.
        what: what the file should be, for messages (e.g. ``"--generator"``).

    Raises:
        TorchFileError: the file does not exist, is truncated or corrupt, or holds objects other than tensors
            and plain containers (arbitrary pickled objects are refused, never unpickled).
    """
    path = Path(path)
    if not path.is_file():
        raise TorchFileError(f"{what} {path}: {'is not a file' if path.exists() else 'does not exist'}")
    try:
        with warnings.catch_warnings():  # torch's remarks on pickle protocols are noise here
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        name = _unsupported_global(str(exc))
        detail = f" (it names {name})" if name else ""
        raise TorchFileError(f"{what} {path}: refused: the file needs arbitrary pickled objects{detail}, not just "
                             "tensors; multigan reads torch files with weights_only=True only. Re-save its "
                             "tensors (e.g. torch.save(state_dict, ...)) from a trusted environment") from None
    except Exception as exc:  # zip reader, EOF and unpickler errors of truncated or corrupt files
        text = str(exc).strip()
        first = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__
        raise TorchFileError(f"{what} {path}: not a readable torch file (truncated or corrupt: {first})") from None
