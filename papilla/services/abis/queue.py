"""The queue adapter: MOSIP ABIS requests from a RabbitMQ queue, responses on the reply queue.

AMQP 0-9-1 with pika (what the rest of Papilla speaks). MOSIP's registration processor talks to ABIS over
ActiveMQ (JMS); it reaches this adapter through RabbitMQ's STOMP plugin (`rabbitmq_stomp`), whose
destination `/amq/queue/NAME` is the AMQP queue NAME, or through any AMQP 0-9-1 client. docs/abis.md says how.

Each request is answered once, on the message's `reply_to` queue when it names one, else on the configured
reply queue, with `correlation_id` = the requestId (the request's own correlation id when it has none) and
the request's message id; the request is acknowledged only after the response was confirmed by the broker,
so a crash in between re-delivers it (insert is idempotent per referenceId: a re-delivered insert answers
"referenceId already exists", which is what MOSIP is told on a retry too).
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

import pika

from . import service
from .domain import AbisContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueParams:
    """Where the adapter listens and answers.

    broker_url:     AMQP URL of the broker (PAPILLA_BROKER_URL)
    request_queue:  the queue MOSIP sends requests to [PAPILLA_ABIS_REQUEST_QUEUE, default mosip.abis.request]
    reply_queue:    the queue responses go to when a request names no reply_to
                    [PAPILLA_ABIS_REPLY_QUEUE, default mosip.abis.response]
    poll_s:         how often the consumer looks at its stop flag while idle (default 0.5 s)
    """

    broker_url: str
    request_queue: str = "mosip.abis.request"
    reply_queue: str = "mosip.abis.response"
    poll_s: float = 0.5


class AbisQueueAdapter:
    def __init__(self, ctx: AbisContext, params: QueueParams):
        self.ctx, self.params = ctx, params
        self.stop = threading.Event()
        self.answered = 0
        self._in_flight = 0
        self._connection = pika.BlockingConnection(pika.URLParameters(params.broker_url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        self._channel.basic_qos(prefetch_count=1)
        for name in (params.request_queue, params.reply_queue):
            self._channel.queue_declare(queue=name, durable=True)
        ctx.pending = self.pending

    def pending(self) -> int:
        """Requests received and not yet answered: waiting in the request queue, plus the one in hand."""
        waiting = self._channel.queue_declare(queue=self.params.request_queue, durable=True, passive=True)
        return int(waiting.method.message_count) + self._in_flight

    def _answer(self, properties, body: bytes) -> None:
        self._in_flight = 1
        try:
            response = service.handle(self.ctx, body)
        finally:
            self._in_flight = 0
        reply_to = properties.reply_to or self.params.reply_queue
        correlation = response.get("requestId") or properties.correlation_id or ""
        self._channel.basic_publish(
            exchange="", routing_key=reply_to, body=json.dumps(response).encode(),
            properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                            correlation_id=correlation, message_id=properties.message_id),
            mandatory=False)

    def run(self, max_messages: int | None = None) -> int:
        """Answer requests until `stop` is set (or `max_messages` were answered); the number answered."""
        for method, properties, body in self._channel.consume(self.params.request_queue,
                                                              inactivity_timeout=self.params.poll_s):
            if method is not None:
                self._answer(properties, body)
                self._channel.basic_ack(method.delivery_tag)
                self.answered += 1
            if self.stop.is_set() or (max_messages is not None and self.answered >= max_messages):
                break
        self._channel.cancel()
        return self.answered

    def close(self) -> None:
        try:
            self._connection.close()
        except pika.exceptions.AMQPError:
            pass
