"""Extract worker actors (thin: decode, call `intake`, send on)."""
from __future__ import annotations

import dramatiq

from papilla.shared.broker import send
from papilla.shared.crypto.sealing import SealError, peek_header
from papilla.shared.errors import Refusal
from papilla.shared.routing import DEDUPLICATE, ENROLL, LIFECYCLE, MATCH_PROBE, REQUEST
from papilla.services import runtime

from . import intake


def _sender(sealed: bytes) -> str | None:
    try:
        return peek_header(sealed).sender_id
    except SealError:
        return None


@dramatiq.actor(actor_name=ENROLL.actor, queue_name=ENROLL.queue)
def extract_enrollment(sealed_b64: str) -> None:
    sealed = None
    try:
        sealed = runtime.decode_sealed(sealed_b64)
        accepted = intake.accept_enrollment(runtime.centre(), sealed)
    except Refusal as refusal:
        runtime.refuse(refusal, kind="enrollment", sender_id=_sender(sealed) if sealed else None)
        return
    if accepted.state == "EXTRACTED":
        send(dramatiq.get_broker(), DEDUPLICATE, accepted.enrollment_id)


@dramatiq.actor(actor_name=REQUEST.actor, queue_name=REQUEST.queue)
def extract_request(sealed_b64: str) -> None:
    sealed = None
    try:
        sealed = runtime.decode_sealed(sealed_b64)
        request_id, kind = intake.accept_request(runtime.centre(), sealed)
    except Refusal as refusal:
        runtime.refuse(refusal, kind="verify", sender_id=_sender(sealed) if sealed else None)
        return
    send(dramatiq.get_broker(), LIFECYCLE if kind == "lifecycle" else MATCH_PROBE, request_id)
