"""Language-model scores of a generated sentence set: the LM score and the reverse-LM score.

Both train a small LSTM language model by maximum likelihood with the repository's MLE loop
(:func:`multigan.text.mle.pretrain_mle`, :class:`multigan.text.lstm.LSTMGenerator`):

* **LM score** (quality): an LM trained once on real training sentences scores the generated sentences, in nats
  per token (words and ``<eos>``). Low = the samples look like real text to a model of real text; a collapsed
  generator repeating one fluent sentence scores very well, so it says nothing about diversity.
* **Reverse-LM score** (quality and diversity; Zhao et al. 2018, Caccia et al. 2020): an LM trained on the
  generated sentences scores held-out real sentences, in nats per token. Low = the samples cover real text;
  a collapsed or off-distribution generator scores badly. Unlike NLL_gen it needs no likelihood from the
  generator, so it also scores samplers without one (nucleus sampling, whose truncated distribution gives
  held-out words probability 0).

The reverse LM selects its epoch on a held-out tenth of the generated sentences, never on the real text it is
scored on. Each reverse-LM score trains one LM: it is the slow part (see :class:`LMScoreConfig`).
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import rng
from ..errors import MultiganError
from .evaluation import nll_gen
from .generator import tokenizer_kwargs
from .lstm import LSTMGenerator
from .mle import pretrain_mle
from .tokenizer import WordTokenizer

__all__ = ["LMScoreConfig", "LMScorer", "lm_score", "reverse_lm_score", "train_lm"]

log = logging.getLogger("multigan")


@dataclass(frozen=True)
class LMScoreConfig:
    """The scoring LM (an LSTM) and its MLE training; the defaults train on 1,800 sentences in seconds."""

    embed_dim: int = 32
    hidden_dim: int = 64
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-2
    patience: int = 1
    val_fraction: float = 0.1  # of the training sentences, held out to select the epoch
    seed: int = 0

    def validate(self) -> None:
        """One clear error for a bad setting."""
        for name in ("embed_dim", "hidden_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise MultiganError(f"LMScoreConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.val_fraction < 1:
            raise MultiganError(f"LMScoreConfig.val_fraction must be in (0, 1), got {self.val_fraction}")


def train_lm(ids: torch.Tensor, tokenizer: WordTokenizer, cfg: LMScoreConfig = LMScoreConfig()) -> LSTMGenerator:
    """An LSTM LM trained by MLE on ``ids [N, seq_len]``, the epoch selected on a held-out ``val_fraction``.

    Deterministic for a given ``cfg.seed`` (its own random streams; the caller's are left as they were).
    """
    cfg.validate()
    n_val = max(1, round(cfg.val_fraction * ids.shape[0]))
    if ids.shape[0] - n_val < cfg.batch_size:
        raise MultiganError(f"the scoring LM needs at least {cfg.batch_size + n_val} sentences "
                            f"(one batch of {cfg.batch_size} plus its held-out part), got {ids.shape[0]}")
    with rng.isolated(), torch.enable_grad():  # callers often score under no_grad
        torch.manual_seed(cfg.seed)
        order = torch.randperm(ids.shape[0])
        lm = LSTMGenerator(**tokenizer_kwargs(tokenizer), embed_dim=cfg.embed_dim, hidden_dim=cfg.hidden_dim)
        with tempfile.TemporaryDirectory(prefix="multigan-lm-") as tmp:
            pretrain_mle(lm, ids[order[n_val:]], ids[order[:n_val]], tmp, cfg.epochs, cfg.batch_size, cfg.lr,
                         patience=cfg.patience, seed=cfg.seed)
    lm.attach_tokenizer(tokenizer)
    return lm.eval()


def lm_score(lm: LSTMGenerator, ids: torch.Tensor) -> float:
    """NLL per token (nats; words and ``<eos>``) of sentences ``ids`` under ``lm``."""
    return nll_gen(lm, ids)["nll_gen"]


def reverse_lm_score(sample_ids: torch.Tensor, real_ids: torch.Tensor, tokenizer: WordTokenizer,
                     cfg: LMScoreConfig = LMScoreConfig()) -> float:
    """NLL per token of held-out real sentences ``real_ids`` under an LM trained on generated ``sample_ids``."""
    return lm_score(train_lm(sample_ids, tokenizer, cfg), real_ids)


class LMScorer:
    """Both scores for many sentence sets against one real corpus (the forward LM is trained once, lazily).

    ``train_lines``: real sentences the forward LM learns from (never the held-out ones; empty = no LM score);
    ``heldout_lines``: the real sentences the reverse LMs are scored on. ``reverse=False`` skips the reverse-LM
    score (the slow one). Sentences are encoded with ``tokenizer`` whichever generator made them, so one scorer
    compares runs with different vocabularies on one footing.
    """

    def __init__(self, tokenizer: WordTokenizer, train_lines: Sequence[str], heldout_lines: Sequence[str],
                 cfg: LMScoreConfig = LMScoreConfig(), reverse: bool = True):
        cfg.validate()
        self.tokenizer, self.cfg, self.reverse = tokenizer, cfg, reverse
        self.train_ids = tokenizer.encode_batch(list(train_lines))
        self.heldout_ids = tokenizer.encode_batch(list(heldout_lines))
        self._lm: LSTMGenerator | None = None

    @property
    def lm(self) -> LSTMGenerator:
        """The forward LM (trained on ``train_lines`` at first use)."""
        if self._lm is None:
            self._lm = train_lm(self.train_ids, self.tokenizer, self.cfg)
        return self._lm

    def __call__(self, sentences: Sequence[Sequence[str]]) -> dict[str, float]:
        """``lm_score`` and (with ``reverse``) ``reverse_lm`` of split sentences (token lists)."""
        ids = self.tokenizer.encode_tokens(sentences)
        out = {"lm_score": lm_score(self.lm, ids)} if self.train_ids.shape[0] else {}
        if self.reverse:
            out["reverse_lm"] = reverse_lm_score(ids, self.heldout_ids, self.tokenizer, self.cfg)
        return out

    def describe(self) -> dict:
        """What the report records about the scoring LMs."""
        return {"lm": "LSTM", **{k: getattr(self.cfg, k) for k in ("embed_dim", "hidden_dim", "epochs", "lr",
                                                                      "patience", "val_fraction", "seed")},
                "lm_train_sentences": int(self.train_ids.shape[0]),
                "reverse_lm_heldout_sentences": int(self.heldout_ids.shape[0]), "reverse": self.reverse,
                "units": "nats per real token (words and <eos>)"}
