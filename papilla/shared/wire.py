"""How dramatiq messages are read off the wire: size-limited, schema-checked, never logged.

`GuardedJSONEncoder` replaces dramatiq's JSON encoder. A body over
`MAX_MESSAGE_BYTES`, not UTF-8 JSON, not a dramatiq envelope (missing or
mistyped fields), for an actor this process does not have, or with arguments
that do not fit the actor's signature does not reach the consumer's "failed to decode" path
(which logs the raw body and parks it in `.XQ` with no record): it decodes to
a message for the `UNDECODABLE` actor carrying only its size, a digest and the
reason, which refuses it through the same middleware as every other refusal.

`redact_messages` is a logging filter: dramatiq's own log lines format a
message as `actor(arg, ...)` with its full arguments (sealed packets, or a
hostile 20 MB string); the filter turns every message argument into
`actor[message id]`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import inspect
import threading
import time
import typing
import uuid

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.encoder import JSONEncoder

from .routing import UNDECODABLE

#: Largest dramatiq message accepted: a sealed packet of `sealing.MAX_PAYLOAD` (ten 2 MB images, base64 in
#: JSON), base64 again in the envelope (37.3 MiB), with room to spare. RabbitMQ's `max_message_size`
#: (infra/rabbitmq/rabbitmq.conf) is set just above it; tests/hostile/test_size_limits.py checks the chain.
MAX_MESSAGE_BYTES = 40 * 1024 * 1024

_FIELDS = {"queue_name": str, "actor_name": str, "args": list, "kwargs": dict, "options": dict,
           "message_id": str, "message_timestamp": int}


class GuardedJSONEncoder(JSONEncoder):
    def decode(self, data: bytes) -> dict:
        if len(data) > MAX_MESSAGE_BYTES:
            return undecodable(data, "message_too_large")
        try:
            fields = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return undecodable(data, "malformed_message")
        problem = envelope_problem(fields)
        return undecodable(data, problem) if problem else fields


def envelope_problem(fields) -> str | None:
    """Why `fields` is not a message this process can run (a reason code), or None."""
    if not isinstance(fields, dict) or set(fields) != set(_FIELDS) or not all(
            isinstance(fields[k], t) and not isinstance(fields[k], bool) for k, t in _FIELDS.items()):
        return "malformed_message"
    broker = dramatiq.get_broker()
    if fields["actor_name"] not in broker.get_declared_actors():
        return "unknown_actor"
    signature, text_params = _shape(broker.get_actor(fields["actor_name"]).fn)
    try:
        bound = signature.bind(*fields["args"], **fields["kwargs"])
    except TypeError:
        return "malformed_message"
    if any(name in text_params and not isinstance(value, str) for name, value in bound.arguments.items()):
        return "malformed_message"
    return None


@functools.lru_cache(maxsize=None)
def _shape(fn) -> tuple[inspect.Signature, frozenset[str]]:
    """An actor's signature and its `str` parameters, read once per actor (not per message)."""
    hints = typing.get_type_hints(fn)
    return inspect.signature(fn), frozenset(name for name, hint in hints.items() if hint is str)


def undecodable(data: bytes, reason: str) -> dict:
    """The envelope of a message for the UNDECODABLE actor: size, digest, reason; nothing of the body.

    Its queue is the one it was read from (the consumer thread's), so it is acknowledged there."""
    digest = hashlib.sha256(data).hexdigest()
    queue = getattr(threading.current_thread(), "queue_name", None) or UNDECODABLE.queue
    return {"queue_name": queue, "actor_name": UNDECODABLE.actor,
            "args": [reason, len(data), digest[:32]], "kwargs": {}, "options": {},
            "message_id": str(uuid.UUID(digest[:32])),   # same body, same id: a redelivery records nothing new
            "message_timestamp": int(time.time() * 1000)}


def install() -> None:
    dramatiq.set_encoder(GuardedJSONEncoder())


def _label(message) -> str:
    return f"{message.actor_name}[{message.message_id}]"


class RedactMessages(logging.Filter):
    """Replace dramatiq messages in log arguments by `actor[message id]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, (MessageProxy, dramatiq.Message)) for a in record.args):
            record.args = tuple(_label(a) if isinstance(a, (MessageProxy, dramatiq.Message)) else a
                                for a in record.args)
        elif isinstance(record.args, (MessageProxy, dramatiq.Message)):
            record.args = (_label(record.args),)
        return True


def redact_messages(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, RedactMessages) for f in handler.filters):
            handler.addFilter(RedactMessages())
