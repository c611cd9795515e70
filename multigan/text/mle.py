"""Maximum-likelihood (teacher-forcing) pretraining of a text generator, before adversarial training.

A short loop of its own, separate from the adversarial trainer: it has no discriminator, counts in
epochs, selects the epoch with the lowest validation NLL, and writes into ``out_dir``::

    checkpoints/step-XXXXXXXX/   the latest epoch (model, optimiser, RNG, history) -- resumable
    generator.safetensors        the best-validation-NLL weights, written when pretraining is done
    done.json                    summary (best epoch, NLL history); its presence means "done, skip"

A run interrupted mid-pretraining resumes at the next epoch; a finished pretraining is not re-run.
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


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def pretrain_mle(generator: TextGenerator, train_ids: torch.Tensor, val_ids: torch.Tensor, out_dir: str | Path,
                 epochs: int, batch_size: int = 64, lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.999),
                 grad_clip: float = 5.0, patience: int = 0, seed: int = 0, device: str | torch.device = "cpu",
                 on_epoch: Callable[[int, dict], None] | None = None, max_batches: int = 0,
                 select: Literal["best", "last"] = "best") -> MLEResult:
    """Train ``generator`` on ``train_ids [N, L]`` by teacher forcing; select by ``nll_gen`` on ``val_ids``.

    Args:
        epochs: maximum number of passes over the training ids (incomplete last batches are dropped).
        patience: stop after this many epochs without a lower validation NLL (0 = run all epochs).
        on_epoch: called with ``(epoch, metrics)`` after each validation (logging, TensorBoard).
        max_batches: stop each epoch after this many batches (0 = whole epoch; for smoke tests).
        select: keep the epoch with the lowest validation NLL (``best``) or the last one (``last``, the
            published RelGAN protocol, which pretrains a fixed number of epochs).

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
    if train_ids.shape[0] < batch_size:
        raise MultiganError(f"MLE pretraining: {train_ids.shape[0]} training sentences, fewer than one batch of "
                            f"{batch_size}; lower mle.batch_size")
    generator.to(device)
    opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    root = out_dir / "checkpoints"
    history: list[dict] = []
    epoch, best, best_epoch, best_state, bad_epochs = 0, math.inf, -1, None, 0
    found = ckpt.list_checkpoints(root)
    if found:
        state = ckpt.load_checkpoint(found[-1][1])
        generator.load_state_dict(state["generator"])
        opt.load_state_dict(state["optimizer"])
        epoch, best, best_epoch = int(state["epoch"]), float(state["best"]), int(state["best_epoch"])
        bad_epochs, history = int(state["bad_epochs"]), list(state["history"])
        best_state = state["best_state"]
        rng.restore(state["rng"])
        log.info("MLE pretraining: resumed after epoch %d", epoch)
    start = time.perf_counter()
    n_batches = train_ids.shape[0] // batch_size
    if max_batches:
        n_batches = min(n_batches, max_batches)
    stopped = False
    while epoch < epochs and not stopped:
        generator.train()
        order = _epoch_order(train_ids.shape[0], seed, epoch)
        total = 0.0
        for b in range(n_batches):
            batch = train_ids[order[b * batch_size:(b + 1) * batch_size]].to(device)
            loss = generator.mle_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(generator.parameters(), grad_clip)
            opt.step()
            total += float(loss.detach())
        if not math.isfinite(total):
            raise MultiganError(f"MLE pretraining diverged at epoch {epoch + 1} (loss {total}); lower mle.lr")
        epoch += 1
        metrics = {"epoch": epoch, "train_nll": total / n_batches, **nll_gen(generator, val_ids)}
        history.append(metrics)
        if metrics["nll_gen"] < best or select == "last":
            best, best_epoch, bad_epochs = metrics["nll_gen"], epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}
        else:
            bad_epochs += 1
        stopped = bool(patience) and bad_epochs >= patience
        log.info("MLE epoch %d/%d: train NLL %.4f, validation NLL %.4f (per token %.4f)%s", epoch, epochs,
                 metrics["train_nll"], metrics["nll_gen"], metrics["nll_gen_token"],
                 " (best)" if best_epoch == epoch else "")
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        ckpt.save_checkpoint(root, epoch, {
            "generator": generator.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "best": best,
            "best_epoch": best_epoch, "bad_epochs": bad_epochs, "history": history, "best_state": best_state,
            "rng": rng.capture()})
        ckpt.prune_checkpoints(root, keep_last=1)
    if best_state is None:
        raise MultiganError("MLE pretraining ran no epoch (mle.epochs is 0?)")
    generator.load_state_dict(best_state)
    result = MLEResult(epochs=epoch, best_epoch=best_epoch, best_nll=best, stopped_early=stopped,
                       seconds=round(time.perf_counter() - start, 1), history=history)
    save_file({k: v.contiguous() for k, v in best_state.items()}, str(out_dir / WEIGHTS_FILE))
    (out_dir / DONE_FILE).write_text(json.dumps(asdict(result), indent=2))
    return result
