"""What every worker process shares: its Centre, its middleware, and who waits for a message's answer.

Actors are thin: decode the message, call domain code, send the next
message. A refusal is an exception the actor declares (`throws=REFUSALS`);
`shared.outcomes.UnansweredMessages` records it as a dead letter, counts it
and answers the sender, in one place, with `reply_target` below telling it
who waits.
"""
from __future__ import annotations

import binascii
import logging
import threading

import dramatiq
from dramatiq.middleware import CurrentMessage

from papilla.shared import names
from papilla.shared.broker import CrashAfterProcessing, WorkerMetrics
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.crypto.sealing import SealError, peek_header
from papilla.shared.errors import Refusal
from papilla.shared.internal import InternalMessages, internal_key
from papilla.shared.outcomes import ReplyTarget, UnansweredMessages
from papilla.shared.routing import (COMMAND, DEDUPLICATE, ENROLL, LIFECYCLE, MATCH_PROBE, REQUEST, SETTLE, STATION_STATUS,
                                    UNDECODABLE)

log = logging.getLogger(__name__)
_centre: Centre | None = None
_lock = threading.Lock()

#: What actors declare they throw: expected, final, never retried.
REFUSALS = (Refusal,)


def install_centre(centre: Centre) -> None:
    global _centre
    _centre = centre


def centre() -> Centre:
    global _centre
    with _lock:
        if _centre is None:
            _centre = Centre.open(Settings.from_env())
        return _centre


def decode_sealed(text) -> bytes:
    """The sealed bytes of a packet argument. Decoded straight from the `str` (no ASCII copy first: a hostile
    argument may be 20 MB); strict, so anything but base64 text is refused."""
    if not isinstance(text, str):
        raise Refusal("the packet argument is not text", code="malformed_message")
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise Refusal("the packet argument is not base64 text", code="malformed_message") from None


def _from_sealed(message, kind: str) -> ReplyTarget | None:
    """The sender and packet id named by a sealed packet's header (unauthenticated: enough to answer a refusal
    with a reason code on the sender's own reply queue, nothing more)."""
    try:
        header = peek_header(decode_sealed(message.args[0]))
    except (Refusal, SealError, IndexError):
        return None
    return ReplyTarget(header.packet_id, header.sender_id, kind, header.sender_id)


def _from_store(collection: str, kind: str | None):
    def target(message) -> ReplyTarget | None:
        doc = centre().store.get(collection, message.args[0]) if message.args and isinstance(message.args[0], str) else None
        if doc is None:
            return None
        return ReplyTarget(doc["_id"], doc.get("reply_to"), kind or doc.get("kind", "lifecycle"), doc.get("sender_id"))
    return target


_TARGETS = {
    ENROLL.actor: lambda m: _from_sealed(m, "enrollment"),
    STATION_STATUS.actor: lambda m: _from_sealed(m, "status"),
    REQUEST.actor: lambda m: _from_sealed(m, "request"),
    COMMAND.actor: lambda m: _from_sealed(m, "lifecycle"),
    DEDUPLICATE.actor: _from_store(names.ENROLLMENTS, "enrollment"),
    SETTLE.actor: _from_store(names.ENROLLMENTS, "enrollment"),
    MATCH_PROBE.actor: _from_store("jobs", None),
    LIFECYCLE.actor: _from_store("jobs", None),
}


def reply_target(message, exception: BaseException | None) -> ReplyTarget | None:
    """Who waits for `message`'s answer: the ids a refusal carries, else what the message itself names."""
    found = _TARGETS.get(message.actor_name, lambda m: None)(message)
    if isinstance(exception, Refusal) and exception.request_id:
        return ReplyTarget(exception.request_id, exception.reply_to, exception.kind or (found.kind if found else
                           "request"), found.sender_id if found else None)
    return found


def worker_middleware() -> tuple[list[dramatiq.Middleware], list[dramatiq.Middleware]]:
    """(middleware that must see final outcomes, listed before Retries; the rest)."""
    crash = CrashAfterProcessing.from_env()
    return ([UnansweredMessages(centre, reply_target), WorkerMetrics()],
            [CurrentMessage(), InternalMessages(lambda: internal_key(centre().keys.box))] + ([crash] if crash else []))


def declare_undecodable(broker: dramatiq.Broker) -> None:
    """Every worker refuses bodies that were not dramatiq messages (see `shared.wire`)."""
    def undecodable_message(reason: str, size: int, digest: str) -> None:
        raise Refusal(f"a {size}-byte body that is not a papilla message was refused (sha256 {digest}…)",
                      code=reason)
    dramatiq.actor(undecodable_message, broker=broker, actor_name=UNDECODABLE.actor,
                   queue_name=UNDECODABLE.queue, throws=REFUSALS, max_retries=0)
