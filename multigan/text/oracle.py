"""The synthetic-oracle task of SeqGAN / RelGAN: a random LSTM is the "true" language.

A randomly initialised LSTM (:class:`LSTMOracle`; SeqGAN's shape: vocabulary 5,000, length 20, embedding and
hidden size 32, every weight drawn from N(0, 1)) generates the training sentences; a generator trained on them
is scored by

* ``nll_oracle`` -- the oracle's NLL per token of the generator's samples (quality: do they look like the
  oracle's language?), and
* ``nll_gen`` -- the generator's NLL per token of held-out oracle samples (coverage).

The oracle is built from its ``seed`` alone (a ``torch.Generator`` of its own, never the global RNG), saved
as safetensors + JSON, and its weights are frozen: the one that scores is the one that generated.

Ids: the generators' vocabulary holds ``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2), then the oracle's tokens
(oracle token ``k`` is id ``k + OFFSET``); the task's generators are built with ``fixed_length=True`` (exactly
``seq_len`` tokens, ``<eos>`` never sampled), as the oracle's sentences have no end token.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import MultiganError

__all__ = ["OFFSET", "LSTMOracle", "OracleSpec", "OracleTask"]

#: ids below it are the generators' specials (pad, bos, eos)
OFFSET = 3
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


@dataclass(frozen=True)
class OracleSpec:
    """Everything that determines an oracle and its data."""

    vocab_size: int = 5000
    seq_len: int = 20
    embed_dim: int = 32
    hidden_dim: int = 32
    init_std: float = 1.0  # SeqGAN's oracle draws every parameter from N(0, 1)
    seed: int = 0


class LSTMOracle(nn.Module):
    """A frozen random LSTM language model over ``vocab_size`` tokens, sequences of exactly ``seq_len``.

    The first step reads a start vector (drawn with the other weights) instead of a token.
    """

    def __init__(self, spec: OracleSpec):
        super().__init__()
        self.spec = spec
        v, e, h = spec.vocab_size, spec.embed_dim, spec.hidden_dim
        with torch.random.fork_rng(devices=[]):  # the layers' default init must not advance the global RNG
            self.embedding = nn.Embedding(v, e)
            self.lstm = nn.LSTM(e, h, batch_first=True)
            self.output = nn.Linear(h, v)
        self.start = nn.Parameter(torch.zeros(e))
        g = torch.Generator().manual_seed(spec.seed)
        with torch.no_grad():
            for _, p in sorted(self.named_parameters()):  # a fixed order: the seed alone decides the weights
                p.copy_(torch.randn(p.shape, generator=g) * spec.init_std)
        self.requires_grad_(False)
        self.eval()

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        start = self.start.expand(ids.shape[0], 1, -1)
        return torch.cat([start, self.embedding(ids[:, :-1])], dim=1)

    @torch.no_grad()
    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Per-position NLL ``[B, L]`` (nats) of oracle-token sequences ``ids [B, seq_len]`` (values 0..V-1)."""
        if ids.dim() != 2 or ids.shape[1] != self.spec.seq_len:
            raise MultiganError(f"oracle: expected [N, {self.spec.seq_len}] token ids, got {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.spec.vocab_size):
            raise MultiganError(f"oracle: token ids must lie in 0..{self.spec.vocab_size - 1}")
        out, _ = self.lstm(self._inputs(ids))
        logits = self.output(out)
        return F.cross_entropy(logits.transpose(1, 2), ids, reduction="none")

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, batch_size: int = 1000) -> torch.Tensor:
        """``[n, seq_len]`` oracle tokens drawn with ``generator`` (the caller's stream, not the global RNG)."""
        chunks = []
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            x, state, rows = self.start.expand(b, 1, -1), None, []
            for _ in range(self.spec.seq_len):
                out, state = self.lstm(x, state)
                probs = torch.softmax(self.output(out[:, 0]).double(), dim=-1)
                tok = torch.multinomial(probs, 1, generator=generator)
                rows.append(tok)
                x = self.embedding(tok)
            chunks.append(torch.cat(rows, dim=1))
        return torch.cat(chunks)

    def save(self, folder: str | Path) -> Path:
        """``oracle.safetensors`` + ``oracle.json`` (the spec) in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "oracle.safetensors"))
        (folder / "oracle.json").write_text(json.dumps(asdict(self.spec), indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "LSTMOracle":
        """The oracle saved by :meth:`save`; its weights must be those its seed gives (a changed file is refused)."""
        folder = Path(folder)
        try:
            spec = OracleSpec(**json.loads((folder / "oracle.json").read_text()))
            state = load_file(str(folder / "oracle.safetensors"))
        except (OSError, TypeError, ValueError) as exc:
            raise MultiganError(f"{folder}: not an oracle folder ({exc})") from None
        oracle = cls(spec)
        if set(state) != set(oracle.state_dict()) or any(not torch.equal(state[k], v)
                                                         for k, v in oracle.state_dict().items()):
            raise MultiganError(f"{folder}: the oracle's weights are not those of its seed {spec.seed}")
        return oracle


class OracleTask:
    """An oracle with its training, validation and test sentences, and the two NLL scores."""

    def __init__(self, oracle: LSTMOracle, n_train: int = 10_000, n_val: int = 2_000, n_test: int = 2_000,
                 data_seed: int | None = None):
        self.oracle = oracle
        spec = oracle.spec
        seed = spec.seed + 1 if data_seed is None else data_seed
        g = torch.Generator().manual_seed(seed)  # the data's own stream: one draw, in this order
        self.train_ids = oracle.sample(n_train, g) + OFFSET
        self.val_ids = oracle.sample(n_val, g) + OFFSET
        self.test_ids = oracle.sample(n_test, g) + OFFSET
        self.data_seed = seed

    @property
    def vocab_size(self) -> int:
        """The generators' vocabulary: the specials and the oracle's tokens."""
        return self.oracle.spec.vocab_size + OFFSET

    @property
    def seq_len(self) -> int:
        """Tokens per sentence."""
        return self.oracle.spec.seq_len

    def generator_kwargs(self) -> dict:
        """Constructor arguments of a generator for this task (fixed length, the task's ids)."""
        return {"vocab_size": self.vocab_size, "seq_len": self.seq_len, "bos_id": BOS_ID, "eos_id": EOS_ID,
                "pad_id": PAD_ID, "fixed_length": True}

    def nll_oracle(self, ids: torch.Tensor) -> float:
        """The oracle's mean NLL per token of generator ids ``[N, seq_len]`` (a special token is an error)."""
        ids = ids.cpu()
        if ids.numel() and int(ids.min()) < OFFSET:
            raise MultiganError("nll_oracle: the samples hold special tokens (<pad>/<bos>/<eos>): the generator "
                                "must be built with fixed_length=True")
        return float(self.oracle.token_nll(ids - OFFSET).double().mean())

    def describe(self) -> dict:
        """The oracle's spec, the data sizes and seeds, and the oracle's NLL of its own held-out sentences."""
        return {"oracle": asdict(self.oracle.spec), "data_seed": self.data_seed,
                "train": int(self.train_ids.shape[0]), "val": int(self.val_ids.shape[0]),
                "test": int(self.test_ids.shape[0]), "nll_oracle_real": self.nll_oracle(self.test_ids)}
