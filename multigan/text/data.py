"""Text files of one sentence per line, their train/validation split, and a dataset of fixed-length ids.

Items are ``{"real": LongTensor [seq_len]}`` (ids, ``<eos>`` then ``<pad>``). Discriminators embed ids with
their embedding matrix, which equals ``one_hot(ids) @ E`` without building the one-hots; when a regulariser
needs gradients with respect to the real input (R1, WGAN-GP), :func:`onehot_collate` hands float one-hots
instead.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, default_collate

from ..errors import MultiganError

log = logging.getLogger("multigan")


class TextDataError(MultiganError, ValueError):
    """A text file that cannot be used as training or reference data; the message names the file."""


def read_lines(path: str | Path) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file; empty lines are skipped and their number logged.

    Raises:
        TextDataError: the file is missing, empty, binary (NUL bytes or invalid UTF-8) or has no usable line.
    """
    path = Path(path)
    if not path.is_file():
        raise TextDataError(f"text file {path} does not exist" if not path.exists() else f"{path} is not a file")
    raw = path.read_bytes()
    if not raw:
        raise TextDataError(f"text file {path} is empty")
    if b"\x00" in raw[:1 << 20]:
        raise TextDataError(f"{path} looks binary (it contains NUL bytes): expected UTF-8 text, one sentence per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextDataError(f"{path} is not UTF-8 text (invalid byte at offset {exc.start}): expected one "
                            "sentence per line") from None
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line]
    if not kept:
        raise TextDataError(f"{path} has no usable line ({len(lines)} line(s), all empty or blank)")
    skipped = len(lines) - len(kept)
    if skipped:
        log.info("%s: skipped %d empty line(s) of %d", path, skipped, len(lines))
    return kept


def split_lines(lines: Sequence[str], val_fraction: float, seed: int = 0,
                source: str | Path = "") -> tuple[list[str], list[str]]:
    """Deterministic shuffle-split into (train, validation); ``val_fraction`` in [0, 1).

    The validation part has ``round(len * val_fraction)`` lines (at least one when the fraction is > 0).
    ``source`` (the file the lines came from) is named in the error when they are too few to split.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise TextDataError(f"validation fraction must be in [0, 1), got {val_fraction}")
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(lines) * val_fraction)) if val_fraction > 0 else 0
    if n_val >= len(lines):
        where = f"{source}: " if source else ""
        raise TextDataError(f"{where}cannot split {len(lines)} line(s) into train and validation parts "
                            f"(validation fraction {val_fraction}): at least {n_val + 1} lines are needed")
    val = [lines[i] for i in sorted(order[:n_val])]
    train = [lines[i] for i in sorted(order[n_val:])]
    return train, val


class TokenIdsDataset(Dataset):
    """Fixed-length id rows ``[N, seq_len]`` as items ``{"real": ids}``."""

    def __init__(self, ids: torch.Tensor):
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"expected a [N, seq_len] LongTensor, got {tuple(ids.shape)} {ids.dtype}")
        self.ids = ids

    @classmethod
    def from_lines(cls, lines: Sequence[str], tokenizer) -> "TokenIdsDataset":
        """Encode ``lines`` with a :class:`~multigan.text.tokenizer.WordTokenizer`."""
        return cls(tokenizer.encode_batch(lines))

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"real": self.ids[index]}


def onehot_collate(vocab_size: int):
    """A collate function whose ``real`` is float one-hots ``[B, L, V]`` (for R1 / WGAN-GP on text)."""

    def collate(items: list[dict]) -> dict:
        batch = default_collate(items)
        batch["real"] = F.one_hot(batch["real"], vocab_size).float()
        return batch

    return collate
