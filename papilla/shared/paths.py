"""Where reference data lives (outside the repository, never copied into it)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def reference_data_dir() -> Path:
    """`../shared/data` beside the repository, or `PAPILLA_DATA_DIR`."""
    return Path(os.environ.get("PAPILLA_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
