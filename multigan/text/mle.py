"""Maximum-likelihood (teacher-forcing) pretraining of a text generator, before adversarial training.

A short loop of its own, separate from the adversarial trainer: it has no discriminator, counts in
epochs, selects the epoch with the lowest validation NLL, and writes into ``out_dir``::

    checkpoints/step-XXXXXXXX/   the latest epoch (model, optimiser, RNG, history) -- resumable
    generator.safetensors        the best-validation-NLL weights (the generator's state dict), written when
                                 pretraining is done; :func:`load_pretrained` reads it into a generator built
                                 with the same architecture (e.g. from the run's ``export/generator.json``)
    done.json                    summary (best epoch, NLL history, seconds); its presence means "done, skip"

A run interrupted mid-pretraining resumes at the next epoch; a finished pretraining is not re-run.
``start_from`` continues from another pretraining's selected weights in a new folder, and ``max_seconds``
stops after a compute budget: together they give the matched-compute MLE baseline, MLE training continued
from where the adversarial stage starts, for as long as it ran.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Literal

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .. import checkpoint as ckpt
from .. import rng
from ..errors import MultiganError
from .evaluation import nll_gen
from .generator import TextGenerator

log = logging.getLogger("multigan")
DONE_FILE, WEIGHTS_FILE = "done.json", "generator.safetensors"


@dataclass
class MLEResult:
    """What pretraining did: epochs run, the selected epoch and the per-epoch validation history."""

    epochs: int
    best_epoch: int
    best_nll: float
    seconds: float
    stopped_early: bool = False
    history: list = field(default_factory=list)
    cpu_seconds: float = 0.0
    stop_reason: str = ""


def is_done(out_dir: str | Path) -> bool:
    """Whether :func:`pretrain_mle` finished in ``out_dir``."""
    out_dir = Path(out_dir)
    return (out_dir / DONE_FILE).is_file() and (out_dir / WEIGHTS_FILE).is_file()


def load_pretrained(generator: nn.Module, out_dir: str | Path) -> MLEResult:
    """Load the selected MLE weights into ``generator``; returns the saved summary."""
    out_dir = Path(out_dir)
    if not is_done(out_dir):
        raise ckpt.CheckpointError(f"{out_dir} holds no finished MLE pretraining ({DONE_FILE} and {WEIGHTS_FILE})")
    state = load_file(str(out_dir / WEIGHTS_FILE))
    generator.load_state_dict(state)
    return MLEResult(**json.loads((out_dir / DONE_FILE).read_text()))


def mle_term(generator: TextGenerator) -> Callable[[torch.Tensor, dict], torch.Tensor]:
    """A generator loss ``fn(fake, batch)`` for the adversarial trainer's ``ExtraLoss``: the teacher-forcing NLL
    per token of the batch's real sentences (ids, or the one-hots of :func:`multigan.text.data.onehot_collate`).

    Added to the adversarial loss it keeps the generator's likelihood of real text while the discriminator
    shapes its samples (a hybrid GAN + MLE objective).
    """
    def fn(fake: torch.Tensor, batch: dict) -> torch.Tensor:
        real = batch["real"]
        return generator.mle_loss(real.argmax(-1) if real.is_floating_point() else real)
    return fn


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


@dataclass
class _LoopState:
    """What a checkpoint of the MLE loop holds besides the model and the optimiser."""

    epoch: int = 0
    best: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    best_state: dict | None = None


def _restore(folder: Path, generator: nn.Module, opt: torch.optim.Optimizer) -> _LoopState | None:
    """Load the latest epoch checkpoint under ``folder/checkpoints`` (None when there is none)."""
    found = ckpt.list_checkpoints(folder / "checkpoints")
    if not found:
        return None
    state = ckpt.load_checkpoint(found[-1][1])
    generator.load_state_dict(state["generator"])
    opt.load_state_dict(state["optimizer"])
    rng.restore(state["rng"])
    return _LoopState(int(state["epoch"]), float(state["best"]), int(state["best_epoch"]), int(state["bad_epochs"]),
                      list(state["history"]), state["best_state"])


def _start_from(folder: Path, generator: nn.Module) -> _LoopState:
    """The selected weights of a finished pretraining, as epoch 0: the score the continuation has to beat."""
    result = load_pretrained(generator, folder)
    return _LoopState(best=result.best_nll, best_epoch=0,
                      best_state={k: v.detach().cpu().clone() for k, v in generator.state_dict().items()})


class _Budget:
    """Seconds of wall-clock (``wall``) or process CPU (``cpu``) time since creation; ``limit`` 0 = none."""

    def __init__(self, limit: float, clock: Literal["wall", "cpu"] = "wall"):
        if clock not in ("wall", "cpu"):
            raise MultiganError(f"the MLE time budget's clock must be 'wall' or 'cpu', got {clock!r}")
        self.limit = limit
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self._now = time.perf_counter if clock == "wall" else time.process_time
        self._start = self._now()

    def spent(self) -> bool:
        """Whether the budget is used up."""
        return self.limit > 0 and self._now() - self._start >= self.limit

    def seconds(self) -> tuple[float, float]:
        """(wall, CPU) seconds so far."""
        return round(time.perf_counter() - self.wall0, 1), round(time.process_time() - self.cpu0, 1)


def pretrain_mle(generator: TextGenerator, train_ids: torch.Tensor, val_ids: torch.Tensor, out_dir: str | Path,
                 epochs: int, batch_size: int = 64, lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.999),
                 grad_clip: float = 5.0, patience: int = 0, seed: int = 0, device: str | torch.device = "cpu",
                 on_epoch: Callable[[int, dict], None] | None = None, max_batches: int = 0,
                 select: Literal["best", "last"] = "best", start_from: str | Path | None = None,
                 max_seconds: float = 0.0, clock: Literal["wall", "cpu"] = "wall") -> MLEResult:
    """Train ``generator`` on ``train_ids [N, L]`` by teacher forcing; select by ``nll_gen`` on ``val_ids``.

    Args:
        epochs: maximum number of passes over the training ids (incomplete last batches are dropped),
            0 = no limit (then ``max_seconds`` must be set).
        patience: stop after this many epochs without a lower validation NLL (0 = run all epochs).
        on_epoch: called with ``(epoch, metrics)`` after each validation (logging, TensorBoard).
        max_batches: stop each epoch after this many batches (0 = whole epoch; for smoke tests).
        select: keep the epoch with the lowest validation NLL (``best``) or the last one (``last``, the
            published RelGAN protocol, which pretrains a fixed number of epochs).
        start_from: a finished pretraining folder whose selected weights this one starts from (with a fresh
            optimiser at ``lr``, when ``out_dir`` holds no checkpoint of its own); epochs count from 1 again,
            and its validation NLL is the one to beat: ``best_epoch`` 0 means its weights are kept.
        max_seconds: stop once this much ``clock`` time (``wall`` or process ``cpu``) is spent in this call,
            checked after every batch; the interrupted epoch is validated and counts (0 = no budget).

    Returns the summary; the generator holds the selected weights.
    """
    out_dir = Path(out_dir)
    if select not in ("best", "last"):
        raise MultiganError(f"MLE selection must be 'best' or 'last', got {select!r}")
    if is_done(out_dir):
        result = load_pretrained(generator, out_dir)
        log.info("MLE pretraining already done in %s (best epoch %d, NLL %.4f): skipped", out_dir,
                 result.best_epoch, result.best_nll)
        return result
    if epochs <= 0 and max_seconds <= 0:
        raise MultiganError("MLE pretraining needs a number of epochs or a time budget")
    if train_ids.shape[0] < batch_size:
        raise MultiganError(f"MLE pretraining: {train_ids.shape[0]} training sentences, fewer than one batch of "
                            f"{batch_size}; lower mle.batch_size")
    generator.to(device)
    opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    st = _restore(out_dir, generator, opt)
    if st is None and start_from is not None:
        st = _start_from(Path(start_from), generator)
        log.info("MLE: continuing from the weights of %s (validation NLL %.4f) in %s", start_from, st.best, out_dir)
    elif st is not None:
        log.info("MLE pretraining: resumed after epoch %d", st.epoch)
    st = st or _LoopState()
    budget = _Budget(max_seconds, clock)
    n_batches = train_ids.shape[0] // batch_size
    if max_batches:
        n_batches = min(n_batches, max_batches)
    reason, limit = "", epochs if epochs > 0 else math.inf
    while st.epoch < limit and not reason:
        generator.train()
        order = _epoch_order(train_ids.shape[0], seed, st.epoch)
        total, done = 0.0, 0
        for b in range(n_batches):
            batch = train_ids[order[b * batch_size:(b + 1) * batch_size]].to(device)
            loss = generator.mle_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(generator.parameters(), grad_clip)
            opt.step()
            total, done = total + float(loss.detach()), done + 1
            if budget.spent():
                reason = "time_budget"
                break
        if not math.isfinite(total):
            raise MultiganError(f"MLE pretraining diverged at epoch {st.epoch + 1} (loss {total}); lower mle.lr")
        st.epoch += 1
        metrics = {"epoch": st.epoch, "train_nll": total / done, "batches": done, **nll_gen(generator, val_ids)}
        st.history.append(metrics)
        if metrics["nll_gen"] < st.best or select == "last":
            st.best, st.best_epoch, st.bad_epochs = metrics["nll_gen"], st.epoch, 0
            st.best_state = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}
        else:
            st.bad_epochs += 1
        if not reason and patience and st.bad_epochs >= patience:
            reason = "patience"
        log.info("MLE epoch %d/%s: train NLL %.4f, validation NLL %.4f per token (%.2f per sentence)%s", st.epoch,
                 epochs or "-", metrics["train_nll"], metrics["nll_gen"], metrics["nll_gen_sentence"],
                 " (best)" if st.best_epoch == st.epoch else "")
        if on_epoch is not None:
            on_epoch(st.epoch, metrics)
        ckpt.save_checkpoint(out_dir / "checkpoints", st.epoch, {
            "generator": generator.state_dict(), "optimizer": opt.state_dict(), "epoch": st.epoch, "best": st.best,
            "best_epoch": st.best_epoch, "bad_epochs": st.bad_epochs, "history": st.history,
            "best_state": st.best_state, "rng": rng.capture()})
        ckpt.prune_checkpoints(out_dir / "checkpoints", keep_last=1)
    if st.best_state is None:
        raise MultiganError("MLE pretraining ran no epoch (mle.epochs is 0?)")
    generator.load_state_dict(st.best_state)
    wall, cpu = budget.seconds()
    result = MLEResult(epochs=st.epoch, best_epoch=st.best_epoch, best_nll=st.best, stopped_early=reason == "patience",
                       seconds=wall, cpu_seconds=cpu, stop_reason=reason or "epochs", history=st.history)
    save_file({k: v.contiguous() for k, v in st.best_state.items()}, str(out_dir / WEIGHTS_FILE))
    (out_dir / DONE_FILE).write_text(json.dumps(asdict(result), indent=2))
    return result
