"""dramatiq on RabbitMQ, configured the one way Papilla uses it.

- publisher confirms on every producer (`confirm_delivery=True`): without
  them RabbitMQ may drop a message while `send()` returns;
- durable queues, dramatiq's dead-letter queues (`<queue>.XQ`) plus our
  dead-letter records in the store (`shared.deadletters`);
- retries with exponential backoff capped below RabbitMQ's consumer timeout
  (dramatiq keeps delayed messages unacked: dramatiq issue #827);
- cross-cutting behaviour as middleware: metrics, dead-letter recording,
  fault injection for crash tests.
"""
from __future__ import annotations

import logging
import os
from typing import Callable

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from . import deadletters, metrics
from .config import Settings
from .routing import Route

log = logging.getLogger(__name__)

#: RabbitMQ's default consumer timeout is 30 min; retries must come back well before it.
CONSUMER_TIMEOUT_MS = 30 * 60 * 1000


def base_middleware(settings: Settings) -> list[dramatiq.Middleware]:
    if settings.max_backoff_ms >= CONSUMER_TIMEOUT_MS // 2:
        raise ValueError("PAPILLA_MAX_BACKOFF_MS must stay under half of RabbitMQ's consumer timeout (15 min)")
    return [
        AgeLimit(),
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=settings.max_retries, min_backoff=settings.min_backoff_ms,
                max_backoff=settings.max_backoff_ms),
    ]


def rabbitmq_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    cls = _quorum_broker_class() if settings.queue_type == "quorum" else RabbitmqBroker
    return cls(url=settings.broker_url, confirm_delivery=True,
               middleware=base_middleware(settings) + list(extra_middleware))


def _quorum_broker_class():
    """dramatiq declares its queues without `x-queue-type`; RabbitMQ 3.10 refuses that for a queue that
    definitions.json made a quorum queue (PRECONDITION_FAILED), so declare them as quorum queues too."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    class QuorumRabbitmqBroker(RabbitmqBroker):
        def _build_queue_arguments(self, queue_name):
            return {**super()._build_queue_arguments(queue_name), "x-queue-type": "quorum"}

    return QuorumRabbitmqBroker


def in_process_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    """Only for the explicit single-process demo: messages live in memory and die with the process."""
    from dramatiq.brokers.stub import StubBroker

    log.warning("no broker URL given: using an in-process broker (single-process demo mode, nothing durable)")
    return StubBroker(middleware=base_middleware(settings) + list(extra_middleware))


def send(broker: dramatiq.Broker, route: Route, *args, **kwargs) -> dramatiq.Message:
    """Enqueue a message for `route` without importing the worker that handles it."""
    broker.declare_queue(route.queue)
    message = dramatiq.Message(queue_name=route.queue, actor_name=route.actor, args=args, kwargs=kwargs, options={})
    return broker.enqueue(message)


class DeadLetterRecorder(dramatiq.Middleware):
    """Record a message in the store's dead letters when it fails for good."""

    def __init__(self, store_factory: Callable[[], object]):
        self._store_factory = store_factory

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or not message.failed:
            return
        code = getattr(exception, "code", None) or "exhausted_retries"
        # Only our own exceptions carry vetted detail; anything else is named by type alone.
        detail = getattr(exception, "detail", None) or f"{type(exception).__name__} after {message.options.get('retries', 0)} retries"
        deadletters.record(self._store_factory(), message, reason=code, detail=detail,
                           rule=getattr(exception, "rule", None))
        metrics.DEAD_LETTERS.labels(message.queue_name, code).inc()


#: Per-delivery outcome, duration in seconds and end-to-end latency: defined with the metrics.
WorkerMetrics = metrics.MessageMetrics


class CrashAfterProcessing(dramatiq.Middleware):
    """Fault injection for crash tests: `PAPILLA_FAULT_CRASH_AFTER=<actor>:<marker file>`.

    After `<actor>` has done its work but before the message is acked, the
    process dies (once: the marker file records that it happened), exactly
    like a worker killed mid-flight. RabbitMQ then redelivers the message.
    """

    def __init__(self, spec: str):
        self.actor, _, marker = spec.partition(":")
        self.marker = marker or None

    @classmethod
    def from_env(cls) -> "CrashAfterProcessing | None":
        spec = os.environ.get("PAPILLA_FAULT_CRASH_AFTER")
        return cls(spec) if spec else None

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if message.actor_name != self.actor or exception is not None:
            return
        if self.marker:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
        log.warning("fault injection: exiting after %s before ack", self.actor)
        os._exit(137)
