"""Match worker actors (thin: decode, call `matching`, send on)."""
from __future__ import annotations

import threading

import dramatiq

from papilla.shared.broker import send
from papilla.shared.routing import DEDUPLICATE, MATCH_PROBE, SETTLE
from papilla.services import runtime

from . import matching
from .gallery import Gallery

_gallery: Gallery | None = None
_lock = threading.Lock()


def gallery() -> Gallery:
    global _gallery
    with _lock:
        if _gallery is None:
            _gallery = Gallery(runtime.centre())
        return _gallery


@dramatiq.actor(actor_name=DEDUPLICATE.actor, queue_name=DEDUPLICATE.queue, throws=runtime.REFUSALS)
def deduplicate(enrollment_id: str) -> None:
    found = matching.deduplicate(runtime.centre(), gallery(), enrollment_id)
    if found is not None:
        candidates, gallery_seq = found
        send(dramatiq.get_broker(), SETTLE, enrollment_id, candidates, gallery_seq)


@dramatiq.actor(actor_name=MATCH_PROBE.actor, queue_name=MATCH_PROBE.queue, throws=runtime.REFUSALS)
def match_probe(request_id: str) -> None:
    gallery().sync()
    matching.answer_probe(runtime.centre(), gallery(), request_id)
