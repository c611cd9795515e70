"""Shared pytest fixtures: the shared data folder, and one torch thread (the test machines are small)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

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
