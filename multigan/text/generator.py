"""What every autoregressive text generator shares: Gumbel-softmax roll-outs, teacher forcing, sampling.

A subclass defines four things:

* ``initial_state(noise)`` -- the recurrent state (or cache) for a batch, from the noise of ``sample_noise``;
* ``step(ids, soft, state)`` -- the hidden features ``[B, H]`` of the next position from the previous token
  (ids ``[B]``, and its soft one-hot ``[B, V]`` or None at the first step and when sampling) and the new state;
* ``teacher_hidden(ids)`` -- hidden features ``[B, L, H]`` of every position given the real prefix (MLE);
* ``output_layer`` -- the module mapping hidden features to vocabulary logits.

``forward(noise)`` rolls out ``seq_len`` steps: at step t it adds Gumbel noise ``g`` to the logits ``o``,
takes the hard token ``argmax(o + g)`` as the next input (a sample of ``softmax(o)``) and outputs the soft
one-hot ``softmax(beta * (o + g))``, where ``beta`` is the inverse temperature held in the
``inv_temperature`` buffer (saved with the model, so a resumed run continues its schedule; see
:func:`inverse_temperature`). The Gumbel noise comes from torch's global RNG, which the trainer controls.

Sentences end at ``<eos>``: after it a sequence is finished and every later position is the exact
one-hot of ``<pad>`` -- the layout of the real data (``words, <eos>, <pad>...``), so the discriminator
cannot tell real from fake by what follows the end, and the generator never has to learn to pad. The
model's distribution therefore puts probability 1 on ``<pad>`` after ``<eos>``, and likelihoods are
computed on the words and the ``<eos>`` only (``<pad>`` positions contribute 0 nats), which also spares
the output layer two thirds of its work on COCO. ``<pad>`` and ``<bos>`` are never sampled.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..callbacks import Callback
from ..errors import MultiganError
from ..generator import ExportableGenerator
from .tokenizer import FILE_NAME, WordTokenizer

State = Any


def inverse_temperature(step: int, total_steps: int, maximum: float,
                        schedule: Literal["exp", "linear", "constant"] = "exp") -> float:
    """RelGAN's inverse temperature ``beta`` after ``step`` of ``total_steps`` adversarial steps.

    ``exp``: ``maximum ** (step / total)``; ``linear``: ``1 + (maximum - 1) * step / total``; ``constant``:
    ``maximum``. Both schedules start at 1 and reach ``maximum`` at the last step.
    """
    if maximum < 1:
        raise ValueError(f"the maximum inverse temperature must be >= 1, got {maximum}")
    if schedule == "constant":
        return float(maximum)
    frac = min(max(step / max(total_steps, 1), 0.0), 1.0)
    if schedule == "exp":
        return float(maximum ** frac)
    if schedule == "linear":
        return float(1 + (maximum - 1) * frac)
    raise ValueError(f"unknown temperature schedule {schedule!r}; valid: exp, linear, constant")


def check_sampling(temperature: float, top_p: float) -> None:
    """One clear error for a bad ``temperature`` (> 0) or ``top_p`` (in (0, 1])."""
    if not temperature > 0:
        raise MultiganError(f"the sampling temperature must be > 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise MultiganError(f"top_p (nucleus sampling) must be in (0, 1], got {top_p}")


def nucleus_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits ``[..., V]`` with every token outside the nucleus set to ``-inf`` (Holtzman et al. 2020).

    The nucleus is the smallest set of most probable tokens whose probabilities sum to at least ``top_p``;
    it always holds the most probable token, so a tiny ``top_p`` is greedy decoding and ``top_p = 1`` keeps
    every token (the logits are returned unchanged).
    """
    if top_p >= 1.0:
        return logits
    probs = torch.softmax(logits.float(), dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p  # probability mass of the tokens ranked above each one
    drop_sorted = before >= top_p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def gumbel_like(logits: torch.Tensor, generator: torch.Generator | None = None, eps: float = 1e-10) -> torch.Tensor:
    """Standard Gumbel noise with the shape, dtype and device of ``logits``."""
    u = torch.rand(logits.shape, device=logits.device, dtype=torch.float32, generator=generator)
    return u.add_(eps).log_().neg_().add_(eps).log_().neg_().to(logits.dtype)  # -log(-log(u)): Gumbel(0, 1)


class TextGenerator(ExportableGenerator):
    """Base class of the text generators (see the module docstring)."""

    sample_options = ("temperature", "top_p")
    #: ``forward`` returns sampled ids ``[B, L]`` without a graph instead of soft one-hots (REINFORCE
    #: objectives score the ids and take log-probabilities by teacher forcing; set per instance, not saved)
    hard_samples: bool = False

    def __init__(self, vocab_size: int, seq_len: int, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0,
                 z_dim: int = 0, fixed_length: bool = False, **arch: Any):
        # fixed_length: every sequence has exactly seq_len tokens, <eos> is never sampled (the synthetic-oracle
        # task); recorded in the export only when set, so other exports keep their config
        extra = {"fixed_length": True} if fixed_length else {}
        super().__init__(vocab_size=vocab_size, seq_len=seq_len, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id,
                         z_dim=z_dim, **extra, **arch)
        self.fixed_length = bool(fixed_length)
        if vocab_size < 5 or seq_len < 1:
            raise MultiganError(f"text generator: vocab_size must be >= 5 and seq_len >= 1 "
                                f"(got {vocab_size}, {seq_len})")
        self.vocab_size, self.seq_len, self.z_dim = vocab_size, seq_len, z_dim
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.register_buffer("inv_temperature", torch.tensor(1.0))
        self._init_output_mask()
        self.tokenizer: WordTokenizer | None = None

    def _init_output_mask(self) -> None:
        mask = torch.zeros(self.vocab_size)
        never = [self.pad_id, self.bos_id] + ([self.eos_id] if self.fixed_length else [])
        mask[never] = float("-inf")
        self.register_buffer("logit_mask", mask, persistent=False)

    # --- what subclasses implement --------------------------------------------------------------------------

    output_layer: torch.nn.Module

    def initial_state(self, noise: torch.Tensor) -> State:  # pragma: no cover - abstract
        """Recurrent state for ``noise.shape[0]`` sequences."""
        raise NotImplementedError

    def step(self, ids: torch.Tensor, soft: torch.Tensor | None, state: State) -> tuple[torch.Tensor, State]:
        """Hidden features ``[B, H]`` of the next position and the new state."""  # pragma: no cover - abstract
        raise NotImplementedError

    def teacher_hidden(self, ids: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Hidden features ``[B, L, H]`` for every position of ``ids [B, L]`` given the true prefix."""
        raise NotImplementedError

    # --- the contract with the trainer ---------------------------------------------------------------------

    def sample_noise(self, batch: int, device: torch.device | str = "cpu",
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """``[batch, z_dim]`` Gaussian noise (``[batch, 0]`` when ``z_dim`` is 0: it only carries the batch size)."""
        return torch.randn(batch, self.z_dim, device=device, generator=generator)

    def set_inverse_temperature(self, value: float) -> None:
        """Set ``beta`` for the soft one-hots of the next roll-outs."""
        self.inv_temperature.fill_(float(value))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits of hidden features; ``<pad>`` and ``<bos>`` get ``-inf``."""
        return self.output_layer(hidden) + self.logit_mask.to(hidden.dtype)

    def forward(self, noise: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """Soft one-hots ``[B, seq_len, V]`` (Gumbel-softmax at the current inverse temperature); with
        :attr:`hard_samples`, sampled ids ``[B, seq_len]`` (no graph)."""
        if self.hard_samples:
            with torch.no_grad():
                return self.rollout(noise, soft=False)
        return self.rollout(noise)

    def rollout(self, noise: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0,
                soft: bool = True, top_p: float = 1.0) -> torch.Tensor:
        """Sample ``seq_len`` tokens; soft one-hots ``[B, L, V]`` when ``soft`` else hard ids ``[B, L]``.

        ``temperature`` divides the logits (sampling temperature), then ``top_p`` < 1 keeps only the nucleus
        (:func:`nucleus_filter`); ``generator`` makes the Gumbel noise reproducible (the same noise is drawn
        whatever ``top_p``, so ``top_p = 1`` is plain sampling). The loop stops when every sequence has produced ``<eos>``; the rest is ``<pad>``.
        """
        batch, device = noise.shape[0], noise.device
        state = self.initial_state(noise)
        pad = torch.full((batch,), self.pad_id, dtype=torch.long, device=device)
        ids = torch.full((batch,), self.bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        pad_row = F.one_hot(pad[:1], self.vocab_size).float() if soft else None  # [1, V]
        beta = self.inv_temperature.detach().clone()  # the schedule may change the buffer before backward
        prev_soft, outputs = None, []
        for _ in range(self.seq_len):
            hidden, state = self.step(ids, prev_soft, state)
            logits = self.logits(hidden)
            if temperature != 1.0:
                logits = logits / temperature
            logits = nucleus_filter(logits, top_p)
            scores = logits + gumbel_like(logits, generator)
            ids = torch.where(finished, pad, scores.argmax(-1))
            if soft:
                y = torch.softmax(scores * beta.to(scores.dtype), dim=-1)
                prev_soft = torch.where(finished.unsqueeze(1), pad_row.to(y.dtype), y)
                outputs.append(prev_soft)
            else:
                outputs.append(ids)
            finished = finished | (ids == self.eos_id)
            if bool(finished.all()):
                break
        out = torch.stack(outputs, dim=1)
        rest = self.seq_len - out.shape[1]
        if rest:
            fill = (pad_row.to(out.dtype).expand(batch, rest, -1) if soft
                    else pad.unsqueeze(1).expand(batch, rest))
            out = torch.cat([out, fill], dim=1)
        return out

    # --- likelihood ---------------------------------------------------------------------------------------------

    def token_nll(self, ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Per-position negative log-likelihood ``[B, L]`` (nats) of ``ids`` under teacher forcing.

        ``<pad>`` positions (after ``<eos>``) are 0: the model emits them with probability 1, so averages must
        count real tokens only (see :func:`multigan.text.evaluation.nll_gen`). ``temperature`` scores the
        model that samples with that temperature (logits divided by it).
        """
        mask = ids != self.pad_id
        length = int(mask.sum(1).max()) if mask.any() else 1
        hidden = self.teacher_hidden(ids[:, :length])
        picked = hidden[mask[:, :length]]  # only real positions reach the output layer
        logits = self.logits(picked).float()
        if temperature != 1.0:
            logits = logits / temperature
        nll = F.cross_entropy(logits, ids[:, :length][mask[:, :length]], reduction="none")
        out = torch.zeros(ids.shape, dtype=nll.dtype, device=ids.device)
        out[mask] = nll
        return out

    def mle_loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean NLL per real token (words and ``<eos>``): the teacher-forcing loss."""
        return self.token_nll(ids).sum() / (ids != self.pad_id).sum().clamp_min(1)

    # --- generation API --------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample_ids(self, n: int, seed: int | None = 0, temperature: float = 1.0, batch_size: int = 512,
                   top_p: float = 1.0) -> torch.Tensor:
        """``[n, seq_len]`` sampled ids at ``temperature`` and nucleus ``top_p``; the same ``seed`` gives the same ids."""
        if n < 1:
            raise MultiganError(f"the number of samples must be >= 1, got {n}")
        check_sampling(temperature, top_p)
        device = self.device
        g = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
        chunks = []
        for start in range(0, n, batch_size):
            noise = self.sample_noise(min(batch_size, n - start), device, g)
            chunks.append(self.rollout(noise, generator=g, temperature=temperature, soft=False, top_p=top_p))
        return torch.cat(chunks).cpu()

    def _require_tokenizer(self) -> WordTokenizer:
        if self.tokenizer is None:
            raise MultiganError(f"{type(self).__name__} has no tokenizer: set .tokenizer or load the run with "
                                "multigan.load (which reads tokenizer.json)")
        return self.tokenizer

    def generate(self, n: int, seed: int | None = 0, temperature: float = 1.0, top_p: float = 1.0) -> list[str]:
        """``n`` sentences (space-separated tokens, cut at ``<eos>``); the same seed gives the same text."""
        tok = self._require_tokenizer()
        was_training = self.training
        self.eval()
        try:
            return tok.decode_batch(self.sample_ids(n, seed=seed, temperature=temperature, top_p=top_p))
        finally:
            self.train(was_training)

    def generate_tokens(self, n: int, seed: int | None = 0, temperature: float = 1.0,
                        top_p: float = 1.0) -> list[list[str]]:
        """Like :meth:`generate`, as token lists (what BLEU takes)."""
        tok = self._require_tokenizer()
        ids = self.sample_ids(n, seed=seed, temperature=temperature, top_p=top_p)
        return [tok.tokens(row) for row in ids.tolist()]

    def write_samples(self, n: int, out: str | Path, seed: int | None = 0, temperature: float = 1.0,
                      top_p: float = 1.0) -> Path:
        """Write ``n`` sentences, one per line, to ``out`` (a file, or ``out/samples.txt`` for a folder)."""
        out = Path(out)
        if out.is_dir() or not out.suffix:
            out = out / "samples.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        lines = self.generate(n, seed=seed, temperature=temperature, top_p=top_p)
        out.write_text("".join(line + "\n" for line in lines))
        return out

    # --- assets ---------------------------------------------------------------------------------------------

    def export_assets(self, folder: str | Path) -> None:
        """Save the tokenizer beside the weights."""
        if self.tokenizer is not None:
            self.tokenizer.save(Path(folder) / FILE_NAME)

    def load_assets(self, folder: str | Path) -> None:
        """Read the tokenizer saved by :meth:`export_assets` (and check it fits the model)."""
        path = Path(folder) / FILE_NAME
        if path.is_file():
            self.attach_tokenizer(WordTokenizer.load(path))

    def attach_tokenizer(self, tokenizer: WordTokenizer) -> "TextGenerator":
        """Use ``tokenizer`` for text I/O; its sizes must match the model's."""
        if tokenizer.vocab_size != self.vocab_size or tokenizer.seq_len != self.seq_len:
            raise MultiganError(f"the tokenizer (vocabulary {tokenizer.vocab_size}, sequence length "
                                f"{tokenizer.seq_len}) does not fit the generator ({self.vocab_size}, {self.seq_len})")
        self.tokenizer = tokenizer
        return self

    @staticmethod
    def shift_right(ids: torch.Tensor, bos_id: int) -> torch.Tensor:
        """Teacher-forcing inputs: ``<bos>`` followed by ``ids[:, :-1]``."""
        bos = torch.full_like(ids[:, :1], bos_id)
        return torch.cat([bos, ids[:, :-1]], dim=1)


class TemperatureSchedule(Callback):
    """A trainer callback: after each adversarial step, sets the generator's inverse temperature to
    :func:`inverse_temperature` of the steps done (RelGAN's annealing from 1 to ``maximum``)."""

    def __init__(self, generator: "TextGenerator", total_steps: int, maximum: float,
                 schedule: Literal["exp", "linear", "constant"] = "exp"):
        inverse_temperature(0, total_steps, maximum, schedule)  # checks the settings now, not after step 1
        self.generator, self.total_steps, self.maximum, self.schedule = generator, total_steps, maximum, schedule

    def on_fit_start(self, trainer) -> None:
        self._set(trainer.step)  # 1 on a fresh start or after --init-from; the saved value on resume

    def on_step_end(self, trainer, losses: dict[str, float]) -> None:
        self._set(trainer.step)

    def _set(self, step: int) -> None:
        self.generator.set_inverse_temperature(inverse_temperature(step, self.total_steps, self.maximum,
                                                                   self.schedule))


def tokenizer_kwargs(tokenizer: WordTokenizer) -> dict:
    """The generator constructor arguments that come from a tokenizer."""
    return {"vocab_size": tokenizer.vocab_size, "seq_len": tokenizer.seq_len, "bos_id": tokenizer.bos_id,
            "eos_id": tokenizer.eos_id, "pad_id": tokenizer.pad_id}


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)

