"""An LSTM text generator (the SeqGAN / RelGAN "LSTM" baseline) producing Gumbel-softmax soft one-hots."""
from __future__ import annotations

import torch
from torch import nn

from .generator import TextGenerator


class LSTMGenerator(TextGenerator):
    """Token embedding -> ``num_layers`` LSTM -> vocabulary logits.

    With ``z_dim > 0`` the noise vector sets the initial hidden and cell states (a latent code per
    sentence); with ``z_dim = 0`` they start at zero and all randomness comes from sampling.
    """

    def __init__(self, vocab_size: int, seq_len: int, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0,
                 z_dim: int = 0, embed_dim: int = 32, hidden_dim: int = 32, num_layers: int = 1,
                 fixed_length: bool = False):
        super().__init__(vocab_size, seq_len, bos_id, eos_id, pad_id, z_dim, fixed_length, embed_dim=embed_dim,
                         hidden_dim=hidden_dim, num_layers=num_layers)
        self.hidden_dim, self.num_layers = hidden_dim, num_layers
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.output_layer = nn.Linear(hidden_dim, vocab_size)
        self.from_noise = nn.Linear(z_dim, 2 * num_layers * hidden_dim) if z_dim > 0 else None

    def initial_state(self, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h, c), each ``[num_layers, B, hidden]``."""
        batch = noise.shape[0]
        if self.from_noise is None:
            zeros = noise.new_zeros(self.num_layers, batch, self.hidden_dim)
            return zeros, zeros
        hc = torch.tanh(self.from_noise(noise)).view(batch, 2, self.num_layers, self.hidden_dim)
        return hc[:, 0].transpose(0, 1).contiguous(), hc[:, 1].transpose(0, 1).contiguous()

    def step(self, ids, soft, state):
        """One LSTM step on the embedding of the previous (hard) token; returns (hidden, state)."""
        out, state = self.lstm(self.embedding(ids).unsqueeze(1), state)
        return out.squeeze(1), state

    def teacher_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """All positions in one cuDNN/oneDNN LSTM call."""
        noise = self.sample_noise(ids.shape[0], ids.device)
        out, _ = self.lstm(self.embedding(self.shift_right(ids, self.bos_id)), self.initial_state(noise))
        return out
