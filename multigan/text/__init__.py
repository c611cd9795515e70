"""Text GANs: a word-level tokenizer, text-file datasets, generators that emit Gumbel-softmax soft one-hots,
discriminators on embeddings, MLE pretraining and exact BLEU / self-BLEU / NLL evaluation.

Architectures live one per module and are imported where used (``multigan.text.relgan``,
``multigan.text.lstm``, ``multigan.text.hf`` -- the last imports ``transformers``)::

    tg = multigan.load("runs/coco_relgan")      # tokenizer included
    tg.generate(5, seed=0, temperature=1.0)     # 5 sentences
"""
from .data import TextDataError, TokenIdsDataset, onehot_collate, read_lines, split_lines
from .embedding import TokenEmbedding, embed_tokens
from .generator import TextGenerator, inverse_temperature, tokenizer_kwargs
from .tokenizer import TokenizerError, WordTokenizer

__all__ = [
    "TextDataError", "TextGenerator", "TokenEmbedding", "TokenIdsDataset", "TokenizerError", "WordTokenizer",
    "embed_tokens", "inverse_temperature", "onehot_collate", "read_lines", "split_lines", "tokenizer_kwargs",
]
