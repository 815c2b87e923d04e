"""Dead-letter records: every refused or failed message, kept and inspectable.

A record holds the original dramatiq message (its arguments are ids or sealed,
encrypted packets: never personal data in clear), where it came from, and a
reason code with the rule that refused it. `papilla dlq list|show|requeue`
reads them; requeue sends the original message back to its queue.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import dramatiq

from .store.base import DuplicateKeyError, Store

COLLECTION = "dead_letters"


@dataclass(frozen=True)
class DeadLetter:
    id: str
    queue: str
    actor: str
    reason: str          # stable code, e.g. "bad_signature", "unknown_sender", "malformed_message", "exhausted_retries"
    detail: str          # specific, human-readable, free of personal data
    rule: str | None
    sender_id: str | None
    created_at: str
    state: str           # "dead" | "requeued"
    message: bytes


def record(store: Store, message: dramatiq.Message, *, reason: str, detail: str,
           rule: str | None = None, sender_id: str | None = None) -> None:
    """Keep `message` with its reason; idempotent per message id (a redelivery records nothing new)."""
    doc = {
        "_id": message.message_id,
        "queue": message.queue_name,
        "actor": message.actor_name,
        "reason": reason,
        "detail": detail,
        "rule": rule,
        "sender_id": sender_id,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "state": "dead",
        "message": _encode_message(message),
    }
    try:
        store.insert(COLLECTION, doc)
    except DuplicateKeyError:
        pass


def list_dead(store: Store, *, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
    where = {"queue": queue} if queue else {}
    docs = store.find(COLLECTION, where, sort=[("created_at", -1)], limit=limit)
    return [_from_doc(d) for d in docs]


def get(store: Store, dead_letter_id: str) -> DeadLetter | None:
    doc = store.get(COLLECTION, dead_letter_id)
    return _from_doc(doc) if doc else None


def requeue(store: Store, broker: dramatiq.Broker, dead_letter_id: str) -> dramatiq.Message:
    """Send the original message back to its queue (a new message id; the record is marked requeued)."""
    letter = get(store, dead_letter_id)
    if letter is None:
        raise KeyError(f"no dead letter {dead_letter_id!r}")
    original = dramatiq.Message.decode(letter.message)
    fresh = dramatiq.Message(queue_name=original.queue_name, actor_name=original.actor_name,
                             args=original.args, kwargs=original.kwargs,
                             options={k: v for k, v in original.options.items() if k not in ("retries", "traceback")})
    broker.declare_queue(fresh.queue_name)
    broker.enqueue(fresh)
    store.update(COLLECTION, {"_id": dead_letter_id}, set={"state": "requeued", "requeued_as": fresh.message_id})
    return fresh


def _encode_message(message: dramatiq.Message) -> bytes:
    # The dramatiq envelope without the traceback (a traceback may quote local variables' reprs).
    data = message.asdict()
    data["options"] = {k: v for k, v in data.get("options", {}).items() if k != "traceback"}
    return json.dumps(data, separators=(",", ":")).encode()


def _from_doc(doc: dict) -> DeadLetter:
    return DeadLetter(id=doc["_id"], queue=doc["queue"], actor=doc["actor"], reason=doc["reason"],
                      detail=doc["detail"], rule=doc.get("rule"), sender_id=doc.get("sender_id"),
                      created_at=doc["created_at"], state=doc.get("state", "dead"), message=doc["message"])
