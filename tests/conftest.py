from __future__ import annotations

import os
from pathlib import Path

import pytest

from papilla.shared.paths import reference_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Reference data (FVC2002 B sets, samples). Fails loudly when absent: CI has it."""
    path = reference_data_dir()
    if not (path / "fvc2002").is_dir():
        pytest.fail(f"reference data not found at {path} (set PAPILLA_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def fvc_dir(data_dir: Path) -> Path:
    return data_dir / "fvc2002"
