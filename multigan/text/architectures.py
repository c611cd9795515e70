"""Text architectures by name: a config dataclass per architecture and the builders that read them.

A recipe's config holds :class:`GeneratorConfig` and :class:`DiscriminatorConfig`: ``arch`` names the
architecture and one section per architecture holds its sizes (``generator.relgan.head_size=64``), so a
config never mixes the fields of several architectures. :data:`GENERATORS` and :data:`DISCRIMINATORS` map
each name to its config class and builder; adding an architecture is one entry there.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Callable, Literal

from torch import nn

from ..config import AtLeastOne, ConfigError, NonNegative, Range
from .generator import TextGenerator, tokenizer_kwargs
from .tokenizer import WordTokenizer


@dataclass
class RelGANGeneratorConfig:
    """Relational-memory generator (RelGAN)."""

    embed_dim: Annotated[int, AtLeastOne] = 32
    mem_slots: Annotated[int, AtLeastOne] = 1
    num_heads: Annotated[int, AtLeastOne] = 2
    head_size: Annotated[int, AtLeastOne] = 256
    key_size: Annotated[int, NonNegative] = 0  # query/key features per head; 0 = head_size (RelGAN's setting)


@dataclass
class LSTMGeneratorConfig:
    """LSTM generator."""

    embed_dim: Annotated[int, AtLeastOne] = 32
    hidden_dim: Annotated[int, AtLeastOne] = 32
    num_layers: Annotated[int, AtLeastOne] = 1


@dataclass
class GPT2GeneratorConfig:
    """GPT-2 generator (transformers), soft tokens through ``inputs_embeds``."""

    n_embd: Annotated[int, AtLeastOne] = 128
    n_layer: Annotated[int, AtLeastOne] = 2
    n_head: Annotated[int, AtLeastOne] = 2
    dropout: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.1
    local_dir: str = ""  # architecture (and weights) of a local save_pretrained folder


@dataclass
class GeneratorConfig:
    """The generator: ``arch`` picks the section that is read."""

    arch: Literal["relgan", "lstm", "gpt2"] = "relgan"
    z_dim: Annotated[int, NonNegative] = 0
    relgan: RelGANGeneratorConfig = field(default_factory=RelGANGeneratorConfig)
    lstm: LSTMGeneratorConfig = field(default_factory=LSTMGeneratorConfig)
    gpt2: GPT2GeneratorConfig = field(default_factory=GPT2GeneratorConfig)

    def selected(self) -> object:
        """The section of the chosen architecture."""
        return getattr(self, self.arch)


@dataclass
class CNNDiscriminatorConfig:
    """RelGAN's multi-representation CNN discriminator."""

    embed_dim: Annotated[int, AtLeastOne] = 64
    num_rep: Annotated[int, AtLeastOne] = 64
    filter_sizes: tuple[int, ...] = (2, 3, 4, 5)
    num_filters: tuple[int, ...] = (300, 300, 300, 300)
    hidden: Annotated[int, AtLeastOne] = 100
    dropout: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.25


@dataclass
class BertDiscriminatorConfig:
    """A BERT-style encoder discriminator (transformers)."""

    hidden_size: Annotated[int, AtLeastOne] = 128
    num_layers: Annotated[int, AtLeastOne] = 2
    num_heads: Annotated[int, AtLeastOne] = 2
    intermediate_size: Annotated[int, AtLeastOne] = 256
    dropout: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.1


@dataclass
class LSTMDiscriminatorConfig:
    """ScratchGAN's per-token LSTM discriminator (a logit per position)."""

    embed_dim: Annotated[int, AtLeastOne] = 64
    hidden_dim: Annotated[int, AtLeastOne] = 64
    num_layers: Annotated[int, AtLeastOne] = 1
    dropout: Annotated[float, Range(min=0, max=1, max_inclusive=False)] = 0.1  # on the embeddings


