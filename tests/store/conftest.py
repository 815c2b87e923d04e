"""Backends for the store contract tests.

SQLite always runs (a fresh file under tmp_path). MongoDB runs when
PAPILLA_MONGO_URI is set: each test gets a throwaway database
(`papilla_test_<random>`), dropped afterwards.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest

from papilla.shared.store.base import Store
from papilla.shared.store.mongo import MongoStore

from tests.helpers.store_workers import open_backend

MONGO_URI = os.environ.get("PAPILLA_MONGO_URI")


@dataclass
class Backend:
    """How to open (and re-open, also from another process) one test database."""

    kind: str  # "sqlite" | "mongo"
    location: str  # SQLite file path, or MongoDB database name

    def open(self) -> Store:
        return open_backend(self.kind, self.location)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "mongo",
        id="mongo",
        marks=[
            pytest.mark.mongo,
            pytest.mark.skipif(not MONGO_URI, reason="PAPILLA_MONGO_URI not set: no MongoDB server here"),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path) -> Backend:
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "store.sqlite3"))
        return
    database = f"papilla_test_{uuid.uuid4().hex[:12]}"
    yield Backend("mongo", database)
    cleanup = MongoStore(MONGO_URI, database, ensure_indexes=False)
    try:
        cleanup.drop_database()
    finally:
        cleanup.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def open_store_again(backend: Backend) -> Callable[[], Store]:
    """Open another store instance on the same database (caller closes it)."""
    return backend.open
