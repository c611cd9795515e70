"""``--init-from`` a run made by ``multigan import-checkpoint``: G, and D and optimizer states when imported.

A normal ``--init-from`` (:meth:`multigan.run_state.RunState.init_weights_from`) copies G and D and starts fresh
optimizers. An imported published checkpoint is different: its ``do_`` file may carry the discriminator and
both AdamW states of a long training run, which fine-tuning should continue from, or it may hold no
discriminator at all. :func:`init_from_imported` handles such a run (it recognises the ``imported`` entry the
importer writes into the checkpoint) and leaves every other run to the normal path.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Union

import torch

from ... import checkpoint as ckpt

__all__ = ["imported_checkpoint", "init_from_imported"]

log = logging.getLogger("multigan")


def imported_checkpoint(path: Union[str, Path]) -> Path | None:
    """The checkpoint folder of ``path`` (run directory or checkpoint) when an import wrote it, else ``None``."""
    path = Path(path)
    if not (path / ckpt.STATE_FILE).is_file():
        found = ckpt.list_checkpoints(path / "checkpoints")
        if not found:
            return None
        path = found[-1][1]
    try:
        skeleton = json.loads((path / ckpt.STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return path if isinstance(skeleton, dict) and "imported" in skeleton else None


def _keep_groups(optimizer: torch.optim.Optimizer, imported: dict) -> dict:
    """``optimizer``'s own state dict with the per-parameter states of ``imported`` (the recipe's LR and betas win)."""
    own = optimizer.state_dict()
    return {"state": imported["state"], "param_groups": own["param_groups"]}


def init_from_imported(trainer: Any, path: Union[str, Path]) -> bool:
    """Initialise ``trainer`` (a :class:`multigan.Trainer`) from an imported run; ``False`` for other runs.

    G (and the EMA copy) always come from the import. D and both optimizers' per-parameter states (AdamW
    moments and step counts) come from it when the ``do_`` file had them; the optimizers keep the recipe's
    learning rates, betas and schedule. Without a discriminator a warning says that D starts fresh.

    Raises:
        CheckpointError: the imported networks do not fit the recipe's (the message names ``finetune.yaml``).
    """
    folder = imported_checkpoint(path)
    if folder is None:
        return False
    state = ckpt.load_checkpoint(folder)
    info = state["imported"]
    run = folder.parent.parent
    hint = f"fine-tune with --config {run / 'finetune.yaml'} (the settings the import wrote)"
    try:
        trainer.G.load_state_dict(state["generator"])
        if "discriminator" in state:
            trainer.D.load_state_dict(state["discriminator"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ckpt.CheckpointError(f"--init-from {path}: the imported networks do not fit this recipe's ({first}); "
                                   f"{hint}") from None
    if trainer.ema is not None:
        trainer.ema.load_state_dict({"module." + k: v for k, v in state["generator"].items()}
                                    | {"n_averaged": torch.tensor(0)})
    if "discriminator" not in state:
        log.warning("--init-from %s: the import had no discriminator (no do_ file): D starts fresh, and so do both "
                    "optimizers; expect a few thousand steps before D gives useful gradients", path)
    if "opt_g" in state and "opt_d" in state:
        for name in ("opt_g", "opt_d"):
            optimizer = getattr(trainer, name)
            ours = optimizer.state_dict()["param_groups"][0]["params"]
            if len(state[name]["param_groups"][0]["params"]) != len(ours):
                raise ckpt.CheckpointError(f"--init-from {path}: {name} of the import does not fit this recipe's "
                                           f"networks; {hint}")
            optimizer.load_state_dict(_keep_groups(optimizer, state[name]))
        log.info("--init-from %s: G, D and both optimizer states (reference step %s) from %s", path,
                 info.get("reference_steps"), info.get("discriminator_file"))
    elif "discriminator" in state:
        log.info("--init-from %s: G and D from the import; the do_ file had no optimizer states, they start fresh",
                 path)
    return True
