"""Messages between the centre's own workers carry a MAC only the centre's workers can make.

RabbitMQ checks a publisher's write permission on the exchange, not the
queue, and dramatiq publishes through the default exchange: any party that
may publish at all (a station, to its intake queue) can put a message on an
internal queue (`papilla.match`, `papilla.lifecycle`) and, say, settle an
enrollment without deduplication. So every message for an internal actor is
authenticated here, in one place: the sending worker adds an HMAC-SHA256 over
queue, actor, arguments and message id, keyed by a key derived from the
centre's private key (held by the centre's workers alone); the receiving
worker refuses a message without a valid one (`forged_internal_message`).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Callable

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import MiddlewareError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from .errors import Refusal
from .routing import DEDUPLICATE, LIFECYCLE, MATCH_PROBE, SETTLE

INTERNAL_ACTORS = frozenset({DEDUPLICATE.actor, MATCH_PROBE.actor, SETTLE.actor, LIFECYCLE.actor})
OPTION = "centre_mac"


class ForgedInternalMessage(Refusal, MiddlewareError):
    """Raised before an internal actor runs (a MiddlewareError, so dramatiq does not swallow it)."""


def internal_key(centre_box_key) -> bytes:
    """The MAC key, derived from the centre's X25519 private key (never stored, never sent)."""
    raw = centre_box_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"papilla/internal-mac/v1").derive(raw)


class InternalMessages(dramatiq.Middleware):
    def __init__(self, key: Callable[[], bytes]):
        self._key_source = key
        self._key: bytes | None = None   # derived once, on the first message (the centre opens lazily)

    def _mac(self, message) -> str:
        if self._key is None:
            self._key = self._key_source()
        body = json.dumps([q_name(message.queue_name), message.actor_name, list(message.args), message.kwargs,
                           message.message_id], sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def before_enqueue(self, broker, message, delay):
        if message.actor_name in INTERNAL_ACTORS:
            message.options[OPTION] = self._mac(message)

    def before_process_message(self, broker, message):
        if message.actor_name in INTERNAL_ACTORS and not hmac.compare_digest(
                str(message.options.get(OPTION, "")), self._mac(message)):
            raise ForgedInternalMessage(f"a message for {message.actor_name} that no centre worker sent",
                                        code="forged_internal_message")
