"""Signed checkpoints of the audit head: what lets an auditor see a truncated tail.

A checkpoint is ``{schema, seq, mac, at, signature}``: the sequence number
and MAC of an entry, signed with the centre's Ed25519 key (anyone with the
centre's public key file checks it; nobody without the centre's private key
makes one, the auditor included). Each checkpoint goes to two places:

* the store (``audit_meta``, ``_id = "checkpoint:<seq>"``), next to the trail;
* one line of an append-only file outside the store
  (`AuditPolicy.checkpoint_file`), which whoever can rewrite the store
  should not be able to rewrite; `export` writes the latest one to a file the
  auditor takes away.

A trail whose last entry is below a checkpoint's ``seq`` lost its tail; an
entry at a checkpoint's ``seq`` with another MAC was rewritten.
"""
from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from .audit_chain import META, AuditTrail, canonical
from .store.base import DuplicateKeyError

SCHEMA = "papilla.audit-checkpoint/1"
DOMAIN = b"papilla.audit.checkpoint/1\n"
_FIRST, _PAST = "checkpoint:", "checkpoint;"     # every "checkpoint:<seq>" id sorts between these

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    mac: str
    at: str
    source: str          # "store" or the file it was read from (with its line)
    valid: bool          # signed by the centre


def sign(trail: AuditTrail, seq: int, mac: str) -> dict:
    if trail.signer is None:
        raise ValueError("only the centre signs audit checkpoints (no signing key here)")
    doc = {"schema": SCHEMA, "seq": seq, "mac": mac, "at": datetime.now(timezone.utc).isoformat()}
    doc["signature"] = base64.b64encode(trail.signer.sign(canonical(doc, DOMAIN))).decode()
    return doc


def is_signed(trail: AuditTrail, doc: dict) -> bool:
    if trail.verify_key is None or doc.get("schema") != SCHEMA:
        return False
    try:
        body = {k: doc[k] for k in ("schema", "seq", "mac", "at")}
        trail.verify_key.verify(base64.b64decode(doc["signature"], validate=True), canonical(body, DOMAIN))
        return isinstance(body["seq"], int)
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False


def _append_line(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(doc, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)        # one write on an O_APPEND file: lines of concurrent writers never mix
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(trail: AuditTrail, seq: int, mac: str) -> dict:
    """Sign (seq, mac) and keep it in the store and the checkpoint file.

    Never raises for the file: an append that already acted (a destruction)
    must not fail because the checkpoint folder is unwritable; the failure is
    logged, and `verify` reports a trail without checkpoints outside the store.
    """
    doc = sign(trail, seq, mac)
    try:
        trail.store.insert(META, {"_id": f"{_FIRST}{seq:012d}", **doc})
    except DuplicateKeyError:
        pass                      # a checkpoint of this entry is already kept
    path = trail.policy.checkpoint_file
    if path is not None:
        try:
            _append_line(path, doc)
        except OSError as exc:
            log.error("audit checkpoint %s not written to the checkpoint file: %s", seq, exc.strerror)
    return doc


def export(doc: dict, path: Path) -> None:
    """Write one checkpoint as a JSON file (for the auditor to keep apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _parsed(trail: AuditTrail, doc: dict, source: str) -> Checkpoint:
    valid = is_signed(trail, doc)
    seq = doc.get("seq") if isinstance(doc.get("seq"), int) else -1
    return Checkpoint(seq=seq, mac=str(doc.get("mac")), at=str(doc.get("at")), source=source, valid=valid)


def from_store(trail: AuditTrail) -> list[Checkpoint]:
    docs = trail.store.find(META, {"_id": {"$gte": _FIRST, "$lt": _PAST}}, sort=[("_id", 1)])
    return [_parsed(trail, {k: v for k, v in d.items() if k != "_id"}, "the store") for d in docs]


def from_file(trail: AuditTrail, path: Path) -> list[Checkpoint]:
    """Checkpoints in a checkpoint file (one JSON per line) or an exported checkpoint (one JSON document)."""
    text = path.read_text()
    try:
        whole = json.loads(text)
        if isinstance(whole, dict):
            return [_parsed(trail, whole, str(path))]
    except ValueError:
        pass
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            doc = {}
        found.append(_parsed(trail, doc if isinstance(doc, dict) else {}, f"{path} line {number}"))
    return found
