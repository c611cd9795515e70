"""The pipeline's corpus: the split of the data file, the tokenizer, the encoded parts and the BLEU references."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ...config import ConfigError
from ...distributed import Runtime
from ..data import read_lines, split_lines
from ..metrics import BleuReferences
from ..tokenizer import FILE_NAME, WordTokenizer
from .config import DataConfig

__all__ = ["REFERENCES_FILE", "Corpus", "prepare_corpus"]

log = logging.getLogger("multigan")

#: The BLEU references, one sentence per line, as written into the run directory.
REFERENCES_FILE = "references.txt"


@dataclass
class Corpus:
    """The tokenised training and validation parts and the BLEU references."""

    tokenizer: WordTokenizer
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    references: BleuReferences
    references_name: str
    reference_lines: list[str]
    lines: list[str]  # every sentence used (the real-text point draws from those not in the references)


def prepare_corpus(cfg: DataConfig, out: Path, runtime: Runtime) -> Corpus:
    """Split the data file, train (or reload) the tokenizer, encode both parts, read the references.

    The main process writes the tokenizer (when it trained one) and ``references.txt`` into ``out``.
    """
    lines = read_lines(cfg.path)
    if cfg.max_sentences:
        lines = lines[:cfg.max_sentences]
    train_lines, val_lines = split_lines(lines, cfg.val_fraction, cfg.split_seed, cfg.path)
    if not val_lines:
        raise ConfigError("data.val_fraction must be > 0: the validation part selects the MLE epoch")
    ref_lines = read_lines(cfg.test) if cfg.test else val_lines
    tok_file = out / FILE_NAME
    if tok_file.is_file():
        tokenizer = WordTokenizer.load(tok_file)
    else:
        tokenizer = WordTokenizer.train(train_lines, cfg.max_length or None, cfg.min_frequency)
        if runtime.is_main:
            tokenizer.save(tok_file)
    if runtime.is_main:
        (out / REFERENCES_FILE).write_text("".join(f"{line}\n" for line in ref_lines))
    log.info("tokenizer: %s; %d training, %d validation sentences, %d references (%s)", tokenizer.describe(),
             len(train_lines), len(val_lines), len(ref_lines), cfg.test or "validation part")
    return Corpus(tokenizer, tokenizer.encode_batch(train_lines), tokenizer.encode_batch(val_lines),
                  BleuReferences([tokenizer.split(s) for s in ref_lines], max_order=5),
                  cfg.test or f"validation part ({len(ref_lines)} sentences)", ref_lines, lines)
