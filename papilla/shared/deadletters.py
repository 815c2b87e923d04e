"""Dead-letter records: every message that leaves the pipeline unanswered, kept and inspectable.

A record holds reason code, rule, ids and the sender named by the packet's
header; never personal data in clear. The original dramatiq message (ids, or
a sealed packet readable with the centre key) is kept only encrypted under a
data key of its own (`dead_letter_key(id)`), so it can be shredded apart from
everything else (at the end of its retention, or with the subject), and only
up to `MAX_KEPT_BODY` bytes: a larger body is dropped and the record says so.
`papilla dlq list|show|requeue` reads them; requeue sends the original
message back to its queue.

Both expire (shared/store/expiry.py; PAPILLA_DEAD_LETTER_*_RETENTION_DAYS): the
body's key after 30 days by default (its TTL in the key vault shreds the body
even if `papilla dlq shred-expired` never ran), the record after 365.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import dramatiq

from papilla.shared import names

from .config import operational_retention
from .crypto.envelope import EnvelopeCipher
from .crypto.errors import DataKeyDestroyed
from .store.base import DuplicateKeyError, Store
from .store.expiry import expires_after

COLLECTION = names.DEAD_LETTERS
#: Bodies above this are not kept (the record keeps reason, ids and size): a hostile 20 MB argument must not
#: become a 20 MB document, nor fail the record itself on the store's size limit.
MAX_KEPT_BODY = 2 * 1024 * 1024
#: Length limit of the free-text detail (our own vetted wording, never message content).
MAX_DETAIL = 500


def dead_letter_key(dead_letter_id: str) -> str:
    """Key subject of a dead letter's body: shredding it makes the kept body unreadable."""
    return f"dl-{dead_letter_id}"


@dataclass(frozen=True)
class DeadLetter:
    id: str
    queue: str
    actor: str
    reason: str          # stable code, e.g. "bad_signature", "unknown_sender", "malformed_message", "exhausted_retries"
    detail: str          # specific, human-readable, free of personal data
    rule: str | None
    sender_id: str | None
    request_id: str | None
    created_at: str
    state: str           # "dead" (a failure to look at) | "refused" (answered to its sender) | "requeued"
    body_size: int
    body_kept: bool


def record(store: Store, cipher: EnvelopeCipher, message: dramatiq.Message, *, reason: str, detail: str,
           rule: str | None = None, sender_id: str | None = None, request_id: str | None = None,
           refused: bool = False) -> None:
    """Keep `message` with its reason; idempotent per message id (a redelivery records nothing new). A refusal
    (`refused`: the input was wrong and the sender was told) is kept as "refused", a failure as "dead": only
    failures wait for an operator (`papilla_dead_letters_unresolved`)."""
    body_size, body = _encode_message(message, MAX_KEPT_BODY)
    retention = operational_retention()
    doc = {
        "_id": message.message_id, "queue": message.queue_name, "actor": message.actor_name,
        "reason": reason, "detail": detail[:MAX_DETAIL], "rule": rule, "sender_id": sender_id,
        "request_id": request_id, "created_at": datetime.now(timezone.utc).isoformat(),
        "state": "refused" if refused else "dead",
        "body_size": body_size, "body": None, "expire_at": expires_after(retention.dead_letter_days),
    }
    if body is not None:
        doc["body"] = cipher.encrypt(dead_letter_key(message.message_id), COLLECTION, message.message_id, "body", body,
                                     key_expire_at=expires_after(retention.dead_letter_body_days))
    try:
        store.insert(COLLECTION, doc)
    except DuplicateKeyError:
        pass


def forget_bodies(store: Store, cipher: EnvelopeCipher, *, request_ids: list[str] | None = None,
                  created_before: str | None = None) -> int:
    """Shred the kept bodies of dead letters for `request_ids` (a subject's destruction) or created before an
    ISO time (the end of their retention); the records (reason, ids) stay. Returns how many were shredded."""
    where: dict = {}
    if request_ids is not None:
        where["request_id"] = {"$in": list(request_ids)}
    if created_before is not None:
        where["created_at"] = {"$lt": created_before}
    shredded = 0
    for doc in store.find(COLLECTION, where):
        if not doc.get("body"):
            continue
        cipher.shred(dead_letter_key(doc["_id"]))
        store.update(COLLECTION, {"_id": doc["_id"]}, set={"body": None, "body_shredded": True})
        shredded += 1
    return shredded


