"""What every recipe script shares: the command line, presets, config resolution and the run directory.

A recipe calls :func:`run_recipe` with its config dataclass, its presets and a ``train(cfg, run)`` function.
The command line is::

    python recipes/NAME.py [--preset P] [--config FILE.yaml] [--out DIR] [--max-steps N]
                           [--resume | --overwrite] [--init-from RUN] [key=value ...]

Values are resolved as dataclass defaults < preset < YAML file < ``key=value`` overrides < ``--max-steps``,
checked, and saved to ``DIR/config.yaml``. With ``--resume`` the saved config is the base instead, and only
run-length settings (``--max-steps``, ``train.progress`` ...) may change. Starting into a directory made with a different config, or that
already holds checkpoints, is refused unless ``--resume`` or ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import config as C
from .checkpoint import list_checkpoints
from .distributed import is_main_process
from .errors import MultiganError

log = logging.getLogger("multigan")
RESUMABLE_CHANGES = {"train.max_steps", "train.max_minutes", "train.progress", "train.num_workers",
                     "train.log_every"}


class RunDirError(MultiganError):
    """The run directory cannot be used as asked (different config, existing checkpoints)."""


@dataclass
class RunArgs:
    """The recipe-independent command-line choices, handed to the recipe's ``train`` function."""

    out: Path
    preset: str
    resume: bool
    init_from: str | None
    extra: argparse.Namespace


def base_parser(description: str, presets: Sequence[str], default_preset: str, default_out: str) -> argparse.ArgumentParser:
    """The common recipe arguments; recipes add their own (e.g. ``--data``) to the returned parser."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default=default_preset, choices=list(presets), help="named set of hyper-parameters")
    p.add_argument("--config", help="YAML file with config values (applied after the preset)")
    p.add_argument("--out", default=default_out, help="run directory (config, logs, checkpoints, export)")
    p.add_argument("--max-steps", type=int, help="shortcut for train.max_steps=N")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    mode.add_argument("--overwrite", action="store_true", help="delete what --out holds and start over")
    p.add_argument("--init-from", help="start from another run's weights (G, D, EMA) with fresh optimizers")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.g_lr=1e-4")
    return p


def resolve_config(config_cls: type, preset: dict, yaml_file: str | None, overrides: list[str],
                   max_steps: int | None) -> Any:
    """Build and validate the config from its layers (see the module docstring)."""
    data = C.to_dict(C.from_dict(config_cls, preset))
    if yaml_file:
        data = C.merge(data, C.load_yaml(yaml_file))
    data = C.merge(data, C.parse_overrides(overrides))
    if max_steps is not None:
        data = C.merge(data, {"train": {"max_steps": max_steps}})
    return C.from_dict(config_cls, data)


#: What the core trainer and :func:`run_recipe` write into a run directory (``--overwrite`` deletes these).
RUN_OUTPUTS = ("checkpoints", "logs", "export", "config.yaml", "validation.jsonl", "metrics.json")


def _holds_a_run(out: Path) -> bool:
    """Has ``out`` trained anything worth protecting (a checkpoint or an export)? A failed first attempt has not."""
    return bool(list_checkpoints(out / "checkpoints")) or (out / "export").is_dir()


def prepare_run_dir(out: Path, cfg_data: dict, resume: bool, overwrite: bool, outputs: Sequence[str] = (),
                    resumable: Sequence[str] = ()) -> dict:
    """Create or check ``out``; returns the config to use (the saved one, when resuming).

    ``--overwrite`` deletes :data:`RUN_OUTPUTS` and the recipe's own ``outputs`` (files or folders, relative
    to ``out``); anything else in ``out`` is left alone. ``--resume`` needs a run there (its ``config.yaml``)
    and may only extend it (change only :data:`RESUMABLE_CHANGES` and the recipe's ``resumable`` keys, which
    do not change results). Without either, a directory that holds a run (a checkpoint or an export) is
    refused; one that holds only the config of an attempt that never saved a checkpoint is reused.
    """
    saved_file = out / "config.yaml"
    if overwrite and out.exists():
        for child in (*RUN_OUTPUTS, *outputs):
            target = out / child
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    elif resume and not saved_file.is_file():
        raise RunDirError(f"--resume: {out} holds no run to continue (no config.yaml"
                          f"{'' if out.is_dir() else '; the directory does not exist'}): check --out, or drop "
                          "--resume to start a new run")
    elif not saved_file.is_file() and list_checkpoints(out / "checkpoints"):
        raise RunDirError(f"{out} holds checkpoints but no config.yaml: choose another --out, or --overwrite")
    elif saved_file.is_file():
        changed = C.diff(C.load_yaml(saved_file), cfg_data)
        if resume:
            blocked = [k for k in changed if k not in RESUMABLE_CHANGES and k not in resumable]
            if blocked:
                raise RunDirError(f"--resume: {out} was made with a different config ({', '.join(blocked)} "
                                  f"differ); drop those overrides or start a new run (--out, or --overwrite)")
            found = list_checkpoints(out / "checkpoints")
            target = cfg_data.get("train", {}).get("max_steps")
            if found and isinstance(target, int) and target < found[-1][0]:
                raise RunDirError(f"--resume: train.max_steps={target} is below step {found[-1][0]}, which "
                                  f"{out} has already reached; give a larger --max-steps (the saved config is "
                                  "unchanged)")
        elif _holds_a_run(out):
            why = f"a different config ({', '.join(changed)} differ)" if changed else "checkpoints already"
            raise RunDirError(f"{out} holds a run with {why}: pass --resume to continue it, --overwrite to delete "
                              "it and start over, or choose another --out")
        elif changed:
            log.info("%s holds the config of an attempt that saved no checkpoint: replacing it (%s differ)", out,
                     ", ".join(changed))
    out.mkdir(parents=True, exist_ok=True)
    lock_run_dir(out)
    C.save_yaml(cfg_data, saved_file)
    return cfg_data


def check_init_from(source: Path, out: Path, overwrite: bool) -> None:
    """``--init-from`` is read before anything in ``--out`` is removed: it must hold a checkpoint (or an import),
    and with ``--overwrite`` it must not lie inside the run directory about to be deleted."""
    if not source.exists():
        raise RunDirError(f"--init-from {source}: does not exist")
    if overwrite and out.exists():
        src, dst = source.resolve(), out.resolve()
        if src == dst or dst in src.parents:
            raise RunDirError(f"--init-from {source} lies in --out {out}, which --overwrite would delete before "
                              "it is read: copy the run elsewhere first, or choose another --out (nothing was "
                              "deleted)")
    if not ((source / "state.json").is_file() or list_checkpoints(source / "checkpoints")):
        raise RunDirError(f"--init-from {source}: no checkpoint found (a run directory or a checkpoints/step-* "
                          "folder is expected; nothing in --out was changed)")


_LOCKS: dict[Path, Any] = {}  # open lock files, held until the process exits


def lock_run_dir(out: Path) -> None:
    """Take ``out/.lock`` for this process (released when it exits); another live process holding it is an error.

    Two processes training into one directory would interleave validation rows and write two event files.
    """
    import fcntl
    import os

    key = out.resolve()
    if key in _LOCKS:
        return
    handle = open(out / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RunDirError(f"{out} is in use by another process (PID {holder}); wait for it to finish, stop it, "
                          "or choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _LOCKS[key] = handle


def release_run_dir(out: Path) -> None:
    """Give up this process's lock on ``out`` (when its recipe is done); a no-op without one."""
    handle = _LOCKS.pop(out.resolve(), None)
    if handle is not None:
        handle.close()  # closing the file drops the flock; the PID stays in the file as a harmless note


