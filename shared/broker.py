"""dramatiq on RabbitMQ, configured the one way Papilla uses it.

- publisher confirms on every producer (`confirm_delivery=True`): without
  them RabbitMQ may drop a message while `send()` returns;
- durable queues; every message that leaves unanswered gets a dead-letter
  record in the store (`shared.outcomes`, `shared.deadletters`); dramatiq's
  `<queue>.XQ` only holds what could not be recorded (store down);
- message bodies size-limited and schema-checked before use, and never
  logged (`shared.wire`);
- retries with exponential backoff capped below RabbitMQ's consumer timeout
  (dramatiq keeps delayed messages unacked: dramatiq issue #827);
- cross-cutting behaviour as middleware: metrics, dead-letter recording,
  fault injection for crash tests.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from . import metrics, wire
from .config import ConfigError, Settings
from .errors import Refusal
from .routing import Route

log = logging.getLogger(__name__)

#: RabbitMQ's default consumer timeout is 30 min; retries must come back well before it.
CONSUMER_TIMEOUT_MS = 30 * 60 * 1000


def base_middleware(settings: Settings, first: list[dramatiq.Middleware] = ()) -> list[dramatiq.Middleware]:
    """dramatiq's middleware, with `first` ahead of `Retries`: dramatiq runs `after_process_message` hooks in
    reverse order, so only middleware listed before `Retries` sees a message's final outcome."""
    if settings.max_backoff_ms >= CONSUMER_TIMEOUT_MS // 2:
        raise ConfigError("PAPILLA_MAX_BACKOFF_MS must stay under half of RabbitMQ's consumer timeout (15 min)")
    return list(first) + [
        AgeLimit(),
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=settings.max_retries, min_backoff=settings.min_backoff_ms,
                max_backoff=settings.max_backoff_ms),
    ]


def rabbitmq_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = (), *,
                    first_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    wire.install()
    return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True,
                          middleware=base_middleware(settings, first_middleware) + list(extra_middleware))


def in_process_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = (), *,
                      first_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    """Only for the explicit single-process demo: messages live in memory and die with the process."""
    from dramatiq.brokers.stub import StubBroker

    log.warning("no broker URL given: using an in-process broker (single-process demo mode, nothing durable)")
    wire.install()
    return StubBroker(middleware=base_middleware(settings, first_middleware) + list(extra_middleware))


def send(broker: dramatiq.Broker, route: Route, *args, **kwargs) -> dramatiq.Message:
    """Enqueue a message for `route` without importing the worker that handles it."""
    broker.declare_queue(route.queue)
    message = dramatiq.Message(queue_name=route.queue, actor_name=route.actor, args=args, kwargs=kwargs, options={})
    return broker.enqueue(message)


class WorkerMetrics(dramatiq.Middleware):
    """Per-message count and duration in seconds, by queue, actor and outcome (ok, refused, retried,
    dead_lettered); listed before `Retries` so it sees the final outcome."""

    def __init__(self):
        self._started: dict[str, float] = {}

    def before_process_message(self, broker, message):
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = self._started.pop(message.message_id, None)
        outcome = ("ok" if exception is None else "refused" if isinstance(exception, Refusal)
                   else "dead_lettered" if message.failed else "retried")
        if started is not None:
            metrics.MESSAGE_SECONDS.labels(message.queue_name, message.actor_name).observe(time.perf_counter() - started)
        metrics.MESSAGES.labels(message.queue_name, message.actor_name, outcome).inc()

    def after_skip_message(self, broker, message):
        self._started.pop(message.message_id, None)
        metrics.MESSAGES.labels(message.queue_name, message.actor_name,
                                "dead_lettered" if message.failed else "skipped").inc()


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