def sweep_parked(store: Store, cipher: EnvelopeCipher, channel, queues: list[str]) -> tuple[int, int]:
    """Empty the `.XQ` queues of `queues`: a parked message already recorded (a copy left when the broker
    failed mid-way) is dropped; one never recorded (the store was down) is recorded now (`parked`), then
    dropped. So RabbitMQ keeps no packet for days and every unanswered message has its record.
    Returns (dropped copies, newly recorded)."""
    dropped = recorded = 0
    for queue in queues:
        while True:
            method, _, body = channel.basic_get(f"{queue}.XQ", auto_ack=False)
            if method is None:
                break
            try:
                message = dramatiq.Message.decode(body)
            except Exception:   # not even our guarded decoder could read it: keep only its size
                message = dramatiq.Message(queue_name=queue, actor_name="undecodable_message",
                                           args=(), kwargs={}, options={})
            if store.get(COLLECTION, message.message_id) is None:
                record(store, cipher, message, reason="parked",
                       detail="found on the dead-letter queue with no record (the store was down when it failed)")
                recorded += 1
            else:
                dropped += 1
            channel.basic_ack(method.delivery_tag)
    return dropped, recorded


def list_dead(store: Store, *, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
    where = {"queue": queue} if queue else {}
    docs = store.find(COLLECTION, where, sort=[("created_at", -1)], limit=limit)
    return [_from_doc(d) for d in docs]


def get(store: Store, dead_letter_id: str) -> DeadLetter | None:
    doc = store.get(COLLECTION, dead_letter_id)
    return _from_doc(doc) if doc else None


class NotRequeueable(Exception):
    """The dead letter has no readable body (too large to keep, or shredded)."""


def requeue(store: Store, cipher: EnvelopeCipher, broker: dramatiq.Broker, dead_letter_id: str) -> dramatiq.Message:
    """Send the original message back to its queue (a new message id; the record is marked requeued)."""
    doc = store.get(COLLECTION, dead_letter_id)
    if doc is None:
        raise KeyError(f"no dead letter {dead_letter_id!r}")
    if not doc.get("body"):
        raise NotRequeueable(f"dead letter {dead_letter_id} kept no body ({doc.get('body_size', 0)} bytes, "
                             f"over the {MAX_KEPT_BODY}-byte limit or undecodable): nothing to requeue")
    try:
        body = cipher.decrypt(dead_letter_key(dead_letter_id), COLLECTION, dead_letter_id, "body", doc["body"])
    except DataKeyDestroyed:
        raise NotRequeueable(f"dead letter {dead_letter_id}: its body's key expired at the end of its retention "
                             f"or was shredded with the subject; nothing to requeue") from None
    original = dramatiq.Message(**json.loads(body))
    fresh = dramatiq.Message(queue_name=original.queue_name, actor_name=original.actor_name,
                             args=original.args, kwargs=original.kwargs,
                             options={k: v for k, v in original.options.items() if k not in ("retries", "traceback")})
    broker.declare_queue(fresh.queue_name)
    broker.enqueue(fresh)
    store.update(COLLECTION, {"_id": dead_letter_id}, set={"state": "requeued", "requeued_as": fresh.message_id})
    return fresh


def _encode_message(message: dramatiq.Message, limit: int) -> tuple[int, bytes | None]:
    """The dramatiq envelope without the traceback (a traceback may quote local variables' reprs): its size and,
    within `limit`, its bytes. Text arguments already over `limit` are not encoded at all (a hostile 20 MB
    argument would cost two more 20 MB copies): the size is then the envelope's without them plus their
    length (to a few bytes for base64 or plain ASCII text)."""
    data = message.asdict()
    data["options"] = {k: v for k, v in data.get("options", {}).items() if k != "traceback"}
    texts = [a for a in [*data["args"], *data["kwargs"].values()] if isinstance(a, str)]
    if sum(map(len, texts)) > limit:
        rest = {**data, "args": [a for a in data["args"] if not isinstance(a, str)],
                "kwargs": {k: v for k, v in data["kwargs"].items() if not isinstance(v, str)}}
        return len(json.dumps(rest, separators=(",", ":"))) + sum(len(t) + 2 for t in texts), None
    body = json.dumps(data, separators=(",", ":")).encode()
    return len(body), body if len(body) <= limit else None


def _from_doc(doc: dict) -> DeadLetter:
    return DeadLetter(id=doc["_id"], queue=doc["queue"], actor=doc["actor"], reason=doc["reason"],
                      detail=doc["detail"], rule=doc.get("rule"), sender_id=doc.get("sender_id"),
                      request_id=doc.get("request_id"), created_at=doc["created_at"],
                      state=doc.get("state", "dead"), body_size=int(doc.get("body_size", 0)),
                      body_kept=bool(doc.get("body")))
