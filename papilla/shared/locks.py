"""A named lease lock in the store, for the few decisions that must not interleave across processes.

The lock is one document whose `state` is `free` or `held:<expiry>:<owner>`;
taking and releasing it are single-document compare-and-set updates, so it
works the same on SQLite and MongoDB. A holder that dies releases it by
expiry (`ttl_s`).
"""
from __future__ import annotations

import secrets
import time
from contextlib import contextmanager

from papilla.shared import names

from .store.base import DuplicateKeyError, Store

COLLECTION = names.JOBS


class LockTimeout(TimeoutError):
    pass


def _expired(state: str, now: float) -> bool:
    if state == "free":
        return True
    _, expiry, _ = state.split(":", 2)
    return float(expiry) < now


@contextmanager
def lease(store: Store, name: str, *, ttl_s: float = 30.0, wait_s: float = 60.0):
    lock_id = f"lock:{name}"
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + wait_s
    while True:
        now = time.time()
        mine = f"held:{now + ttl_s:.3f}:{owner}"
        doc = store.get(COLLECTION, lock_id)
        if doc is None:
            try:
                store.insert(COLLECTION, {"_id": lock_id, "kind": "lock", "state": mine})
                break
            except DuplicateKeyError:
                continue
        if _expired(doc["state"], now) and store.update(COLLECTION, {"_id": lock_id, "state": doc["state"]},
                                                        set={"state": mine}) == 1:
            break
        if time.monotonic() > deadline:
            raise LockTimeout(f"lock {name} not acquired within {wait_s:.0f} s")
        time.sleep(0.01)
    try:
        yield
    finally:
        store.update(COLLECTION, {"_id": lock_id, "state": mine}, set={"state": "free"})
