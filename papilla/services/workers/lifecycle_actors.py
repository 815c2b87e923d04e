"""Lifecycle worker actors (thin: decode, call domain code)."""
from __future__ import annotations

import dramatiq

from papilla.services.admission import intake
from papilla.services.lifecycle import commands, enrollments
from papilla.services.workers import runtime
from papilla.shared.broker import send
from papilla.shared.routing import COMMAND, DEDUPLICATE, LIFECYCLE, SETTLE


@dramatiq.actor(actor_name=SETTLE.actor, queue_name=SETTLE.queue, throws=runtime.REFUSALS)
def settle_enrollment(enrollment_id: str, candidates: list[dict], gallery_seq: int | None = None) -> None:
    if enrollments.settle(runtime.centre(), enrollment_id, candidates, gallery_seq) == enrollments.RECHECK:
        send(dramatiq.get_broker(), DEDUPLICATE, enrollment_id)  # the gallery grew meanwhile: search again


@dramatiq.actor(actor_name=LIFECYCLE.actor, queue_name=LIFECYCLE.queue, throws=runtime.REFUSALS)
def lifecycle_command(request_id: str) -> None:
    commands.run_command(runtime.centre(), request_id)


@dramatiq.actor(actor_name=COMMAND.actor, queue_name=COMMAND.queue, throws=runtime.REFUSALS)
def accept_command(sealed_b64: str) -> None:
    request_id = intake.accept_command(runtime.centre(), runtime.decode_sealed(sealed_b64))
    commands.run_command(runtime.centre(), request_id)
