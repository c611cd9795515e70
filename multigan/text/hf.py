"""Transformer backbones from the ``transformers`` library, built from configs (never from the hub).

* :class:`GPT2Generator` -- a GPT-2 causal LM (random init from a config, or weights from a local directory
  saved with ``save_pretrained``) that rolls out *soft* tokens: the soft one-hot of step t, multiplied by
  the token-embedding matrix, is the ``inputs_embeds`` of step t + 1 (with the key/value cache), so the
  discriminator's gradient flows through the whole roll-out.
* :class:`BertDiscriminator` -- a BERT-style encoder fed through ``inputs_embeds`` (ids looked up, soft
  one-hots multiplied by the same word-embedding matrix), mean-pooled by its own head (the classifiers of
  ``transformers`` pool the last or first position, which cannot see where a generated sentence ends).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import MultiganError
from .embedding import embed_tokens
from .generator import TextGenerator

log = logging.getLogger("multigan")

#: GPT2Config keys that follow the tokenizer and the model size, never a loaded directory's config.
_OWN_KEYS = ("vocab_size", "n_positions", "bos_token_id", "eos_token_id", "pad_token_id")


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


class GPT2Generator(TextGenerator):
    """GPT-2 generator; ``gpt2_config`` (extra GPT2Config keys, e.g. from a local directory) overrides the sizes."""

    def __init__(self, vocab_size: int, seq_len: int, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0,
                 z_dim: int = 0, n_embd: int = 128, n_layer: int = 2, n_head: int = 2, dropout: float = 0.1,
                 gpt2_config: dict | None = None):
        super().__init__(vocab_size, seq_len, bos_id, eos_id, pad_id, z_dim, n_embd=n_embd, n_layer=n_layer,
                         n_head=n_head, dropout=dropout, gpt2_config=gpt2_config)
        _quiet_transformers()
        from transformers import GPT2Config, GPT2LMHeadModel

        settings: dict[str, Any] = {"n_embd": n_embd, "n_layer": n_layer, "n_head": n_head, "resid_pdrop": dropout,
                                    "embd_pdrop": dropout, "attn_pdrop": dropout}
        settings.update({k: v for k, v in (gpt2_config or {}).items() if k not in _OWN_KEYS})
        settings.update(vocab_size=vocab_size, n_positions=max(seq_len, int(settings.get("n_positions", 0))),
                        bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id)
        self.lm = GPT2LMHeadModel(GPT2Config(**settings))
        width = self.lm.config.n_embd
        self.from_noise = nn.Linear(z_dim, width) if z_dim > 0 else None

    @classmethod
    def from_local_dir(cls, path: str | Path, vocab_size: int, seq_len: int, bos_id: int = 1, eos_id: int = 2,
                       pad_id: int = 0, z_dim: int = 0, load_weights: bool = True) -> "GPT2Generator":
        """A generator with the architecture (and, when present, the weights) of a local GPT-2 directory.

        The directory holds ``config.json`` (and ``model.safetensors``) as written by ``save_pretrained``.
        Its vocabulary must be this tokenizer's: a word-level vocabulary cannot reuse BPE embeddings.
        """
        path = Path(path)
        if not (path / "config.json").is_file():
            raise MultiganError(f"{path} is not a transformers model directory (no config.json)")
        config = json.loads((path / "config.json").read_text())
        keep = {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures",
                                                                                           "transformers_version",
                                                                                           "model_type", "dtype",
                                                                                           "torch_dtype")}
        model = cls(vocab_size, seq_len, bos_id, eos_id, pad_id, z_dim, n_embd=keep.get("n_embd", 768),
                    n_layer=keep.get("n_layer", 12), n_head=keep.get("n_head", 12), gpt2_config=keep)
        weights = path / "model.safetensors"
        if load_weights and weights.is_file():
            from safetensors.torch import load_file

            state = load_file(str(weights))
            state = {k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v
                     for k, v in state.items()}
            wte = state.get("transformer.wte.weight")
            if wte is not None and wte.shape[0] != vocab_size:
                raise MultiganError(f"{weights}: vocabulary of {wte.shape[0]} tokens, the tokenizer has {vocab_size}; "
                                    "load only the architecture (load_weights=False) or use a model trained with "
                                    "this tokenizer")
            missing, unexpected = model.lm.load_state_dict(state, strict=False)
            missing = [k for k in missing if k != "lm_head.weight"]  # tied to wte
            if missing or unexpected:
                raise MultiganError(f"{weights}: weights do not fit GPT2LMHeadModel (missing {missing[:3]}, "
                                    f"unexpected {unexpected[:3]})")
            log.info("GPT-2 generator: loaded weights from %s", weights)
        return model

    @property
    def wte(self) -> torch.Tensor:
        """The token-embedding matrix ``[V, n_embd]`` (tied to the output layer)."""
        return self.lm.get_input_embeddings().weight

    def _first_embeds(self, noise: torch.Tensor) -> torch.Tensor:
        first = self.wte[self.bos_id].expand(noise.shape[0], -1)
        if self.from_noise is not None:
            first = first + self.from_noise(noise)
        return first

    def initial_state(self, noise: torch.Tensor) -> dict:
        """The key/value cache (empty) and the first input embedding (``<bos>``, plus projected noise)."""
        return {"cache": None, "first": self._first_embeds(noise)}

    def step(self, ids, soft, state):
        """One cached forward (hidden features); the input is the previous soft token times ``wte``, or ``<bos>``."""
        if state["cache"] is None:
            embeds = state["first"]
        elif soft is not None:
            embeds = embed_tokens(soft, self.wte)
        else:
            embeds = self.wte[ids]
        out = self.lm.transformer(inputs_embeds=embeds.unsqueeze(1), past_key_values=state["cache"], use_cache=True)
        return out.last_hidden_state[:, -1], {"cache": out.past_key_values, "first": None}

    def teacher_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """One causal forward over ``<bos> + ids[:-1]``."""
        inputs = self.shift_right(ids, self.bos_id)
        embeds = self.wte[inputs]
        if self.from_noise is not None:
            first = self._first_embeds(self.sample_noise(ids.shape[0], ids.device))
            embeds = torch.cat([first.unsqueeze(1), embeds[:, 1:]], dim=1)
        return self.lm.transformer(inputs_embeds=embeds, use_cache=False).last_hidden_state

    @property
    def output_layer(self) -> nn.Module:
        """GPT-2's language-model head (tied to ``wte``)."""
        return self.lm.lm_head


class BertDiscriminator(nn.Module):
    """A BERT-style encoder on (soft) one-hot embeddings with a mean-pooling head; logits ``[B]``."""

    def __init__(self, vocab_size: int, seq_len: int, hidden_size: int = 128, num_layers: int = 2,
                 num_heads: int = 2, intermediate_size: int = 256, dropout: float = 0.1):
        super().__init__()
        _quiet_transformers()
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                            num_attention_heads=num_heads, intermediate_size=intermediate_size,
                            hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                            max_position_embeddings=seq_len, type_vocab_size=1, pad_token_id=0)
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1))

    @property
    def embedding_matrix(self) -> torch.Tensor:
        """The word-embedding matrix shared by real ids and generated soft one-hots."""
        return self.encoder.get_input_embeddings().weight

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        """``[B, L]`` ids or ``[B, L, V]`` (soft) one-hots -> logits ``[B]``."""
        embeds = embed_tokens(x, self.embedding_matrix)
        hidden = self.encoder(inputs_embeds=embeds).last_hidden_state
        return self.head(hidden.mean(dim=1)).squeeze(-1)
