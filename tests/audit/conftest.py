"""A fresh audit trail (SQLite file, file audit key, centre Ed25519 key, checkpoint file) per test."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papilla.shared import audit
from papilla.shared.crypto import sealing

from .audit_workers import TrailSpec

ENTRIES = 12          # checkpoints (every 5) at entries 5 and 10


def make_spec(tmp_path, kind: str = "sqlite", location: str | None = None) -> TrailSpec:
    key_path = tmp_path / "centre-ed25519.pem"
    if not key_path.exists():
        sealing.save_private_key(Ed25519PrivateKey.generate(), key_path)
    return TrailSpec(kind=kind, location=location or str(tmp_path / "store.sqlite3"), key_dir=str(tmp_path / "keys"),
                     signing_key=str(key_path), checkpoint_dir=str(tmp_path / "checkpoints"))


def fill(trail, count: int = ENTRIES) -> None:
    actions = ("enrollment_activated", "blocked", "unblocked", "adjudicated", "destroyed")
    for i in range(count):
        audit.append(trail, actions[i % len(actions)], subject_id=f"subj-{i % 4}", actor=f"principal-{i % 3}",
                     details={"request_id": f"req-{i}"}, rule="Law Art.9 p.2" if i % 2 else None)


@pytest.fixture
def spec(tmp_path) -> TrailSpec:
    return make_spec(tmp_path)


@pytest.fixture
def trail(spec):
    opened = spec.open()
    fill(opened)
    yield opened
    opened.store.close()
