"""The gallery change log: which enrollments the match workers must hold.

One document per enrollment in `gallery` with a global, increasing `seq`.
Joining, leaving (archive, block, destroy) and re-joining (unblock) each
stamp a new seq, so a match worker syncs by reading `seq > last_seen` and
never rescans the whole collection.
"""
from __future__ import annotations

from papilla.shared import names

from .store.base import Store

COLLECTION = names.GALLERY


def stamp(store: Store, enrollment_id: str, subject_id: str, *, active: bool) -> int:
    seq = store.next_sequence(COLLECTION)
    store.update(COLLECTION, {"_id": enrollment_id}, set={"seq": seq, "active": active, "subject_id": subject_id},
                 upsert_doc={"_id": enrollment_id})
    return seq


def changes_since(store: Store, seq: int, limit: int | None = None) -> list[dict]:
    """Changes after `seq` in seq order; at most `limit` of them (a page: the next page starts after the last)."""
    return store.find(COLLECTION, {"seq": {"$gt": seq}}, sort=[("seq", 1)], limit=limit)
