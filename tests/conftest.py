"""Shared pytest fixtures: the shared data folder, and one torch thread (the test machines are small).

Caches (the corpus index, the digit classifier) go to a temporary folder for the session, subprocesses
included: tests neither read nor fill the user's ``~/.cache/multigan``.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

_CACHE = tempfile.mkdtemp(prefix="multigan-test-cache-")
os.environ["MULTIGAN_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``shared/data`` beside the repository; tests that need it are skipped when it is missing."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(scope="session")
def lj_short_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first four LJ Speech clips of the shared mini set, cut to 1.5 s, in a temporary folder."""
    import soundfile as sf

    src = DATA_DIR / "ljspeech-mini" / "wavs"
    if not src.is_dir():
        pytest.skip(f"LJ Speech mini set not found at {src}")
    out = tmp_path_factory.mktemp("lj_short")
    for path in sorted(src.glob("*.wav"))[:4]:
        y, sr = sf.read(str(path), dtype="float32")
        sf.write(str(out / path.name), y[: int(1.5 * sr)], sr)
    return out
