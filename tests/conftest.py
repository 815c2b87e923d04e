from __future__ import annotations

import os
from pathlib import Path

import pytest

from papilla.shared.paths import reference_data_dir

from .crypto.softhsm import make_token


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


@pytest.fixture(scope="session")
def softhsm_env(tmp_path_factory) -> dict[str, str]:
    """One SoftHSM2 token for the whole test session (the PKCS#11 library reads SOFTHSM2_CONF
    once per process); SOFTHSM2_CONF is set here for this process and its children.
    Tests keep apart by label prefix (`tests.crypto.softhsm.fresh_config`)."""
    env = make_token(tmp_path_factory.mktemp("softhsm"))
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    return env
