"""Results to awaiting services: stored once, published to `reply_to`.

dramatiq has no RabbitMQ results backend, so this is ours, on pika: each
result is inserted in the store under its request id (idempotent: a
redelivered request finds it there and publishes nothing new unless the
earlier publish did not complete), then published with publisher confirms
to the direct exchange `papilla.results` with routing key `reply_to`. A
service's durable queue `papilla.results.<reply_to>` (declared and bound by
the centre, `declare_results_queue`; a party only opens it,
`open_results_queue`) keeps results while the service is down; the store
keeps them after the fact, until they expire (`expire_at`,
PAPILLA_RESULTS_RETENTION_DAYS, default 30 days: shared/store/expiry.py).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time

import dramatiq
import pika

from papilla.shared import names

from . import metrics
from .config import ConfigError, operational_retention
from .crypto.sealing import seal
from .messages import Result, encode, parse_result
from .parties import CENTRE_ID
from .routing import RESULTS_EXCHANGE, results_queue
from .store.base import DuplicateKeyError, Store
from .store.expiry import expires_after

log = logging.getLogger(__name__)
COLLECTION = names.RESULTS
#: How long one delivery may hold the right to publish a result before another may take over.
PUBLISH_LEASE_S = 10.0


class ResultBeingPublished(dramatiq.Retry):
    """Another delivery of the same request is publishing its result right now: look again after the lease."""

    def __init__(self, wait_s: float):
        super().__init__("result being published by another delivery", delay=int(max(wait_s, 0.2) * 1000))


class ResultPublisher:
    """Publishes to the results exchange; one confirmed channel per thread, reconnecting when dropped."""

    def __init__(self, broker_url: str):
        self._params = pika.URLParameters(broker_url)
        self._params.heartbeat = 0   # publish-only, idle between results: see broker.PapillaRabbitmqBroker
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


class SealedResults:
    """Seals each result to its requester before publishing: a result is readable by the party it answers alone.

    `reply_to` is bound to the authenticated sender (the intake refuses any other), so the result is sealed
    to that party's registered X25519 key and signed with the centre's Ed25519 key (the same sealed format
    as packets, with the centre as sender): a queue bound to another party's routing key receives only
    ciphertext, and a forged result fails its signature. A refusal to a party with no registered key (an
    unknown sender) carries only a request id and a reason code: it is published as is, so the sender
    learns why instead of timing out.
    """

    def __init__(self, inner, senders, signing_key):
        self.inner = inner
        self._senders = senders
        self._signing_key = signing_key

    def publish(self, reply_to: str, body: bytes) -> None:
        record = self._senders.get(reply_to)
        result = parse_result(body)
        if record is not None and record.box_key is not None:
            # a random id in the (clear) seal header: the request id stays inside the ciphertext
            self.inner.publish(reply_to, seal(body, sender_id=CENTRE_ID, packet_id=f"res-{secrets.token_hex(12)}",
                                              signing_key=self._signing_key, centre_public=record.box_key))
        elif result.status == "REFUSED":
            self.inner.publish(reply_to, body)
        else:
            log.warning("result %s not published: %s has no registered key (kept in the store)",
                        result.request_id, reply_to)

    @property
    def published(self):   # the in-process sink's record, for the demo and tests
        return self.inner.published

    def close(self) -> None:
        self.inner.close()


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
    """Store `result` once and publish it once; return the stored result (the first one wins).

    Concurrent deliveries of one request (a redelivered message running beside
    the original) are serialized by a publish lease in the result document:
    the holder publishes, the others retry after the lease and then find it
    published. A holder that crashed loses the lease and a redelivery takes
    over, so a result is never left unpublished; at worst (crash between
    publish and the `published` mark) it is published twice, and waiters
    keep the first copy per request id.
    """
    now = time.time()
    doc = {"_id": result.request_id, "reply_to": reply_to, "published": False, "claim": now, "body": encode(result),
           "expire_at": expires_after(operational_retention().results_days)}
    try:
        store.insert(COLLECTION, doc)
        metrics.count_result(result.kind, result.status)
    except DuplicateKeyError:
        doc = store.get(COLLECTION, result.request_id)
        if doc["published"]:
            return parse_result(doc["body"])
        held_for = now - doc["claim"]
        if held_for < PUBLISH_LEASE_S:
            raise ResultBeingPublished(PUBLISH_LEASE_S - held_for) from None
        taken = store.update(COLLECTION, {"_id": result.request_id, "published": False, "claim": doc["claim"]},
                             set={"claim": now})
        if not taken:
            raise ResultBeingPublished(PUBLISH_LEASE_S) from None
    if reply_to:
        publisher.publish(reply_to, doc["body"])
    store.update(COLLECTION, {"_id": result.request_id}, set={"published": True})
    return parse_result(doc["body"])


def stored_result(store: Store, request_id: str) -> Result | None:
    doc = store.get(COLLECTION, request_id)
    return parse_result(doc["body"]) if doc else None


def declare_results_queue(channel, reply_to: str) -> str:
    """The centre's side: the durable results queue of one party, bound to the results exchange with the party's
    id as routing key. Run at registration (`papilla centre register-…`, as a broker user that may configure
    results queues); definitions.json does the same for its template parties. Parties never bind: their broker
    users may not read the results exchange, so none can bind a queue to another party's routing key."""
    channel.exchange_declare(RESULTS_EXCHANGE, exchange_type="direct", durable=True)
    name = results_queue(reply_to)
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, RESULTS_EXCHANGE, routing_key=reply_to)
    return name


def prepare_party_results(broker_url: str, party_id: str) -> str:
    """Declare `party_id`'s results queue and binding on the broker at `broker_url` (the centre's user); returns
    the queue's name. Raises pika's AMQPError when the broker is out of reach or refuses."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        return declare_results_queue(connection.channel(), party_id)
    finally:
        connection.close()


def open_results_queue(connection, reply_to: str):
    """The party's side: (a channel on `connection`, the name of this party's results queue), found by a passive
    declare (no permission needed, nothing created). A queue the centre has not declared yet is declared here
    only where the broker lets this user do it (a development broker with one user for all); a party user with
    the shipped permissions is refused, and this says what to do."""
    name = results_queue(reply_to)
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
        return channel, name
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise
    channel = connection.channel()
    try:
        declare_results_queue(channel, reply_to)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 403:
            raise
        raise ResultsQueueMissing(f"the broker has no results queue {name}: the centre declares it when it registers "
                                  f"{reply_to} (`papilla centre broker-user {reply_to}`)") from None
    return channel, name


class ResultsQueueMissing(ConfigError):
    """This party's results queue does not exist and its broker user may not create it: the centre has not set
    the party up at its broker yet."""


def answer_job(store: Store, publisher, request_id: str, compute, jobs: str = names.JOBS) -> tuple[Result | None, dict | None]:
    """Answer the stored job `request_id` once: compute its result only if none is stored, and (re)publish.

    Returns (result, job); job is None when it was already answered and removed,
    so the caller cleans up only what is still there.
    """
    done = stored_result(store, request_id)
    job = store.get(jobs, request_id)
    if job is None:
        return done, None
    return deliver(store, publisher, done or compute(job), job["reply_to"]), job
