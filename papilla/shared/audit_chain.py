"""The audit chain's building blocks: the trail's keys and policy, the keyed entry and head forms.

`papilla.shared.audit` appends with these, `audit_checkpoints` signs heads and
`audit_verify` checks the chain; docs/audit.md describes the whole.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from papilla.shared import names

from .config import ConfigError
from .crypto.keys import AUDIT, KeyProvider
from .store.base import Store

COLLECTION = names.AUDIT        # the entries: _id = seq (int)
META = names.AUDIT_META         # the head ("head") and the signed checkpoints ("checkpoint:<seq>")
HEAD_ID = "head"
GENESIS = "0" * 64            # `prev` of entry 1
ENTRY_DOMAIN = b"papilla.audit.entry/1\n"
HEAD_DOMAIN = b"papilla.audit.head/1\n"
CHECKPOINT_FILE = "checkpoints.jsonl"


class AuditError(RuntimeError):
    """The trail could not be written or read (contention past the deadline, no audit key)."""


@dataclass(frozen=True)
class AuditPolicy:
    """How often the head is signed and where checkpoints go outside the store.

    checkpoint_every: sign the head every N entries (PAPILLA_AUDIT_CHECKPOINT_EVERY, default 100);
                      `papilla audit checkpoint` signs one at any time (cron, before a backup).
    checkpoint_dir:   folder of the append-only checkpoint file (PAPILLA_AUDIT_CHECKPOINT_DIR,
                      default <PAPILLA_HOME>/audit-checkpoints); point it at storage the store's
                      administrators cannot rewrite (a WORM mount, the auditor's share).
    append_wait_s:    how long one append may wait out contention before AuditError.
    """

    checkpoint_every: int = 100
    checkpoint_dir: Path | None = None
    append_wait_s: float = 30.0

    @classmethod
    def from_env(cls, home: Path) -> "AuditPolicy":
        every = os.environ.get("PAPILLA_AUDIT_CHECKPOINT_EVERY") or "100"
        if not every.isdigit() or int(every) < 1:
            raise ConfigError(f"PAPILLA_AUDIT_CHECKPOINT_EVERY must be a positive integer, got {every!r}")
        folder = os.environ.get("PAPILLA_AUDIT_CHECKPOINT_DIR") or str(Path(home) / "audit-checkpoints")
        return cls(checkpoint_every=int(every), checkpoint_dir=Path(folder).resolve())

    @property
    def checkpoint_file(self) -> Path | None:
        return self.checkpoint_dir / CHECKPOINT_FILE if self.checkpoint_dir else None


@dataclass(frozen=True)
class AuditTrail:
    """What writing and checking the trail needs: the store, the audit MAC, the centre's signing/verify keys."""

    store: Store
    mac: Callable[[bytes], bytes]                 # HMAC-SHA256 under the audit key
    signer: Ed25519PrivateKey | None = None       # the centre's Ed25519 key: signs checkpoints (None: cannot)
    verify_key: Ed25519PublicKey | None = None    # the centre's public key: checks checkpoints
    policy: AuditPolicy = field(default_factory=AuditPolicy)

    @classmethod
    def of(cls, store: Store, provider: KeyProvider, *, signer: Ed25519PrivateKey | None = None,
           verify_key: Ed25519PublicKey | None = None, policy: AuditPolicy | None = None) -> "AuditTrail":
        if verify_key is None and signer is not None:
            verify_key = signer.public_key()
        return cls(store=store, mac=lambda data: provider.mac(AUDIT, data), signer=signer, verify_key=verify_key,
                   policy=policy or AuditPolicy())

    @classmethod
    def of_centre(cls, centre: Any) -> "AuditTrail":
        if centre.provider is None:
            raise AuditError("the centre has no key provider, so it has no audit key")
        return cls.of(centre.store, centre.provider, signer=centre.keys.signing,
                      policy=AuditPolicy.from_env(centre.settings.home))


def trail_of(owner: Any) -> AuditTrail:
    """An `AuditTrail` from itself or from a `Centre`; a bare store has no audit key, so it is refused."""
    if isinstance(owner, AuditTrail):
        return owner
    if isinstance(owner, Store):
        raise TypeError("the audit trail needs the centre (its audit key and signing key), not a bare store")
    return AuditTrail.of_centre(owner)


def canonical(doc: dict, domain: bytes, drop: tuple[str, ...] = ()) -> bytes:
    """Domain-separated, key-sorted JSON of `doc` without the fields in `drop`: what is MACed or signed."""
    body = {k: v for k, v in doc.items() if k not in drop}
    return domain + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_mac(trail: AuditTrail, entry: dict) -> str:
    """The entry's MAC over every field but the storage `_id` and the MAC itself (so `seq` and `prev` count)."""
    return trail.mac(canonical(entry, ENTRY_DOMAIN, ("_id", "mac"))).hex()


def entry_is_authentic(trail: AuditTrail, entry: dict) -> bool:
    try:
        return isinstance(entry.get("mac"), str) and entry_mac(trail, entry) == entry["mac"]
    except (TypeError, ValueError):   # a forged document the canonical form cannot even encode
        return False


def head_tag(trail: AuditTrail, seq: int, mac: str) -> str:
    return trail.mac(HEAD_DOMAIN + f"{seq}:{mac}".encode()).hex()


def head_is_authentic(trail: AuditTrail, head: dict) -> bool:
    try:
        return head.get("tag") == head_tag(trail, int(head["seq"]), str(head["mac"]))
    except (KeyError, TypeError, ValueError):
        return False


def read_head(store: Store) -> dict | None:
    return store.get(META, HEAD_ID)


def entries(store: Store, *, after: int = 0, page: int = 1000) -> Iterator[dict]:
    """Every entry with an integer `_id` above `after`, in store order, paged (a long trail never sits in memory)."""
    last = after
    while True:
        batch = store.find(COLLECTION, {"_id": {"$gt": last}}, sort=[("_id", 1)], limit=page)
        if not batch:
            return
        yield from batch
        last = batch[-1]["_id"]
