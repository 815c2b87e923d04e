"""Registry of packet senders (stations and services) and their Ed25519 public keys.

Collection ``senders`` (``_id`` = sender id; indexed ``status``, ``kind``)::

    {"_id": "station-ala-01", "kind": "station", "status": "active",
     "public_key": <32 raw bytes>, "label": "...", "registered_at": "<ISO UTC>",
     "revoked_at": None, "revoke_reason": None}

One sender id is bound to one key for good: registering the same id with the
same key again is a no-op, with a different key it is refused, and a revoked
id is never re-activated (re-key a station by registering a new id).  So the
signer of any archived packet stays unambiguous.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from papilla.shared import names

from ._store import DuplicateKeyError
from .errors import RegistryError, SenderConflict, SenderNotFound

SENDERS = names.SENDERS
KINDS = ("station", "service", "principal")
ACTIVE = "active"
REVOKED = "revoked"
MAX_LABEL = 200
MAX_REASON = 500

# Also the rule for sender ids inside sealed packets (ASCII, log-safe, <=128).
SENDER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}\Z")

__all__ = ["SenderRegistry", "SenderRecord", "SenderLookup", "SENDERS", "KINDS", "ACTIVE", "REVOKED",
           "RegistryError", "SenderConflict", "SenderNotFound", "valid_sender_id"]


def valid_sender_id(sender_id: Any) -> bool:
    return isinstance(sender_id, str) and SENDER_ID_RE.match(sender_id) is not None


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class SenderRecord:
    sender_id: str
    kind: str
    public_key: Ed25519PublicKey
    status: str
    label: str = ""
    registered_at: str | None = None
    revoked_at: str | None = None
    revoke_reason: str | None = None
    box_key: X25519PublicKey | None = None   # stations and services: results are sealed to it
    role: str | None = None                  # principals: operator, supervisor, adjudicator, …

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def public_key_bytes(self) -> bytes:
        return _raw(self.public_key)

    @classmethod
    def from_doc(cls, doc: dict) -> "SenderRecord":
        return cls(sender_id=doc["_id"], kind=doc["kind"],
                   public_key=Ed25519PublicKey.from_public_bytes(bytes(doc["public_key"])),
                   status=doc["status"], label=doc.get("label") or "",
                   registered_at=doc.get("registered_at"), revoked_at=doc.get("revoked_at"),
                   revoke_reason=doc.get("revoke_reason"),
                   box_key=X25519PublicKey.from_public_bytes(bytes(doc["box_key"])) if doc.get("box_key") else None,
                   role=doc.get("role"))


class SenderLookup(Protocol):
    """What `open_sealed` needs: `SenderRegistry` or any test double."""

    def get(self, sender_id: str) -> SenderRecord | None: ...


class SenderRegistry:
    """Senders in the store.  No caching: a revocation applies to the next packet."""

    def __init__(self, store: Any, *, collection: str = SENDERS) -> None:
        self._store = store
        self._collection = collection

    def register(self, sender_id: str, kind: str, public_key: Ed25519PublicKey, label: str = "", *,
                 box_key: X25519PublicKey | None = None, role: str | None = None) -> SenderRecord:
        """Register (idempotently) ``sender_id`` with ``public_key``.

        Raises `SenderConflict` (``code``: ``key_conflict``, ``kind_conflict``
        or ``revoked``) when the id exists with another key or kind, or was revoked.
        """
        if not valid_sender_id(sender_id):
            raise ValueError("sender id must be 1-128 characters of [A-Za-z0-9._:@-], starting alphanumeric")
        if kind not in KINDS:
            raise ValueError("sender kind must be 'station', 'service' or 'principal'")
        if not isinstance(public_key, Ed25519PublicKey):
            raise TypeError("public_key must be an Ed25519PublicKey")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise ValueError(f"label must be a str of at most {MAX_LABEL} characters")
        raw = _raw(public_key)
        doc = {"_id": sender_id, "kind": kind, "status": ACTIVE, "public_key": raw, "label": label,
               "registered_at": _now(), "revoked_at": None, "revoke_reason": None, "role": role,
               "box_key": box_key.public_bytes(Encoding.Raw, PublicFormat.Raw) if box_key else None}
        try:
            self._store.insert(self._collection, doc)
            return SenderRecord.from_doc(doc)
        except DuplicateKeyError:
            pass
        existing = self._store.get(self._collection, sender_id)
        if existing is None:  # pragma: no cover - deleted in between; registries are never deleted
            raise SenderConflict(f"sender {sender_id!r} changed during registration; retry")
        record = SenderRecord.from_doc(existing)
        if record.status != ACTIVE:
            raise SenderConflict(f"sender {sender_id!r} was revoked and cannot be registered again; "
                                 "register the new key under a new sender id", code="revoked")
        if record.public_key_bytes != raw:
            raise SenderConflict(f"sender {sender_id!r} is already registered with a different public key",
                                 code="key_conflict")
        if record.kind != kind or record.role != role:
            raise SenderConflict(f"sender {sender_id!r} is already registered as a {record.kind}",
                                 code="kind_conflict")
        return record

    def revoke(self, sender_id: str, reason: str) -> SenderRecord:
        """Revoke an active sender (idempotent on a revoked one).  `SenderNotFound` if unknown."""
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise ValueError(f"revocation reason must be a non-empty str of at most {MAX_REASON} characters")
        if not valid_sender_id(sender_id):
            raise SenderNotFound("no sender with a malformed id")
        self._store.update(self._collection, {"_id": sender_id, "status": ACTIVE},
                           set={"status": REVOKED, "revoked_at": _now(), "revoke_reason": reason})
        doc = self._store.get(self._collection, sender_id)
        if doc is None:
            raise SenderNotFound(f"sender {sender_id!r} is not registered")
        return SenderRecord.from_doc(doc)

    def get(self, sender_id: str) -> SenderRecord | None:
        if not valid_sender_id(sender_id):
            return None
        doc = self._store.get(self._collection, sender_id)
        return None if doc is None else SenderRecord.from_doc(doc)

    def list(self, *, kind: str | None = None, status: str | None = None) -> list[SenderRecord]:
        """All senders, optionally only one kind and/or status, ordered by id."""
        filter: dict = {}
        if kind is not None:
            filter["kind"] = kind
        if status is not None:
            filter["status"] = status
        docs = self._store.find(self._collection, filter)
        return sorted((SenderRecord.from_doc(d) for d in docs), key=lambda r: r.sender_id)
