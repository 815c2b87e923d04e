"""The project's own Prometheus metrics: base units (seconds), bounded labels, one owner per family.

Labels are closed sets (queue, actor, outcome, reason code, request kind,
result status, shard, role): never an id, an IIN or anything that grows with
the data. Every family is created unregistered and exported only by the
role that owns it (`registry_for(role)`), so an extract worker never reports
a gallery it does not hold. dramatiq's own Prometheus middleware (durations
in milliseconds, multiprocess files left on disk) is replaced by
`WorkerMetrics` below; `docs/operations.md` lists every family.
"""
from __future__ import annotations

import contextvars
import platform
import threading
import time
from importlib import metadata
from typing import Callable, Iterable

import dramatiq
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily

from papilla.shared import names
from papilla.shared.errors import Refusal

#: Queues where a packet or request first reaches the centre: end-to-end latency starts there.
INTAKE_QUEUES = ("papilla.enroll", "papilla.request")
#: Message option carrying the centre's receipt time (Unix seconds) from stage to stage.
RECEIVED_AT = "papilla_received_at"
OUTCOMES = ("ok", "refused", "retried", "dead_lettered")
disable_created_metrics()  # no `*_created` series: Prometheus tracks resets itself

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_PERCENT_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
_MINUTIAE_BUCKETS = (5, 10, 20, 30, 40, 50, 60, 80, 100, 150)

# -- every worker role ---------------------------------------------------------------------------
MESSAGES = Counter("papilla_messages_total", "Messages handled, by final outcome of this delivery "
                   "(ok, refused, retried, dead_lettered).", ["queue", "actor", "outcome"], registry=None)
MESSAGE_SECONDS = Histogram("papilla_message_duration_seconds", "Time spent handling one message.",
                            ["queue", "actor"], buckets=LATENCY_BUCKETS, registry=None)
IN_PROGRESS = Gauge("papilla_messages_in_progress", "Messages being handled right now.", ["queue"],
                    registry=None)
REFUSALS = Counter("papilla_refusals_total", "Messages refused (final, answered REFUSED), by reason code.",
                   ["queue", "reason"], registry=None)
DEAD_LETTERS = Counter("papilla_dead_letters_total", "Messages that failed for good (after their last retry) "
                       "and were kept as dead letters.", ["queue", "reason"], registry=None)
RESULTS = Counter("papilla_results_total", "Results stored and published, by request kind and status.",
                  ["kind", "status"], registry=None)
REQUEST_SECONDS = Histogram("papilla_request_duration_seconds", "End to end: from the centre receiving a packet "
                            "or request to its result being stored, by request kind.", ["kind"],
                            buckets=LATENCY_BUCKETS, registry=None)
BUILD = Info("papilla_build", "Version of the running Papilla build.", registry=None)

# -- extract -------------------------------------------------------------------------------------
EXTRACT_SECONDS = Histogram("papilla_extract_seconds", "Minutiae extraction time per finger image.",
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=None)
FINGER_QUALITY = Histogram("papilla_finger_quality", "Quality (0-100) of each extracted finger.",
                           buckets=_PERCENT_BUCKETS, registry=None)
FINGER_MINUTIAE = Histogram("papilla_finger_minutiae", "Minutiae found per extracted finger.",
                            buckets=_MINUTIAE_BUCKETS, registry=None)

# -- match (set by services/match) ---------------------------------------------------------------
MATCH_SECONDS = Histogram("papilla_match_seconds", "Time to answer one search, by kind (verify, identify, "
                          "deduplicate).", ["kind"], buckets=LATENCY_BUCKETS, registry=None)
GALLERY_ENROLLMENTS = Gauge("papilla_gallery_enrollments", "Active enrollments held in memory, by gallery shard.",
                            ["shard"], registry=None)
GALLERY_APPLIED_SEQ = Gauge("papilla_gallery_applied_seq", "Last gallery-log sequence number applied by this "
                            "shard (compare with papilla_gallery_log_head_seq).", ["shard"], registry=None)
GALLERY_MEMORY_BYTES = Gauge("papilla_gallery_memory_bytes", "Bytes of the gallery's arrays (templates and "
                             "index) held in memory, by gallery shard.", ["shard"], registry=None)
#: Unsharded galleries (one match worker holds everything) report shard "0".
GALLERY_SIZE = GALLERY_ENROLLMENTS.labels(shard="0")

# -- compliance (lifecycle; set by the lifecycle service as its features land) -------------------
DESTRUCTIONS = Counter("papilla_destructions_total", "Destructions on application completed, by whether it "
                       "was done the day the application was received (Rules 406 p.11).", ["timeliness"],
                       registry=None)

# -- station (a branch machine exports its own, via node_exporter's textfile collector) ----------
def station_registry(station_id: str, packets: int, oldest_age_seconds: float) -> CollectorRegistry:
    """Spool depth and age of the oldest unsent packet (`services.capture.spool.spool_facts`, the same facts
    `papilla station status` prints)."""
    registry = CollectorRegistry()
    depth = Gauge("papilla_station_spool_packets", "Sealed packets waiting in the station's spool (not yet "
                  "confirmed by RabbitMQ).", ["station"], registry=registry)
    oldest = Gauge("papilla_station_spool_oldest_age_seconds", "Age of the oldest unsent packet (0 when empty).",
                   ["station"], registry=registry)
    depth.labels(station_id).set(packets)
    oldest.labels(station_id).set(oldest_age_seconds)
    Info("papilla_build", "Version of the running Papilla build.", registry=registry).info(build_labels("station"))
    return registry


# -- planned: lifecycle gauges the alert rules and dashboards already name. Not defined yet on purpose:
# an unlabelled gauge is exported as 0 from start, and "0 overdue" or "audit verify failed" before
# anything computed them would be a lie. Define each where it is computed, then add it to OWNED.
PLANNED = {
    "papilla_audit_verify_ok": "1 when the last audit-chain verification found the chain intact, 0 when broken.",
    "papilla_audit_verify_timestamp_seconds": "When the audit chain was last verified (Unix time).",
}

COMMON = (MESSAGES, MESSAGE_SECONDS, IN_PROGRESS, REFUSALS, DEAD_LETTERS, RESULTS, REQUEST_SECONDS, BUILD)
OWNED = {
    "extract": (EXTRACT_SECONDS, FINGER_QUALITY, FINGER_MINUTIAE),
    "match": (MATCH_SECONDS, GALLERY_ENROLLMENTS, GALLERY_APPLIED_SEQ, GALLERY_MEMORY_BYTES),
    "shard": (GALLERY_ENROLLMENTS, GALLERY_APPLIED_SEQ, GALLERY_MEMORY_BYTES),
    "lifecycle": (DESTRUCTIONS,),
}


def observe_finger(quality: int, minutiae: int, seconds: float) -> None:
    EXTRACT_SECONDS.observe(seconds)
    FINGER_QUALITY.observe(quality)
    FINGER_MINUTIAE.observe(minutiae)


def observe_search(kind: str, seconds: float) -> None:
    """One search answered by the match service: kind is verify, identify or deduplicate."""
    MATCH_SECONDS.labels(kind).observe(seconds)


def count_destruction(same_day: bool) -> None:
    DESTRUCTIONS.labels("same_day" if same_day else "late").inc()


# -- per-message outcome, duration and end-to-end latency -----------------------------------------
_received_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("papilla_received_at", default=None)
_refused: set[str] = set()
_refused_lock = threading.Lock()


def count_refusal(message: dramatiq.Message | None, reason: str) -> None:
    """A refusal handled inside an actor: counted by reason, and the delivery's outcome becomes `refused`."""
    REFUSALS.labels(message.queue_name if message else "", reason).inc()
    if message is not None:
        _mark_refused(message)


def _mark_refused(message: dramatiq.Message) -> None:
    with _refused_lock:
        _refused.add(message.message_id)


def count_result(kind: str, status: str) -> None:
    """A result stored for the first time; its end-to-end latency when the centre's receipt time is known."""
    RESULTS.labels(kind, status).inc()
    received = _received_at.get()
    if received is not None:
        REQUEST_SECONDS.labels(kind).observe(max(0.0, time.time() - received))


def _is_refusal(exception: BaseException | None) -> bool:
    return isinstance(exception, Refusal)


class WorkerMetrics(dramatiq.Middleware):
    """Count each delivery once by its real outcome, time it in seconds, carry the receipt time onward.

    The outcome is decided at ack/nack time, after every `after_process_message`
    hook has run: nacked, or failed when this middleware's hook ran = dead_lettered
    (list it before `Retries`, as runtime.worker_middleware does, since
    `shared.outcomes` acks failures it has recorded); acked after an exception
    = retried (Retries queued a delayed copy); a refusal = refused.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, BaseException | None, bool]] = {}  # started, exception, failed

    def after_process_boot(self, broker):
        """Start every outcome of every actor at 0: Prometheus' rate() and increase() miss the first
        increment of a series that appears with the value 1 already."""
        for name in broker.get_declared_actors():
            actor = broker.get_actor(name)
            for outcome in OUTCOMES:
                MESSAGES.labels(actor.queue_name, actor.actor_name, outcome)
            DEAD_LETTERS.labels(actor.queue_name, "exhausted_retries")

    def before_process_message(self, broker, message):
        if message.queue_name in INTAKE_QUEUES and RECEIVED_AT not in message.options:
            message.options[RECEIVED_AT] = time.time()  # kept across retries: the message carries it
        _received_at.set(message.options.get(RECEIVED_AT))
        IN_PROGRESS.labels(message.queue_name).inc()
        with self._lock:
            self._seen[message.message_id] = (time.perf_counter(), None, False)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        _received_at.set(None)
        with self._lock:
            started = self._seen.get(message.message_id, (None,))[0]
            if started is None:
                return
            # `failed` as Retries left it: UnansweredMessages (shared.outcomes) acks recorded failures afterwards
            self._seen[message.message_id] = (started, exception, message.failed)
        IN_PROGRESS.labels(message.queue_name).dec()
        MESSAGE_SECONDS.labels(message.queue_name, message.actor_name).observe(time.perf_counter() - started)
        if _is_refusal(exception):   # counted by reason where it is recorded (shared.outcomes)
            _mark_refused(message)

    def after_skip_message(self, broker, message):
        with self._lock:
            began = message.message_id in self._seen
            self._seen[message.message_id] = (time.perf_counter(), None, message.failed)
        if began:
            IN_PROGRESS.labels(message.queue_name).dec()

    def before_enqueue(self, broker, message, delay):
        received = _received_at.get()
        if received is not None and RECEIVED_AT not in message.options:
            message.options[RECEIVED_AT] = received

    def after_ack(self, broker, message):
        self._count(message, nacked=False)

    def after_nack(self, broker, message):
        self._count(message, nacked=True)

    def _count(self, message, *, nacked: bool) -> None:
        with self._lock:
            seen = self._seen.pop(message.message_id, None)
        if seen is None:  # a delayed copy moved back to its queue, not a delivery we handled
            return
        with _refused_lock:
            refused = message.message_id in _refused
            _refused.discard(message.message_id)
        _, exception, failed = seen
        outcome = ("refused" if refused else "dead_lettered" if nacked or failed
                   else "retried" if exception is not None else "ok")
        MESSAGES.labels(message.queue_name, message.actor_name, outcome).inc()


# -- what each role exports --------------------------------------------------------------------------
class StoreGauges:
    """Backlogs read from the store at scrape time, so they are never stale (one small count per family)."""

    FAMILIES = {
        "lifecycle": (("papilla_pending_review_enrollments", "Enrollments waiting for an adjudicator."),
                      ("papilla_dead_letters_unresolved", "Failed messages recorded as dead letters and not requeued (refusals, answered to their sender, are not counted)."),
                      ("papilla_audit_chain_length", "Entries in the audit chain.")),
        "match": (("papilla_gallery_log_head_seq", "Newest sequence number in the gallery log (the store)."),),
    }

    def __init__(self, role: str, store_factory: Callable[[], object]):
        self.role = role
        self._store_factory = store_factory

    def describe(self) -> list[GaugeMetricFamily]:
        return [_gauge(name, doc, None) for name, doc in self.FAMILIES[self.role]]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        store = self._store_factory()
        if self.role == "lifecycle":
            values = (store.count(names.ENROLLMENTS, {"state": "PENDING_REVIEW"}),
                      store.count(names.DEAD_LETTERS, {"state": "dead"}), store.count(names.AUDIT, {}))
        else:
            values = (gallery_log_head(store),)
        for (name, doc), value in zip(self.FAMILIES[self.role], values):
            yield _gauge(name, doc, value)


def gallery_log_head(store) -> int:
    """Newest sequence number in the gallery change log (0 when empty)."""
    head = store.find(names.GALLERY, {}, sort=[("seq", -1)], limit=1)
    return int(head[0]["seq"]) if head else 0


class ShardLogLag:
    """A gallery shard process's distance behind the change log, computed by that process at scrape time:
    head of the log (the store) minus the last sequence number it applied. Stays high while a restarted
    replica catches up, or when its syncs fail."""

    HEAD = ("papilla_gallery_log_head_seq", "Newest sequence number in the gallery log (the store).")
    LAG = ("papilla_gallery_log_lag", "Gallery-log entries newer than the last one this shard applied (head - applied).")

    def __init__(self, shard: str, applied: Callable[[], int], store_factory: Callable[[], object]):
        self.shard, self._applied, self._store_factory = shard, applied, store_factory

    def describe(self) -> list[GaugeMetricFamily]:
        return [_gauge(*self.HEAD, None), GaugeMetricFamily(*self.LAG, labels=["shard"])]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        head = gallery_log_head(self._store_factory())
        yield _gauge(*self.HEAD, head)
        lag = GaugeMetricFamily(*self.LAG, labels=["shard"])
        lag.add_metric([self.shard], max(0, head - self._applied()))
        yield lag


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    if value is not None:
        family.add_metric([], value)
    return family


def build_labels(role: str) -> dict[str, str]:
    return {"version": metadata.version("papilla"), "role": role, "python": platform.python_version(),
            "dramatiq": metadata.version("dramatiq")}


def registry_for(role: str, store_factory: Callable[[], object] | None = None) -> CollectorRegistry:
    """A registry with the worker-wide families, `role`'s own, process and build info, and store backlogs."""
    registry = CollectorRegistry()
    for metric in COMMON + OWNED.get(role, ()):
        registry.register(metric)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    BUILD.info(build_labels(role))
    if store_factory is not None and role in ("lifecycle", "match"):
        registry.register(StoreGauges(role, store_factory))
    return registry
