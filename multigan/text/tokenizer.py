"""A word-level tokenizer for caption-style text, built with the ``tokenizers`` library.

Text is NFKC-normalised and lower-cased, split on whitespace, and every punctuation character becomes its
own token (``"wheel."`` -> ``["wheel", "."]``). Four special tokens come first in the vocabulary:
``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2), ``<unk>`` (3).

A sentence is encoded to exactly ``seq_len = max_length + 1`` ids: at most ``max_length`` word tokens,
one ``<eos>``, then ``<pad>``. The truncation and padding settings live inside the saved JSON file, so a
reloaded tokenizer encodes exactly as the one that was trained.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Iterable, Sequence

import torch

from ..errors import MultiganError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
FILE_NAME = "tokenizer.json"

log = logging.getLogger("multigan")


def default_max_length(lengths: Sequence[int]) -> int:
    """The sequence length derived from the data: the longest sentence, capped at twice the 99th percentile
    (nearest rank) so that one pathological line (a whole document on one line) does not make every
    sequence thousands of tokens long. On COCO captions: longest 37, 99th percentile 21, so 37."""
    if not lengths or max(lengths) == 0:
        raise TokenizerError("no sentence has a token: cannot derive the maximum length")
    ordered = sorted(lengths)
    p99 = ordered[math.ceil(0.99 * len(ordered)) - 1]
    return min(ordered[-1], max(2 * p99, 1))


class TokenizerError(MultiganError, ValueError):
    """A tokenizer file is missing or unreadable, or a tokenizer cannot be built from the text given."""


def _pre_tokenizer():
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])


def _normalizer():
    from tokenizers import normalizers

    return normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])


class WordTokenizer:
    """Word-level tokenizer with fixed-length encoding (see the module docstring).

    Build one with :meth:`train` (from sentences) or :meth:`load` (from a saved JSON file).
    """

    def __init__(self, backend) -> None:
        self.backend = backend
        ids = [backend.token_to_id(t) for t in SPECIALS]
        if ids != [0, 1, 2, 3]:
            raise TokenizerError(f"tokenizer special tokens {SPECIALS} must have ids 0-3, found {ids}")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = ids
        trunc = backend.truncation
        if not trunc:
            raise TokenizerError("the tokenizer has no truncation length; build it with WordTokenizer.train")
        self.seq_len = int(trunc["max_length"])
        self.max_length = self.seq_len - 1
        self._split = _pre_tokenizer()
        self._norm = _normalizer()

    # --- building and files ----------------------------------------------------------------------------------

    @classmethod
    def train(cls, sentences: Sequence[str], max_length: int | None = None, min_frequency: int = 1,
              max_vocab: int | None = None) -> "WordTokenizer":
        """Learn the vocabulary of ``sentences``.

        ``max_length`` (word tokens per sentence) defaults to :func:`default_max_length` of the sentences;
        longer sentences are truncated, and their number is logged as a warning.
        """
        from tokenizers import Tokenizer, models, processors, trainers

        backend = Tokenizer(models.WordLevel(unk_token=UNK))
        backend.normalizer = _normalizer()
        backend.pre_tokenizer = _pre_tokenizer()
        kwargs = {"vocab_size": max_vocab + len(SPECIALS)} if max_vocab else {}
        trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIALS), min_frequency=min_frequency,
                                            show_progress=False, **kwargs)
        backend.train_from_iterator(list(sentences), trainer)
        if backend.get_vocab_size() <= len(SPECIALS):
            raise TokenizerError("no word reaches the minimum frequency: the vocabulary would only hold "
                                 f"{', '.join(SPECIALS)}")
        lengths = [len(e.ids) for e in backend.encode_batch(list(sentences))]
        if max_length is None or max_length <= 0:
            max_length = default_max_length(lengths)
        longer = sum(length > max_length for length in lengths)
        if longer:
            log.warning("%d of %d sentences are longer than %d tokens (the longest has %d) and are truncated; "
                        "set data.max_length to change the limit", longer, len(lengths), max_length, max(lengths))
        backend.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, 2)])
        backend.enable_truncation(max_length + 1)  # the template's <eos> counts toward the limit
        backend.enable_padding(pad_id=0, pad_token=PAD, length=max_length + 1)
        return cls(backend)

    def save(self, path: str | Path) -> Path:
        """Write the tokenizer as one JSON file (``path`` may be a folder: ``path/tokenizer.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "WordTokenizer":
        """Read a tokenizer written by :meth:`save` (``path`` may be the folder holding ``tokenizer.json``)."""
        from tokenizers import Tokenizer

        path = Path(path)
        if path.is_dir():
            path = path / FILE_NAME
        if not path.is_file():
            raise TokenizerError(f"tokenizer file {path} does not exist")
        try:
            backend = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exceptions
            raise TokenizerError(f"{path}: not a tokenizer JSON file ({exc})") from None
        return cls(backend)

    # --- encoding --------------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included."""
        return self.backend.get_vocab_size()

    def split(self, text: str) -> list[str]:
        """Normalised word tokens of ``text`` without vocabulary lookup (unknown words stay as they are).

        Use this to tokenise BLEU references: an unseen word must not match ``<unk>``.
        """
        return [w for w, _ in self._split.pre_tokenize_str(self._norm.normalize_str(text))]

    def encode(self, text: str) -> list[int]:
        """``seq_len`` ids: the (truncated) words, ``<eos>``, then ``<pad>``."""
        return self.backend.encode(text).ids

    def encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), seq_len]`` LongTensor of :meth:`encode` rows."""
        rows = [e.ids for e in self.backend.encode_batch(list(texts))]
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.seq_len)

    def encode_tokens(self, sentences: Sequence[Sequence[str]]) -> torch.Tensor:
        """``[len(sentences), seq_len]`` ids of already split sentences (words of :meth:`tokens` or
        :meth:`split`): unknown words become ``<unk>``, then truncation, ``<eos>`` and ``<pad>`` as :meth:`encode`."""
        out = torch.full((len(sentences), self.seq_len), self.pad_id, dtype=torch.long)
        for row, words in enumerate(sentences):
            ids = [self.backend.token_to_id(w) for w in list(words)[:self.max_length]]
            ids = [self.unk_id if i is None else i for i in ids] + [self.eos_id]
            out[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Word tokens of one id sequence, up to (without) the first ``<eos>`` or ``<pad>``."""
        out = []
        for i in ids:
            i = int(i)
            if i in (self.eos_id, self.pad_id):
                break
            if i == self.bos_id:
                continue
            out.append(self.backend.id_to_token(i) or UNK)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """One sentence: :meth:`tokens` joined by spaces (``"a cat on a mat ."``)."""
        return " ".join(self.tokens(ids))

    def decode_batch(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[str]:
        """:meth:`decode` of every row."""
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return [self.decode(r) for r in rows]

    def describe(self) -> dict:
        """Sizes worth logging: vocabulary, maximum word tokens, sequence length."""
        return {"vocab_size": self.vocab_size, "max_length": self.max_length, "seq_len": self.seq_len}

    def to_json(self) -> str:
        """The tokenizer as a JSON string (what :meth:`save` writes)."""
        return json.dumps(json.loads(self.backend.to_str()))
