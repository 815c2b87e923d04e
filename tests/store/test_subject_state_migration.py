"""Subjects stored before the lifecycle state machine (a boolean `blocked`, no `state`) get their state once, when
the centre opens: blocked ones BLOCKED (returning to REGISTERED when unblocked), the rest REGISTERED, and the
machine's compare-and-set transitions then work on them."""
from __future__ import annotations

import mongomock

from papilla.shared.legal import states
from papilla.shared.store.mongo import MongoStore


def legacy_subjects(store) -> None:
    store.insert("subjects", {"_id": "sub-blocked", "iin_hash": "h1", "created_at": "2026-01-01", "blocked": True})
    store.insert("subjects", {"_id": "sub-free", "iin_hash": "h2", "created_at": "2026-01-01", "blocked": False})
    store.insert("subjects", {"_id": "sub-old", "iin_hash": "h3", "created_at": "2026-01-01"})
    store.insert("subjects", {"_id": "sub-new", "iin_hash": "h4", "created_at": "2026-01-01", "state": "REGISTERED"})


def check_migrated(store) -> None:
    assert states.migrate_legacy_subjects(store, batch=2) == 3
    blocked = store.get("subjects", "sub-blocked")
    assert blocked["state"] == states.BLOCKED and "blocked" not in blocked
    assert [store.get("subjects", s)["state"] for s in ("sub-free", "sub-old", "sub-new")] == [states.REGISTERED] * 3
    assert states.migrate_legacy_subjects(store) == 0                      # idempotent
    assert states.move_subject(store, blocked, "unblock") == states.REGISTERED   # the machine works on them
    assert states.move_subject(store, store.get("subjects", "sub-old"), "block") == states.BLOCKED


def test_legacy_subjects_get_their_state(store):
    legacy_subjects(store)
    check_migrated(store)


def test_legacy_subjects_get_their_state_in_mongodb_code_paths():
    store = MongoStore("mongodb://unused", "papilla_migration", client=mongomock.MongoClient())
    legacy_subjects(store)
    check_migrated(store)
