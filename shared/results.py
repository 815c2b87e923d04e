"""Results to awaiting services: stored once, published to `reply_to`.

dramatiq has no RabbitMQ results backend, so this is ours, on pika: each
result is inserted in the store under its request id (idempotent: a
redelivered request finds it there and publishes nothing new unless the
earlier publish did not complete), then published with publisher confirms
to the direct exchange `papilla.results` with routing key `reply_to`. A
service's durable queue `papilla.results.<reply_to>` keeps results while
the service is down; the store keeps them after the fact.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import pika

from . import metrics
from .messages import Result, encode, parse_result
from .routing import RESULTS_EXCHANGE, results_queue
from .store.base import DuplicateKeyError, Store

log = logging.getLogger(__name__)
COLLECTION = "results"


class ResultPublisher:
    """Publishes to the results exchange; one confirmed channel per thread, reconnecting when dropped."""

    def __init__(self, broker_url: str):
        self._params = pika.URLParameters(broker_url)
        self._local = threading.local()

    def _channel(self):
        channel = getattr(self._local, "channel", None)
        if channel is None or channel.is_closed or channel.connection.is_closed:
            connection = pika.BlockingConnection(self._params)
            channel = connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(RESULTS_EXCHANGE, exchange_type="direct", durable=True)
            self._local.channel = channel
        return channel

    def publish(self, reply_to: str, body: bytes) -> None:
        for attempt in (1, 2):
            try:
                self._channel().basic_publish(
                    RESULTS_EXCHANGE, reply_to, body,
                    pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json"),
                )
                return
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
                self._local.channel = None  # dropped idle connection: reconnect once and re-send
                if attempt == 2:
                    raise

    def close(self) -> None:
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.connection.is_open:
            channel.connection.close()


class MemoryResultSink:
    """For the in-process demo only: published results kept in a dict per reply_to."""

    def __init__(self):
        self.published: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()

    def publish(self, reply_to: str, body: bytes) -> None:
        with self._lock:
            self.published.setdefault(reply_to, []).append(body)

    def close(self) -> None:
        pass


def deliver(store: Store, publisher, result: Result, reply_to: str | None) -> Result:
    """Store `result` once and publish it once; return the stored result (the first one wins)."""
    doc = {"_id": result.request_id, "reply_to": reply_to, "published": False, "body": encode(result)}
    try:
        store.insert(COLLECTION, doc)
        metrics.RESULTS.labels(result.kind, result.status).inc()
    except DuplicateKeyError:
        doc = store.get(COLLECTION, result.request_id)
        if doc["published"]:
            return parse_result(doc["body"])
    if reply_to:
        publisher.publish(reply_to, doc["body"])
    store.update(COLLECTION, {"_id": result.request_id}, set={"published": True})
    return parse_result(doc["body"])


def stored_result(store: Store, request_id: str) -> Result | None:
    doc = store.get(COLLECTION, request_id)
    return parse_result(doc["body"]) if doc else None


def declare_results_queue(channel, reply_to: str) -> str:
    """Durable queue for one awaiting service, bound to its routing key."""
    channel.exchange_declare(RESULTS_EXCHANGE, exchange_type="direct", durable=True)
    name = results_queue(reply_to)
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, RESULTS_EXCHANGE, routing_key=reply_to)
    return name
