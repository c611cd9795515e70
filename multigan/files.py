"""Atomic writes: a file or folder appears under its final name complete, or not at all."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Union

PathLike = Union[str, os.PathLike]


_STAGING, _REPLACED = ".tmp-", ".old-"  # hidden names of a write in progress / of the folder it replaces


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_atomically(final: PathLike, write: Callable[[Path], None], *, folder: bool = False) -> Path:
    """Call ``write(tmp)``, flush what it wrote to disk, then rename ``tmp`` to ``final``; returns ``final``.

    ``tmp`` lies in a hidden staging folder ``.{name}.tmp-*`` next to ``final``. With ``folder=True`` it is
    that (empty) folder, which then replaces the folder ``final`` (an old one is removed after the swap);
    otherwise it is a file path whose file replaces the file ``final``. When ``write`` raises, nothing
    is left behind and an existing ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}{_STAGING}", dir=final.parent))
    tmp = staging if folder else staging / final.name
    try:
        write(tmp)
        for f in staging.iterdir():
            if f.is_file():
                _fsync_file(f)
        if not folder:
            os.replace(tmp, final)
        elif final.exists():
            old = final.with_name(f".{final.name}{_REPLACED}{os.getpid()}")
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def remove_interrupted_writes(folder: Path) -> list[Path]:
    """Delete what writes killed mid-way left in ``folder`` (their staging and replaced folders); returns them."""
    removed = []
    for pattern in (f".*{_STAGING}*", f".*{_REPLACED}*"):
        for path in folder.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed
