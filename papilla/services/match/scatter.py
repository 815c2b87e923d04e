"""Scatter-gather 1:N over RabbitMQ: the gallery partitioned by subject across shard processes.

Each shard process (`papilla shard serve --part K --parts N`) holds partition
K of N (subjects by CRC-32 of their id), tails the gallery change log, and
consumes the queue `papilla.gallery.part.K.of.N`; replicas of one partition
share that queue. A search request names its probe by reference (an
enrollment, or a stored verify / identify job) and never carries biometric
data: the shard decrypts the probe from the store itself. Every shard syncs
with the change log before it answers, and answers with its candidates above
a floor (the loosest cut), its gallery size and the log position it searched.

The gatherer fuses the partial lists with the cut for the whole gallery. If a
partition does not answer before the deadline the search raises
`PartialResult` (the message is retried; a partial list is never taken for
"no duplicate"). The snapshot for admission is the smallest log position
among the shards, so settle() re-checks anything that joined after it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, replace

import pika
import pika.exceptions

from papilla.services.match import matching, scale_metrics, templates
from papilla.services.match.gallery import Gallery, GalleryParams
from papilla.shared import results
from papilla.shared.centre import Centre
from papilla.shared.crypto.errors import DataKeyDestroyed
from papilla.shared.messages import Candidate, Result
from papilla.shared.names import ENROLLMENTS, JOBS, job_key_subject

log = logging.getLogger(__name__)


class PartialResult(Exception):
    """Some gallery partitions did not answer in time: the search is incomplete and must not be used."""

    code = "partial_result"

    def __init__(self, missing: list[int], parts: int, deadline_s: float):
        self.missing = missing
        super().__init__(f"partial result: gallery partitions {missing} of {parts} did not answer within "
                         f"{deadline_s:g} s; the search is retried, never answered from part of the gallery")


@dataclass(frozen=True)
class ScatterSettings:
    parts: int = 1              # PAPILLA_GALLERY_PARTS: 1 = every match worker holds the whole gallery
    deadline_s: float = 10.0    # PAPILLA_GALLERY_DEADLINE_S: wait this long for every partition

    @classmethod
    def from_env(cls) -> "ScatterSettings":
        return cls(parts=int(os.environ.get("PAPILLA_GALLERY_PARTS", "1")),
                   deadline_s=float(os.environ.get("PAPILLA_GALLERY_DEADLINE_S", "10")))


def part_queue(part: int, parts: int) -> str:
    return f"papilla.gallery.part.{part}.of.{parts}"


# --- shard side --------------------------------------------------------------------

def answer(centre: Centre, gallery: Gallery, request: dict) -> dict:
    """One partition's answer to a search request (probe by reference)."""
    if request["probe"] == "enrollment":
        probes = templates.fingers_of(centre, request["enrollment_id"], request["subject_id"])
    else:
        probes = templates.probes_of(centre, centre.store.get(JOBS, request["job_id"]))
    gallery.sync()
    started = time.perf_counter()
    found = gallery.search(probes, threshold=request["floor"], exclude=set(request.get("exclude", ())),
                           exclude_subject=request.get("exclude_subject"), limit=request["limit"])
    scale_metrics.SEARCH_SECONDS.labels("partition").observe(time.perf_counter() - started)
    return {"part": gallery.params.partition[0], "seq": gallery.last_seq, "size": len(gallery.entries),
            "candidates": found}


def serve(centre: Centre, url: str, part: int, parts: int, stop: threading.Event | None = None,
          params: GalleryParams = GalleryParams(), ready=None, gallery: Gallery | None = None) -> None:
    """Hold partition `part` of `parts` (in `gallery`, or a new one) and answer searches until `stop` is set."""
    if gallery is None:
        gallery = Gallery(centre, replace(params, partition=(part, parts)))
    if gallery.params.partition != (part, parts):
        raise ValueError(f"gallery holds partition {gallery.params.partition}, not {(part, parts)}")
    gallery.sync()   # caught up before the first answer
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    queue = part_queue(part, parts)
    ch.queue_declare(queue=queue, durable=False, auto_delete=False)
    ch.basic_qos(prefetch_count=1)

    def on_request(channel, method, props, body):
        try:
            reply = answer(centre, gallery, json.loads(body))
        except Exception:  # no answer: the gatherer reports a partial result and the search is retried
            log.exception("gallery partition %d/%d failed a search", part, parts)
            channel.basic_ack(method.delivery_tag)
            return
        channel.basic_publish("", props.reply_to, json.dumps(reply).encode(),
                              pika.BasicProperties(correlation_id=props.correlation_id))
        channel.basic_ack(method.delivery_tag)

    ch.basic_consume(queue, on_request)
    if ready is not None:
        ready.set()
    log.info("gallery partition %d/%d serving %d entries", part, parts, len(gallery.entries))
    try:
        while stop is None or not stop.is_set():
            conn.process_data_events(time_limit=0.5)
            gallery.sync()
    finally:
        conn.close()


