"""Match worker actors (thin: decode, call `matching`, send on)."""
from __future__ import annotations

import threading
import time

import dramatiq

from papilla.services.match import matching, scatter
from papilla.services.match.gallery import Gallery
from papilla.services.workers import runtime
from papilla.shared import metrics
from papilla.shared.broker import send
from papilla.shared.routing import DEDUPLICATE, MATCH_PROBE, SETTLE

_gallery: Gallery | None = None
_scatter: scatter.ScatterGather | None = None
_lock = threading.Lock()


def gallery() -> Gallery:
    global _gallery
    with _lock:
        if _gallery is None:
            _gallery = Gallery(runtime.centre())
        return _gallery


def scattered() -> scatter.ScatterGather | None:
    """The scatter-gather client when the gallery is partitioned across shard processes (PAPILLA_GALLERY_PARTS)."""
    global _scatter
    with _lock:
        settings = scatter.ScatterSettings.from_env()
        if settings.parts > 1 and _scatter is None:
            _scatter = scatter.ScatterGather(runtime.centre().settings.broker_url, settings)
        return _scatter


@dramatiq.actor(actor_name=DEDUPLICATE.actor, queue_name=DEDUPLICATE.queue, throws=runtime.REFUSALS)
def deduplicate(enrollment_id: str) -> None:
    started, sg = time.perf_counter(), scattered()
    found = (scatter.deduplicate(runtime.centre(), sg, enrollment_id) if sg
             else matching.deduplicate(runtime.centre(), gallery(), enrollment_id))
    if found is not None:
        metrics.observe_search("deduplicate", time.perf_counter() - started)
        candidates, gallery_seq = found
        send(dramatiq.get_broker(), SETTLE, enrollment_id, candidates, gallery_seq)


@dramatiq.actor(actor_name=MATCH_PROBE.actor, queue_name=MATCH_PROBE.queue, throws=runtime.REFUSALS)
def match_probe(request_id: str) -> None:
    started, sg = time.perf_counter(), scattered()
    if sg:
        done = scatter.answer_probe(runtime.centre(), gallery(), sg, request_id)
    else:
        gallery().sync()
        done = matching.answer_probe(runtime.centre(), gallery(), request_id)
    if done is not None and done.kind in ("verify", "identify"):
        metrics.observe_search(done.kind, time.perf_counter() - started)