@dataclass
class DiscriminatorConfig:
    """The discriminator: ``arch`` picks the section that is read."""

    arch: Literal["cnn", "bert", "lstm"] = "cnn"
    cnn: CNNDiscriminatorConfig = field(default_factory=CNNDiscriminatorConfig)
    bert: BertDiscriminatorConfig = field(default_factory=BertDiscriminatorConfig)
    lstm: LSTMDiscriminatorConfig = field(default_factory=LSTMDiscriminatorConfig)

    def selected(self) -> object:
        """The section of the chosen architecture."""
        return getattr(self, self.arch)


def _relgan(cfg: RelGANGeneratorConfig, kw: dict) -> TextGenerator:
    from .relgan import RelGANGenerator
    return RelGANGenerator(**kw, **asdict(cfg))


def _lstm(cfg: LSTMGeneratorConfig, kw: dict) -> TextGenerator:
    from .lstm import LSTMGenerator
    return LSTMGenerator(**kw, **asdict(cfg))


def _gpt2(cfg: GPT2GeneratorConfig, kw: dict) -> TextGenerator:
    from .hf import GPT2Generator  # transformers is imported only when a transformers head is asked for
    if cfg.local_dir:
        return GPT2Generator.from_local_dir(cfg.local_dir, **kw)
    return GPT2Generator(**kw, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head, dropout=cfg.dropout)


def _cnn(cfg: CNNDiscriminatorConfig, vocab_size: int, seq_len: int) -> nn.Module:
    from .relgan import RelGANDiscriminator
    return RelGANDiscriminator(vocab_size, seq_len, **asdict(cfg))


def _bert(cfg: BertDiscriminatorConfig, vocab_size: int, seq_len: int) -> nn.Module:
    from .hf import BertDiscriminator
    return BertDiscriminator(vocab_size, seq_len, **asdict(cfg))


def _lstm_d(cfg: LSTMDiscriminatorConfig, vocab_size: int, seq_len: int) -> nn.Module:
    from .scratchgan import LSTMDiscriminator
    return LSTMDiscriminator(vocab_size, seq_len, **asdict(cfg))


#: name -> builder(section, tokenizer keyword arguments incl. z_dim)
GENERATORS: dict[str, Callable[..., TextGenerator]] = {"relgan": _relgan, "lstm": _lstm, "gpt2": _gpt2}
#: name -> builder(section, vocab_size, seq_len)
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {"cnn": _cnn, "bert": _bert, "lstm": _lstm_d}

#: discriminators giving a logit per position ``[B, L]`` (what a per-token REINFORCE objective needs)
PER_TOKEN_DISCRIMINATORS = ("lstm",)


def build_generator(cfg: GeneratorConfig, tokenizer: WordTokenizer) -> TextGenerator:
    """The configured generator, sized for ``tokenizer`` and attached to it."""
    kw = {**tokenizer_kwargs(tokenizer), "z_dim": cfg.z_dim}
    return GENERATORS[cfg.arch](cfg.selected(), kw).attach_tokenizer(tokenizer)


def build_discriminator(cfg: DiscriminatorConfig, tokenizer: WordTokenizer) -> nn.Module:
    """The configured discriminator, sized for ``tokenizer``; bad sizes are a ConfigError naming the section."""
    return build_sized_discriminator(cfg, tokenizer.vocab_size, tokenizer.seq_len)


def build_sized_generator(cfg: GeneratorConfig, **kw) -> TextGenerator:
    """The configured generator from explicit constructor arguments (``vocab_size``, ``seq_len``, the special
    ids, ``fixed_length``) instead of a tokenizer; no tokenizer is attached (the synthetic-oracle task)."""
    return GENERATORS[cfg.arch](cfg.selected(), {**kw, "z_dim": cfg.z_dim})


def build_sized_discriminator(cfg: DiscriminatorConfig, vocab_size: int, seq_len: int) -> nn.Module:
    """The configured discriminator for ``vocab_size`` x ``seq_len`` inputs."""
    try:
        return DISCRIMINATORS[cfg.arch](cfg.selected(), vocab_size, seq_len)
    except ValueError as exc:
        raise ConfigError(f"discriminator.{cfg.arch}: {exc}") from None