# --- gatherer side -----------------------------------------------------------------

class ScatterGather:
    """Sends one search to every partition and gathers the answers (one connection per thread)."""

    def __init__(self, url: str, settings: ScatterSettings):
        self.url, self.settings = url, settings
        self._local = threading.local()

    def _channel(self):
        state = getattr(self._local, "state", None)
        if state is None or state[0].is_closed:
            conn = pika.BlockingConnection(pika.URLParameters(self.url))
            ch = conn.channel()
            reply = ch.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
            inbox: dict[str, dict] = {}
            ch.basic_consume(reply, lambda c, m, p, b: inbox.__setitem__(p.correlation_id, json.loads(b)),
                             auto_ack=True)
            state = self._local.state = (conn, ch, reply, inbox)
        return state

    def search(self, request: dict) -> list[dict]:
        """Every partition's answer, or PartialResult after the deadline. A connection the server dropped
        while idle (heartbeat) is opened again once."""
        try:
            return self._search(request)
        except pika.exceptions.AMQPError:
            self._local.state = None
            return self._search(request)

    def _search(self, request: dict) -> list[dict]:
        parts, deadline = self.settings.parts, self.settings.deadline_s
        conn, ch, reply, inbox = self._channel()
        inbox.clear()
        ids = {}
        for part in range(parts):
            cid = uuid.uuid4().hex
            ids[cid] = part
            ch.basic_publish("", part_queue(part, parts), json.dumps(request).encode(),
                             pika.BasicProperties(reply_to=reply, correlation_id=cid,
                                                  expiration=str(int(deadline * 1000))))
        started = time.monotonic()
        end = started + deadline
        while any(cid not in inbox for cid in ids) and time.monotonic() < end:
            conn.process_data_events(time_limit=max(0.0, min(0.2, end - time.monotonic())))
        missing = sorted(part for cid, part in ids.items() if cid not in inbox)
        if missing:
            scale_metrics.PARTIAL_RESULTS.inc()
            raise PartialResult(missing, parts, deadline)
        scale_metrics.SEARCH_SECONDS.labels("scatter_gather").observe(time.monotonic() - started)
        return [inbox[cid] for cid in ids]


def gather(answers: list[dict], threshold_for, limit: int) -> tuple[list[dict], int, int]:
    """Fused candidates over all partitions at the cut for the whole gallery; (candidates, snapshot seq, size)."""
    size = sum(a["size"] for a in answers)
    threshold = threshold_for(size)
    found = sorted((c for a in answers for c in a["candidates"] if c["score"] >= threshold), key=lambda c: -c["score"])
    return found[:limit], min(a["seq"] for a in answers), size


def deduplicate(centre: Centre, sg: ScatterGather, enrollment_id: str) -> tuple[list[dict], int] | None:
    """`matching.deduplicate` over all partitions."""
    enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    if enrollment is None or enrollment["state"] != "EXTRACTED":
        return None
    s = centre.settings
    templates.fingers_of(centre, enrollment_id, enrollment["subject_id"])   # prepared once, before the fan-out
    answers = sg.search({"probe": "enrollment", "enrollment_id": enrollment_id,
                         "subject_id": enrollment["subject_id"], "exclude": [enrollment_id],
                         "exclude_subject": enrollment["subject_id"], "limit": 20,
                         "floor": matching._thresholds().fused(s.dedup_fmr)})
    found, seq, _ = gather(answers, lambda n: matching._thresholds().fused(
        matching.one_to_many_fmr(s.dedup_fmr, s.dedup_fpir, n)), 20)
    return found, seq


def identify(centre: Centre, sg: ScatterGather, job: dict) -> Result:
    s, limit = centre.settings, int(job.get("max_candidates", 10))
    answers = sg.search({"probe": "job", "job_id": job["_id"], "limit": limit,
                         "floor": matching._thresholds().fused(s.identify_fmr)})
    found, _, _ = gather(answers, lambda n: matching._thresholds().fused(
        matching.one_to_many_fmr(s.identify_fmr, s.identify_fpir, n)), limit)
    return Result(request_id=job["_id"], kind="identify", status="CANDIDATES" if found else "NO_CANDIDATES",
                  candidates=tuple(Candidate(**c) for c in found))


def answer_probe(centre: Centre, gallery: Gallery, sg: ScatterGather, request_id: str) -> Result | None:
    """`matching.answer_probe` with identification scattered; PartialResult propagates (the message is retried)."""
    def compute(job: dict) -> Result:
        try:
            if job["kind"] == "verify":
                return matching.verify(centre, gallery, job)
            return identify(centre, sg, job)
        except DataKeyDestroyed:
            return Result(request_id=request_id, kind=job["kind"], status="REFUSED", reason="probe_expired")

    done, job = results.answer_job(centre.store, centre.publisher, request_id, compute)
    if job is not None:
        centre.cipher.forget(job_key_subject(request_id))
        centre.store.delete(JOBS, {"_id": request_id})
    return done
