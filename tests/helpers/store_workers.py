"""Opening test stores, and child-process bodies for the multi-process tests.

A plain module (not a conftest) so `multiprocessing`'s spawn start method can
import it in the children (they get the parent's sys.path).
"""
from __future__ import annotations

import os

from papilla.shared.store.base import Store
from papilla.shared.store.mongo import MongoStore
from papilla.shared.store.sqlite import SQLiteStore


def open_backend(kind: str, location: str) -> Store:
    """Open a test store: `location` is the SQLite file, or the MongoDB database name."""
    if kind == "sqlite":
        return SQLiteStore(location)
    if kind == "mongo":
        return MongoStore(os.environ["PAPILLA_MONGO_URI"], location)
    raise ValueError(f"unknown backend kind {kind!r}")


def draw_sequence(kind: str, location: str, name: str, count: int, start, results) -> None:
    """Wait for `start`, then draw `count` values of sequence `name`; put the list on `results`."""
    with open_backend(kind, location) as store:
        start.wait()
        results.put([store.next_sequence(name) for _ in range(count)])


def try_transition(kind: str, location: str, _id: str, worker: int, start, results) -> None:
    """Race one PENDING -> ACTIVE transition of enrollment `_id`; put (worker, matched) on `results`."""
    with open_backend(kind, location) as store:
        start.wait()
        matched = store.update("enrollments", {"_id": _id, "state": "PENDING"}, set={"state": "ACTIVE", "by": worker})
        results.put((worker, matched))
