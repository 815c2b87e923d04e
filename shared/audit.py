"""The audit trail: every lifecycle action, in order, free of personal data.

Entries reference subjects by their pseudonymous id, never by IIN or name.
Each entry carries the SHA-256 of the previous entry (when it was already
written), so deletions and edits inside the trail are detectable.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from .store.base import Store

COLLECTION = "audit"


def _digest(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def append(store: Store, action: str, *, subject_id: str | None, actor: str, details: dict | None = None) -> int:
    seq = store.next_sequence(COLLECTION)
    previous = store.get(COLLECTION, seq - 1) if seq > 1 else None
    entry = {"_id": seq, "action": action, "subject_id": subject_id, "actor": actor,
             "at": datetime.now(timezone.utc).isoformat(), "details": details or {},
             "prev_hash": previous["hash"] if previous else None}
    entry["hash"] = _digest(entry)
    store.insert(COLLECTION, entry)
    return seq


def verify_chain(store: Store) -> list[int]:
    """Sequence numbers whose hash or link does not check out (empty: the trail is intact)."""
    bad, previous = [], None
    for entry in store.find(COLLECTION, {}, sort=[("_id", 1)]):
        if entry["hash"] != _digest(entry) or (previous and entry["prev_hash"] not in (None, previous["hash"])):
            bad.append(entry["_id"])
        previous = entry
    return bad
