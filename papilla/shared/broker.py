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
  fault injection for crash tests;
- stations and services publish to the intake exchange only (`send_to_intake`): they declare nothing, and
  their broker users may write to `papilla.intake` alone, with topic permissions naming their routing keys
  (infra/rabbitmq/definitions.json). The centre's workers send to each other on dramatiq's default routing.
"""
from __future__ import annotations

import copy
import logging
import os

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from . import metrics, wire
from .config import ConfigError, Settings, mask_secrets
from .routing import INTAKE_EXCHANGE, INTAKE_ROUTES, Route

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


class PapillaRabbitmqBroker(RabbitmqBroker):
    """dramatiq's RabbitMQ broker whose *publishing* connections negotiate no heartbeats.

    A pika BlockingConnection only answers heartbeats while someone calls into it; dramatiq's per-thread
    publishing connections sit idle between sends, RabbitMQ closes them after missed heartbeats and pika
    logs the reset at ERROR the next time (every worker, every idle spell). Consumers keep heartbeats (they
    poll constantly, and a dead peer must release its unacked messages); a publishing connection needs
    none: a send on a dead one fails, and dramatiq reconnects and re-sends.
    """

    @property
    def connection(self):
        connection = getattr(self.state, "connection", None)
        if connection is None:
            connection = self.state.connection = pika.BlockingConnection(
                parameters=publisher_parameters(self.parameters))
            self.connections.add(connection)
        return connection

    @connection.deleter
    def connection(self):
        RabbitmqBroker.connection.fdel(self)


class QuorumRabbitmqBroker(PapillaRabbitmqBroker):
    """dramatiq declares its queues without `x-queue-type`; RabbitMQ 3.10 refuses that for a queue that
    definitions.json made a quorum queue (PRECONDITION_FAILED), so declare them as quorum queues too."""

    def _build_queue_arguments(self, queue_name):
        return {**super()._build_queue_arguments(queue_name), "x-queue-type": "quorum"}


class BrokerRefused(ConfigError):
    """The broker answered but refused this user or virtual host: a configuration mistake, not an outage."""


class BrokerUnreachable(ConfigError):
    """No broker answered: an outage (a station spools), or a wrong host/port."""


def check_broker(url: str) -> None:
    """Connect once before starting: bad credentials, an unknown vhost or no broker become a ConfigError."""
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)   # pika logs each failed step at ERROR; the sentence below says it once
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.ProbableAuthenticationError:
        raise BrokerRefused(f"RabbitMQ at {mask_secrets(url)} refused the user name or password") from None
    except pika.exceptions.ProbableAccessDeniedError:
        raise BrokerRefused(f"RabbitMQ at {mask_secrets(url)} denied access to the virtual host "
                          "(unknown vhost, or no permission)") from None
    except pika.exceptions.AMQPError as exc:
        raise BrokerUnreachable(f"cannot reach RabbitMQ at {mask_secrets(url)} ({type(exc).__name__}): "
                          "check PAPILLA_BROKER_URL and that the broker runs") from None
    except ValueError as exc:
        raise ConfigError(f"PAPILLA_BROKER_URL is not an AMQP URL ({exc})") from None
    finally:
        pika_log.setLevel(level)


def publisher_parameters(parameters: pika.ConnectionParameters) -> pika.ConnectionParameters:
    """`parameters` for a connection that only publishes: no heartbeats (see PapillaRabbitmqBroker)."""
    params = copy.copy(parameters)
    params.heartbeat = 0
    return params


def rabbitmq_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = (), *,
                    first_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    wire.install()
    cls = QuorumRabbitmqBroker if settings.queue_type == "quorum" else PapillaRabbitmqBroker
    return cls(url=settings.broker_url, confirm_delivery=True,
               middleware=base_middleware(settings, first_middleware) + list(extra_middleware))


def in_process_broker(settings: Settings, extra_middleware: list[dramatiq.Middleware] = (), *,
                      first_middleware: list[dramatiq.Middleware] = ()) -> dramatiq.Broker:
    """Only for the explicit single-process demo: messages live in memory and die with the process."""
    log.warning("no broker URL given: using an in-process broker (single-process demo mode, nothing durable)")
    wire.install()
    return StubBroker(middleware=base_middleware(settings, first_middleware) + list(extra_middleware))


def send(broker: dramatiq.Broker, route: Route, *args, **kwargs) -> dramatiq.Message:
    """Enqueue a message for `route` without importing the worker that handles it."""
    broker.declare_queue(route.queue)
    message = dramatiq.Message(queue_name=route.queue, actor_name=route.actor, args=args, kwargs=kwargs, options={})
    return broker.enqueue(message)


#: Answers a second attempt would get again: refused (403), no exchange (404), no binding, queue full.
_NOT_TRANSIENT = (pika.exceptions.ChannelClosedByBroker, pika.exceptions.UnroutableError, pika.exceptions.NackError)


def send_to_intake(broker: dramatiq.Broker, route: Route, *args, **kwargs) -> dramatiq.Message:
    """What a station or service sends: a dramatiq message for `route`, published to the intake exchange with the
    route's queue as routing key, mandatory and confirmed, declaring nothing (the centre declared the queues and
    their bindings: definitions.json, or `declare_intake` at worker boot).

    Raises `dramatiq.errors.ConnectionClosed` when the broker is out of reach, refuses (403: this user may not
    send this route), has no intake exchange yet (404) or cannot route it (no binding): the caller keeps the
    message (the station's spool) or reports it. The in-process demo broker just enqueues."""
    message = dramatiq.Message(queue_name=route.queue, actor_name=route.actor, args=args, kwargs=kwargs, options={})
    if not isinstance(broker, RabbitmqBroker):
        broker.declare_queue(route.queue)
        return broker.enqueue(message)
    if not broker.confirm_delivery:
        raise ConfigError("a party's broker must confirm deliveries (rabbitmq_broker does)")
    properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
    for attempt in (1, 2):      # a dropped idle connection: reconnect once and publish again
        try:
            broker.emit_before("enqueue", message, None)
            broker.channel.basic_publish(INTAKE_EXCHANGE, route.queue, message.encode(), properties, mandatory=True)
            broker.emit_after("enqueue", message, None)
            return message
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            del broker.connection   # dramatiq's deleter drops the channel with it
            if attempt == 2 or isinstance(exc, _NOT_TRANSIENT):
                raise ConnectionClosed(exc) from None
    return message   # not reached: the second attempt returns or raises


def declare_intake(broker: dramatiq.Broker, queues: tuple[str, ...]) -> None:
    """The centre's side of the intake: the intake exchange and, for each of `queues` that outside parties send
    to, the queue (as the worker's dramatiq declares it) bound with its name as routing key. Idempotent; a worker
    runs it at boot for the queues it consumes (definitions.json declares the same on a production broker)."""
    routes = [route for route in INTAKE_ROUTES if route.queue in queues]
    if not routes or not isinstance(broker, RabbitmqBroker):
        return
    for route in routes:
        broker.declare_queue(route.queue, ensure=True)
    channel = broker.channel
    channel.exchange_declare(INTAKE_EXCHANGE, exchange_type="topic", durable=True)
    for route in routes:
        channel.queue_bind(route.queue, INTAKE_EXCHANGE, routing_key=route.queue)


#: Per-delivery outcome (ok, refused, retried, dead_lettered), duration in seconds, in-progress gauge and
#: end-to-end latency: defined with the metrics. Listed before `Retries` (runtime.worker_middleware).
WorkerMetrics = metrics.WorkerMetrics  # re-exported: runtime and tests import it from here


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
