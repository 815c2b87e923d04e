"""What every worker process shares: its Centre, and how a refusal is handled.

Actors are thin: decode the message, call domain code, send the next
message. A refusal is expected and final: it is recorded as a dead letter
(with its reason code and rule), counted, answered with a REFUSED result
when the sender's ids are known, and the message is acknowledged: the
worker keeps running and nothing already accepted is touched.
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading

import dramatiq
from dramatiq.middleware import CurrentMessage

from papilla.shared import deadletters, metrics, results
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.errors import Refusal
from papilla.shared.messages import Result

log = logging.getLogger(__name__)
_centre: Centre | None = None
_lock = threading.Lock()


def install_centre(centre: Centre) -> None:
    global _centre
    _centre = centre


def centre() -> Centre:
    global _centre
    with _lock:
        if _centre is None:
            _centre = Centre.open(Settings.from_env())
        return _centre


def decode_sealed(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise Refusal("the packet argument is not base64 text", code="malformed") from None


def refuse(refusal: Refusal, *, kind: str, sender_id: str | None = None) -> None:
    c = centre()
    message = CurrentMessage.get_current_message()
    if message is not None:
        deadletters.record(c.store, message, reason=refusal.code, detail=refusal.detail, rule=refusal.rule,
                           sender_id=sender_id)
    metrics.count_refusal(message, refusal.code)
    log.warning("refused a %s message: %s (%s)", kind, refusal.code, refusal.detail)
    if refusal.request_id:
        results.deliver(c.store, c.publisher, Result(request_id=refusal.request_id, kind=kind, status="REFUSED",
                                                     reason=refusal.code, rule=refusal.rule), refusal.reply_to)


def worker_middleware(store_factory) -> list[dramatiq.Middleware]:
    from papilla.shared.broker import CrashAfterProcessing, DeadLetterRecorder, WorkerMetrics

    extra = [CurrentMessage(), WorkerMetrics(), DeadLetterRecorder(store_factory)]
    crash = CrashAfterProcessing.from_env()
    return extra + ([crash] if crash else [])
