"""The audit trail: every lifecycle action, in order, keyed, chained, free of personal data.

An entry is one document of the ``audit`` collection::

    {_id: seq, seq, at, action, subject_id, actor, rule, details, prev, mac}

* ``seq`` counts from 1 with no gap; ``prev`` is the ``mac`` of entry
  ``seq - 1`` (``GENESIS`` for the first), so the entries form one chain.
* ``mac`` is HMAC-SHA256 under the centre's **audit key** (the key provider's
  ``AUDIT`` secret, kept apart from data keys) over every other field but
  the storage ``_id``. Without that key nobody writes an entry that
  verifies: an edit, an insertion or a renumbering shows.
* ``subject_id`` is the pseudonymous subject id, ``actor`` a principal or
  service id, ``rule`` a citation; ``details`` carry ids and codes only
  (`check_details` refuses IINs, names, images, templates and bytes).

Appends are serialised by the store alone, across processes and on both
backends: the entry is inserted under ``_id = head.seq + 1`` (the unique
``_id`` admits one writer per position), then the **head** document
(``audit_meta/head``: last seq and mac, itself keyed) is advanced by a
single-document compare-and-set. A writer that finds its position taken
advances the head to the entry there and tries the next one; so a crash
between the two writes only leaves the head one behind, which the next
append repairs.

Every ``checkpoint_every`` entries the appender signs the head with the
centre's Ed25519 key (`audit_checkpoints`) and writes the checkpoint to the
store and to an append-only file outside it. `audit_verify.verify` walks
the chain (`papilla audit verify`); docs/audit.md is the auditor's guide.
"""
from __future__ import annotations

import logging
import random
import re
import time
from datetime import datetime, timezone
from typing import Any

from .audit_chain import (COLLECTION, GENESIS, HEAD_ID, META, AuditError, AuditPolicy, AuditTrail, entry_is_authentic,
                          entry_mac, head_tag, read_head, trail_of)
from .audit_checkpoints import write_checkpoint
from .audit_verify import Problem, Report, verify
from .store.base import DuplicateKeyError

__all__ = ["append", "record_refusal", "verify", "verify_chain", "check_details", "AuditTrail", "AuditPolicy", "AuditError",
           "AuditDataError", "Problem", "Report", "COLLECTION", "PERSONAL_KEYS"]

log = logging.getLogger(__name__)

#: detail keys that would carry personal data: refused by `append`, dropped by `papilla audit show`
PERSONAL_KEYS = frozenset({
    "iin", "iin_hash", "name", "names", "first_name", "last_name", "surname", "given_name", "patronymic",
    "full_name", "birth_date", "date_of_birth", "dob", "document_number", "passport", "phone", "email",
    "address", "image", "images", "template", "templates", "fingers", "minutiae", "photo", "biometrics",
})
IIN_LIKE = re.compile(r"\d{12}")


class AuditDataError(ValueError):
    """Details that would put personal or binary data into the trail: a programming error, caught by tests."""


def check_details(value: Any, path: str = "entry") -> None:
    """Refuse what the trail must never hold: personal keys, IIN-shaped values, bytes, other objects."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise AuditDataError(f"{path} keys must be strings")
            if key.lower() in PERSONAL_KEYS:
                raise AuditDataError(f"{path} may not carry {key!r}: the audit trail holds ids and codes only")
            check_details(inner, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for inner in value:
            check_details(inner, path)
    elif isinstance(value, str):
        if IIN_LIKE.fullmatch(value):
            raise AuditDataError(f"{path} holds a value shaped like an IIN: the audit trail holds ids and codes only")
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise AuditDataError(f"{path} holds a {type(value).__name__}: only text, numbers, lists and dicts")


def _head(trail: AuditTrail) -> dict:
    """The head; made on the first append, or rebuilt from the last entry if it was removed."""
    head = read_head(trail.store)
    if head is not None:
        return head
    last = trail.store.find(COLLECTION, {"_id": {"$gt": 0}}, sort=[("_id", -1)], limit=1)
    seq, mac = (last[0]["_id"], str(last[0].get("mac"))) if last else (0, GENESIS)
    if last:
        log.warning("the audit head was missing; rebuilt at entry %s (run `papilla audit verify`)", seq)
    try:
        trail.store.insert(META, {"_id": HEAD_ID, "seq": seq, "mac": mac, "tag": head_tag(trail, seq, mac)})
    except DuplicateKeyError:
        pass
    return read_head(trail.store)


def _advance(trail: AuditTrail, head: dict, seq: int, mac: str) -> bool:
    """Move the head from `head` to (seq, mac): one compare-and-set; False when another writer moved it first."""
    return trail.store.update(META, {"_id": HEAD_ID, "seq": head["seq"]},
                              set={"seq": seq, "mac": mac, "tag": head_tag(trail, seq, mac)}) == 1


def _catch_up(trail: AuditTrail, head: dict) -> None:
    """Our position was taken: advance the head to the entry that holds it (repairs a writer that died)."""
    taken = trail.store.get(COLLECTION, head["seq"] + 1)
    if taken is None:           # removed meanwhile: the next attempt writes there, and verify reports it
        return
    if not entry_is_authentic(trail, taken) or taken.get("prev") != head["mac"]:
        log.warning("audit entry %s does not verify; the chain goes on after it (run `papilla audit verify`)",
                    head["seq"] + 1)
    _advance(trail, head, head["seq"] + 1, str(taken.get("mac")))


def append(owner: Any, action: str, *, subject_id: str | None, actor: str, details: dict | None = None,
           rule: str | None = None) -> int:
    """Append one entry and return its sequence number.

    `owner`: the `Centre` (its store, audit key and signing key) or an
    `AuditTrail`. `rule`: the citation of the rule applied, when there is one.
    """
    trail = trail_of(owner)
    fields = {"action": action, "subject_id": subject_id, "actor": actor, "rule": rule, "details": details or {}}
    check_details(fields)
    deadline = time.monotonic() + trail.policy.append_wait_s
    while True:
        head = _head(trail)
        seq = head["seq"] + 1
        entry = {"_id": seq, "seq": seq, "at": datetime.now(timezone.utc).isoformat(), **fields, "prev": head["mac"]}
        entry["mac"] = entry_mac(trail, entry)
        try:
            trail.store.insert(COLLECTION, entry)
        except DuplicateKeyError:
            _catch_up(trail, head)
            if time.monotonic() > deadline:
                raise AuditError(f"audit append gave up after {trail.policy.append_wait_s:.0f} s of contention")
            time.sleep(random.uniform(0, 0.002))   # de-synchronise writers that keep colliding
            continue
        _advance(trail, head, seq, entry["mac"])   # False: another writer already advanced it past us
        if seq % trail.policy.checkpoint_every == 0 and trail.signer is not None:
            write_checkpoint(trail, seq, entry["mac"])
        return seq


def verify_chain(owner: Any) -> list[Problem]:
    """The problems `verify` finds in the trail (empty: intact up to its head and latest checkpoint)."""
    return verify(trail_of(owner)).problems


def record_refusal(owner: Any, action: str, *, actor: str, code: str, rule: str | None = None, **details) -> int:
    """A refused attempt in the trail (wrong role, a signature that does not verify, a refused act signature):
    who tried, what, and the refusal's code and rule. Values shaped like an IIN are left out, never written."""
    kept = {k: v for k, v in details.items() if not (isinstance(v, str) and IIN_LIKE.search(v))}
    return append(owner, action, subject_id=None, actor=actor if not IIN_LIKE.search(actor) else "unknown",
                  rule=rule, details={**kept, "code": code})
