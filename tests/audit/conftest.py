"""A fresh audit trail (SQLite file, file audit key, centre Ed25519 key, checkpoint file) per test."""
from __future__ import annotations

import pytest

from tests.helpers.audit_trail import TrailSpec, fill, make_spec


@pytest.fixture
def spec(tmp_path) -> TrailSpec:
    return make_spec(tmp_path)


@pytest.fixture
def trail(spec):
    opened = spec.open()
    fill(opened)
    yield opened
    opened.store.close()
