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