def fit(trainer, run: RunArgs):
    """Apply ``--init-from`` if given, train (resuming when asked); returns ``(TrainResult, seconds)``."""
    import time

    if run.init_from:
        trainer.init_weights_from(run.init_from)
    start = time.perf_counter()
    result = trainer.fit(resume=run.resume)
    return result, time.perf_counter() - start


def finish(run: RunArgs, summary: dict, printed: dict | None = None) -> dict:
    """End of every recipe on the main process: ``metrics.json`` in the run directory, one JSON line on stdout.

    ``printed`` is a shorter view for the console (default: the whole summary). Returns ``summary``.
    """
    (run.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary if printed is None else printed), flush=True)
    return summary


class _CurrentStderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes (tests and notebooks replace it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging() -> None:
    """INFO-level logs of the ``multigan`` logger on stderr (once)."""
    logger = logging.getLogger("multigan")
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def run_recipe(config_cls: type, presets: dict[str, dict], train: Callable[[Any, RunArgs], Any], *,
               description: str, default_out: str, default_preset: str | None = None,
               add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               apply_arguments: Callable[[argparse.Namespace], list[str]] | None = None,
               data_key: str | None = None, outputs: Sequence[str] = (), resumable: Sequence[str] = (),
               argv: Sequence[str] | None = None) -> Any:
    """Parse the command line, resolve the config, prepare the run directory and call ``train(cfg, run)``.

    ``apply_arguments`` turns recipe-specific arguments into extra ``key=value`` overrides; ``data_key`` (e.g.
    ``"data.path"``) adds a ``--data PATH`` option that sets that key; ``outputs`` names what the recipe writes
    into the run directory besides :data:`RUN_OUTPUTS` (``--overwrite`` deletes those too); ``resumable`` names
    the recipe's config keys that ``--resume`` may change besides :data:`RESUMABLE_CHANGES`.
    User errors (bad config, data, run directory) print one ``error:`` line and exit with status 2.
    """
    setup_logging()
    parser = base_parser(description, presets, default_preset or next(iter(presets)), default_out)
    if add_arguments:
        add_arguments(parser)
    if data_key:
        parser.add_argument("--data", help=f"the training data (sets {data_key})")
    args = parser.parse_intermixed_args(argv)  # key=value overrides may stand between options
    try:
        overrides = list(args.overrides) + (apply_arguments(args) if apply_arguments else [])
        if data_key and args.data:
            overrides.append(f"{data_key}={args.data}")
        out = Path(args.out)
        saved = out / "config.yaml"
        if args.resume and saved.is_file():  # the saved config is the base; overrides may only extend the run
            data = C.merge(C.load_yaml(saved), C.parse_overrides(overrides))
            if args.max_steps is not None:
                data = C.merge(data, {"train": {"max_steps": args.max_steps}})
            cfg = C.from_dict(config_cls, data)
        else:
            cfg = resolve_config(config_cls, presets[args.preset], args.config, overrides, args.max_steps)
        data = C.to_dict(cfg)
        if args.init_from:
            check_init_from(Path(args.init_from), out, args.overwrite)
        if is_main_process():
            prepare_run_dir(out, data, args.resume, args.overwrite, outputs, resumable)
        try:
            return train(cfg, RunArgs(out, args.preset, args.resume, args.init_from, args))
        finally:
            release_run_dir(out)
    except MultiganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
