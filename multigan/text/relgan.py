"""RelGAN (Nie, Narodytska & Patel, ICLR 2019): relational-memory generator and multi-representation CNN D.

Generator: token embedding -> relational memory core (Santoro et al. 2018: multi-head attention over the
memory slots plus the input, an MLP, LSTM-style input/forget gates; :class:`RelationalMemory` lists what it
follows and where the reference toolkits differ) -> vocabulary logits, rolled out with Gumbel-softmax (see
:mod:`multigan.text.generator`).

Discriminator: the (soft) one-hots are embedded with one matrix ``[V, embed_dim]``; the embedding is read
as ``num_rep`` separate representations of ``embed_dim / num_rep`` dimensions each. Convolutions of
widths 2-5 run over time within every representation, are max-pooled over time, go through a highway
layer (:class:`Highway`) and two linear layers: one logit per (sentence, representation), ``[B, num_rep]``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .embedding import TokenEmbedding
from .generator import TextGenerator


class RelationalMemory(nn.Module):
    """A relational memory core (Santoro et al., NeurIPS 2018): ``mem_slots`` slots of ``num_heads * head_size``.

    One step, as published (the paper and its Sonnet reference, which RelGAN's paper builds on):

    1. the input is projected to a row of the memory's width and appended to the slots;
    2. multi-head dot-product attention over the rows: queries, keys and values come from one **bias-free**
       projection of each row, **layer-normalised** (per row, over all heads' queries, keys and values), split
       per head into ``key_size`` / ``key_size`` / ``head_size`` features; queries are scaled by
       ``key_size ** -0.5`` (``key_size`` defaults to ``head_size``, RelGAN's setting);
    3. residual + layer norm, a row-wise MLP of ``mlp_layers`` layers with ReLU **between** layers and **no
       activation after the last**, residual + layer norm;
    4. LSTM-style input and forget gates from **bias-free** projections of the projected input and of
       ``tanh(memory)``, shifted by the constants ``input_bias`` (0) and ``forget_bias`` (1):
       ``memory = sigmoid(i) * tanh(attended) + sigmoid(f) * memory``.

    Where the reference toolkits differ (this module follows the paper): RelGAN's TensorFlow code scales the
    queries by ``(2 * key_size + head_size) ** -0.5`` (the size of a head's whole query-key-value vector) and its
    ``layer_norm`` normalises the memory slots and the input row jointly; TextGAN-PyTorch also normalises the rows
    jointly, puts biases on the query-key-value and gate projections, applies ReLU after the last MLP layer, shares
    one ``Linear`` between both MLP layers, and makes the gate biases trainable.
    """

    def __init__(self, input_size: int, mem_slots: int = 1, num_heads: int = 2, head_size: int = 256,
                 key_size: int = 0, num_blocks: int = 1, mlp_layers: int = 2, forget_bias: float = 1.0,
                 input_bias: float = 0.0):
        super().__init__()
        if min(mem_slots, num_heads, head_size, num_blocks, mlp_layers) < 1 or key_size < 0:
            raise ValueError("mem_slots, num_heads, head_size, num_blocks and mlp_layers must be >= 1, key_size >= 0")
        self.mem_slots, self.num_heads, self.head_size = mem_slots, num_heads, head_size
        self.key_size = key_size or head_size
        self.mem_size = num_heads * head_size
        self.num_blocks, self.forget_bias, self.input_bias = num_blocks, forget_bias, input_bias
        d = self.mem_size
        qkv = num_heads * (2 * self.key_size + head_size)
        self.input_projector = nn.Linear(input_size, d)
        self.qkv = nn.Linear(d, qkv, bias=False)
        self.qkv_norm = nn.LayerNorm(qkv)
        self.mlp = nn.ModuleList(nn.Linear(d, d) for _ in range(mlp_layers))
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.input_gate = nn.Linear(d, 2 * d, bias=False)
        self.memory_gate = nn.Linear(d, 2 * d, bias=False)

    @property
    def output_size(self) -> int:
        """Features of the flattened memory (the per-step output)."""
        return self.mem_slots * self.mem_size

    def initial_state(self, batch: int, device: torch.device) -> torch.Tensor:
        """Identity-initialised memory ``[B, mem_slots, mem_size]`` (slot i has a 1 in feature i)."""
        eye = torch.eye(self.mem_slots, self.mem_size, device=device)
        return eye.unsqueeze(0).expand(batch, -1, -1).contiguous()

    def project_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input projection and input-gate contribution of ``x [..., input_size]`` (precomputable for all steps)."""
        projected = self.input_projector(x)
        return projected, self.input_gate(projected)

    def attention(self, rows: torch.Tensor) -> torch.Tensor:
        """Multi-head attention of ``rows [B, N, mem_size]`` over themselves (step 2 of the class docstring)."""
        batch, n, d = rows.shape
        qkv = self.qkv_norm(self.qkv(rows)).view(batch, n, self.num_heads, -1).transpose(1, 2)  # [B, H, N, 2k+v]
        q, k, v = qkv.split([self.key_size, self.key_size, self.head_size], dim=-1)
        attended = F.scaled_dot_product_attention(q, k, v, scale=self.key_size ** -0.5)  # [B, H, N, head]
        return attended.transpose(1, 2).reshape(batch, n, d)

    def mlp_block(self, rows: torch.Tensor) -> torch.Tensor:
        """The row-wise MLP: ReLU between layers, none after the last."""
        for i, layer in enumerate(self.mlp):
            rows = layer(rows) if i == len(self.mlp) - 1 else F.relu(layer(rows))
        return rows

    def _attend(self, memory: torch.Tensor) -> torch.Tensor:
        for _ in range(self.num_blocks):
            memory = self.norm1(memory + self.attention(memory))
            memory = self.norm2(memory + self.mlp_block(memory))
        return memory

    def step(self, projected: torch.Tensor, input_gates: torch.Tensor,
             memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from :meth:`project_inputs` outputs (``[B, D]``, ``[B, 2D]``).

        Returns the output ``[B, S*D]`` (the flattened memory) and the new memory.
        """
        x = projected.unsqueeze(1)
        attended = self._attend(torch.cat([memory, x], dim=1))[:, :-1]
        gates = self.memory_gate(torch.tanh(memory)) + input_gates.unsqueeze(1)
        in_gate, forget_gate = gates.chunk(2, dim=-1)
        in_gate = torch.sigmoid(in_gate + self.input_bias)
        forget_gate = torch.sigmoid(forget_gate + self.forget_bias)
        memory = in_gate * torch.tanh(attended) + forget_gate * memory
        return memory.flatten(1), memory


class RelGANGenerator(TextGenerator):
    """RelGAN's generator: embedding -> relational memory -> logits (published COCO: 32, 1 x 2 x 256)."""

    def __init__(self, vocab_size: int, seq_len: int, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0,
                 z_dim: int = 0, embed_dim: int = 32, mem_slots: int = 1, num_heads: int = 2, head_size: int = 256,
                 key_size: int = 0, fixed_length: bool = False):
        super().__init__(vocab_size, seq_len, bos_id, eos_id, pad_id, z_dim, fixed_length, embed_dim=embed_dim,
                         mem_slots=mem_slots, num_heads=num_heads, head_size=head_size, key_size=key_size)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        nn.init.normal_(self.embedding.weight, std=1.0 / math.sqrt(vocab_size))
        self.memory = RelationalMemory(embed_dim, mem_slots, num_heads, head_size, key_size)
        self.output_layer = nn.Linear(self.memory.output_size, vocab_size)
        self.from_noise = nn.Linear(z_dim, self.memory.output_size) if z_dim > 0 else None

    def initial_state(self, noise: torch.Tensor) -> torch.Tensor:
        """The identity memory, shifted by a projection of the noise when ``z_dim > 0``."""
        memory = self.memory.initial_state(noise.shape[0], noise.device)
        if self.from_noise is not None:
            memory = memory + torch.tanh(self.from_noise(noise)).view_as(memory)
        return memory

    def step(self, ids, soft, state):
        """One relational-memory step on the embedding of the previous (hard) token; returns (hidden, state)."""
        projected, gates = self.memory.project_inputs(self.embedding(ids))
        return self.memory.step(projected, gates, state)

    def teacher_hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """Input projections for all positions at once, then the recurrence step by step."""
        inputs = self.shift_right(ids, self.bos_id)
        projected, gates = self.memory.project_inputs(self.embedding(inputs))
        memory = self.initial_state(self.sample_noise(ids.shape[0], ids.device))
        outputs = []
        for t in range(ids.shape[1]):
            out, memory = self.memory.step(projected[:, t], gates[:, t], memory)
            outputs.append(out)
        return torch.stack(outputs, dim=1)


def conv_max_over_time(emb: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                       chunk_elements: int = 1 << 21) -> torch.Tensor:
    """``Conv2d(1, n, (f, rd), stride=(1, rd))`` followed by a max over time, computed cheaply.

    ``emb [B, L, R, rd]`` holds R representations of rd features; ``weight [n, 1, f, rd]``. Returns
    ``[B, R, n]``, equal to ``F.conv2d(emb.flatten(2)[:, None], weight, bias, stride=(1, rd)).amax(2)``
    (transposed), with the same gradients: the position of each maximum is found without a graph (one
    matrix product per chunk of the batch, chunks of about ``chunk_elements`` activations so that they stay
    in cache), then only the winning windows are recomputed with autograd.
    The full ``[B, n, T, R]`` activation is never stored, which makes the CPU forward and backward several
    times faster than ``conv2d``. (On ties, e.g. identical padded windows, the first position gets the
    whole gradient; identical windows have identical inputs, so the parameter gradients are unchanged.)
    """
    batch, length, reps, rd = emb.shape
    n, _, f, _ = weight.shape
    steps, k = length - f + 1, f * rd
    windows = emb.unfold(1, f, 1).transpose(-1, -2).reshape(batch, steps, reps, k)
    windows = windows.transpose(1, 2).reshape(batch * reps * steps, k)  # rows (b, r, t)
    w = weight.reshape(n, k)
    with torch.no_grad():
        flat_w, flat_x = w.detach(), windows.detach()
        rows = max(1, chunk_elements // (n * reps * steps)) * reps * steps
        best = [torch.mm(flat_w, flat_x[s:s + rows].T).view(n, -1, steps).argmax(-1)
                for s in range(0, flat_x.shape[0], rows)]  # each [n, c*R]
        best = torch.cat(best, dim=1).T.reshape(batch, reps, n)  # time index of each maximum
        offsets = torch.arange(batch * reps, device=emb.device).view(batch, reps, 1) * steps
        rows_idx = (best + offsets).reshape(-1)
    picked = windows.index_select(0, rows_idx).view(batch, reps, n, k)
    out = (picked * w).sum(-1)
    return out + bias if bias is not None else out


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015), as RelGAN's discriminator uses it.

    ``y = t * relu(W_H x + b_H) + (1 - t) * x`` with the transform gate ``t = sigmoid(W_T x + b_T)``: the
    transform and the gate are separate layers. ``b_T`` starts at ``gate_bias`` (0, the value RelGAN's code
    passes). RelGAN's TensorFlow code has no trainable biases here (the gate bias is the constant 0);
    TextGAN-PyTorch uses one layer for both the gate and the transform (``t = sigmoid(z)``, ``relu(z)`` of the
    same ``z``). This layer follows the paper: separate gate and transform, each with its bias.
    """

    def __init__(self, features: int, gate_bias: float = 0.0):
        super().__init__()
        self.transform = nn.Linear(features, features)
        self.gate = nn.Linear(features, features)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., features]`` -> same shape."""
        t = torch.sigmoid(self.gate(x))
        return t * F.relu(self.transform(x)) + (1 - t) * x


class RelGANDiscriminator(nn.Module):
    """RelGAN's CNN discriminator over ``num_rep`` embedded representations; logits ``[B, num_rep]``.

    Accepts ids ``[B, L]`` (real data) or (soft) one-hots ``[B, L, V]`` (generated), both embedded with the
    same matrix. The published COCO setting: ``embed_dim=64, num_rep=64`` (one dimension per
    representation), 300 filters of each width 2, 3, 4, 5, dropout 0.25.
    """

    def __init__(self, vocab_size: int, seq_len: int, embed_dim: int = 64, num_rep: int = 64,
                 filter_sizes: Sequence[int] = (2, 3, 4, 5), num_filters: Sequence[int] = (300, 300, 300, 300),
                 hidden: int = 100, dropout: float = 0.25):
        super().__init__()
        if embed_dim % num_rep:
            raise ValueError(f"embed_dim ({embed_dim}) must be a multiple of num_rep ({num_rep})")
        if len(filter_sizes) != len(num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        if max(filter_sizes) > seq_len:
            raise ValueError(f"filter width {max(filter_sizes)} exceeds the sequence length {seq_len}")
        self.num_rep, self.rep_dim = num_rep, embed_dim // num_rep
        self.embedding = TokenEmbedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, n, kernel_size=(f, self.rep_dim), stride=(1, self.rep_dim))
            for f, n in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(features, hidden)
        self.out = nn.Linear(hidden, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Max-pooled convolution features ``[B, num_rep, sum(num_filters)]``."""
        emb = self.embedding(x)  # [B, L, embed_dim]
        emb = emb.view(*emb.shape[:2], self.num_rep, self.rep_dim)
        # relu and max over time commute (relu is monotone): pool first, then one small relu
        pooled = [conv_max_over_time(emb, conv.weight, conv.bias) for conv in self.convs]  # each [B, R, n]
        return F.relu(torch.cat(pooled, dim=-1))

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        """Logits ``[B, num_rep]``."""
        h = self.highway(self.features(x))
        return self.out(self.hidden(self.dropout(h))).squeeze(-1)
