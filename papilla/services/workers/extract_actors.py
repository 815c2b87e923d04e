"""Extract worker actors (thin: decode, call `intake`, send on). Refusals are declared, not caught:
`shared.outcomes.UnansweredMessages` records and answers them."""
from __future__ import annotations

import dramatiq

from papilla.services.admission import intake
from papilla.services.workers import runtime
from papilla.shared.broker import send
from papilla.shared.routing import DEDUPLICATE, ENROLL, MATCH_PROBE, REQUEST, STATION_STATUS


@dramatiq.actor(actor_name=ENROLL.actor, queue_name=ENROLL.queue, throws=runtime.REFUSALS)
def extract_enrollment(sealed_b64: str) -> None:
    accepted = intake.accept_enrollment(runtime.centre(), runtime.decode_sealed(sealed_b64))
    if accepted.state == "EXTRACTED":
        send(dramatiq.get_broker(), DEDUPLICATE, accepted.enrollment_id)


@dramatiq.actor(actor_name=STATION_STATUS.actor, queue_name=STATION_STATUS.queue, throws=runtime.REFUSALS)
def station_status(sealed_b64: str) -> None:
    intake.answer_station_status(runtime.centre(), runtime.decode_sealed(sealed_b64))


@dramatiq.actor(actor_name=REQUEST.actor, queue_name=REQUEST.queue, throws=runtime.REFUSALS)
def extract_request(sealed_b64: str) -> None:
    request_id, _ = intake.accept_request(runtime.centre(), runtime.decode_sealed(sealed_b64))
    send(dramatiq.get_broker(), MATCH_PROBE, request_id)
