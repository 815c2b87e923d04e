"""Every message that leaves the pipeline unanswered gets one dead letter and, when the sender is known, one
answer (issue 8, defect 2): refused, failed after its last retry, undecodable. Over the real RabbitMQ, with
dramatiq's own worker and the middleware order the workers use."""
from __future__ import annotations

import json
import logging
import time

import dramatiq
import pika
import pytest

from papilla.services.workers import runtime
from papilla.shared import deadletters, wire
from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.errors import Refusal
from papilla.shared.outcomes import ReplyTarget, UnansweredMessages
from papilla.shared.broker import WorkerMetrics
from papilla.shared.results import MemoryResultSink, stored_result
from papilla.shared.routing import Route
from papilla.shared.store.base import StoreError

from tests.helpers.harness import Vhost, rabbit_reachable

pytestmark = pytest.mark.broker
FLAKY = Route("papilla.test-outcomes", "always_fails")
REFUSING = Route("papilla.test-outcomes", "always_refuses")
SECRET_ARG = "870101300123-Aigerim-packet-bytes"


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def pipeline(tmp_path, monkeypatch, caplog):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    with Vhost() as url:
        monkeypatch.setenv("PAPILLA_BROKER_URL", url)
        monkeypatch.setenv("PAPILLA_MAX_RETRIES", "2")
        monkeypatch.setenv("PAPILLA_MIN_BACKOFF_MS", "10")
        settings = Settings.from_env()
        init_centre(settings)
        centre = Centre.open(settings, publisher=MemoryResultSink())

        def target(message, exception):
            return ReplyTarget(f"req-{message.message_id}", "svc-test", "identify", "svc-test")

        broker = rabbitmq_broker(settings, [dramatiq.middleware.CurrentMessage()],
                                 first_middleware=[UnansweredMessages(lambda: centre, target), WorkerMetrics()])
        dramatiq.set_broker(broker)

        @dramatiq.actor(broker=broker, actor_name=FLAKY.actor, queue_name=FLAKY.queue, throws=runtime.REFUSALS)
        def always_fails(n: str) -> None:
            raise RuntimeError("the store is locked")

        @dramatiq.actor(broker=broker, actor_name=REFUSING.actor, queue_name=REFUSING.queue, throws=runtime.REFUSALS)
        def always_refuses(n: str) -> None:
            raise Refusal("the subject's data is blocked", code="subject_blocked", rule="Law Art.9")

        runtime.declare_undecodable(broker)
        wire.redact_messages([caplog.handler])
        worker = dramatiq.Worker(broker, worker_threads=2)
        worker.start()
        try:
            yield dict(broker=broker, centre=centre, url=url)
        finally:
            worker.stop()
            broker.close()
            centre.close()


def dead(centre, reason=None):
    return centre.store.find("dead_letters", {"reason": reason} if reason else {})


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_exhausted_retries_leave_a_dead_letter_and_a_failed_answer(pipeline, caplog):
    centre = pipeline["centre"]
    for n in range(5):
        send(pipeline["broker"], FLAKY, f"{SECRET_ARG}-{n}")
    assert wait_until(lambda: len(dead(centre, "exhausted_retries")) == 5
                      and all(stored_result(centre.store, d["request_id"]) for d in dead(centre)))
    letter = dead(centre)[0]
    assert "RuntimeError in each of 3 attempts" in letter["detail"] and letter["queue"] == FLAKY.queue
    assert {d["state"] for d in dead(centre)} == {"dead"}   # failures wait for an operator (the unresolved gauge)
    answer = stored_result(centre.store, letter["request_id"])
    assert answer.status == "FAILED" and answer.reason == "exhausted_retries" and answer.kind == "identify"
    assert queue_depth(pipeline["url"], FLAKY.queue + ".XQ") == 0      # recorded, so not parked in .XQ
    assert SECRET_ARG not in caplog.text and SECRET_ARG.encode() not in json.dumps(
        [dict(d, body=None) for d in dead(centre)]).encode()


def test_a_refusal_is_recorded_once_answered_with_its_kind_and_rule_and_not_retried(pipeline, caplog):
    centre = pipeline["centre"]
    send(pipeline["broker"], REFUSING, SECRET_ARG)
    assert wait_until(lambda: len(dead(centre, "subject_blocked")) == 1
                      and stored_result(centre.store, dead(centre)[0]["request_id"]) is not None)
    letter = dead(centre)[0]
    assert letter["state"] == "refused"   # answered to its sender: not an operator's unresolved dead letter
    assert letter["rule"] == "Law Art.9" and letter["body"]["ct"] and SECRET_ARG.encode() not in letter["body"]["ct"]
    answer = stored_result(centre.store, letter["request_id"])
    assert (answer.status, answer.reason, answer.kind, answer.rule) == ("REFUSED", "subject_blocked", "identify",
                                                                        "Law Art.9")
    assert "Retrying" not in caplog.text and SECRET_ARG not in caplog.text


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "malformed_message"),
    (b"\xff\xfe\x00binary", "malformed_message"),
    (json.dumps({"queue_name": "papilla.test-outcomes", "actor_name": "always_refuses"}).encode(), "malformed_message"),
    (json.dumps({"queue_name": "papilla.test-outcomes", "actor_name": "no_such_actor", "args": [], "kwargs": {},
                 "options": {}, "message_id": "m-1", "message_timestamp": 1}).encode(), "unknown_actor"),
    (json.dumps({"queue_name": "papilla.test-outcomes", "actor_name": "always_refuses", "args": [1, 2, 3],
                 "kwargs": {}, "options": {}, "message_id": "m-2", "message_timestamp": 1}).encode(),
     "malformed_message"),
    (json.dumps({"queue_name": "papilla.test-outcomes", "actor_name": "always_refuses", "args": [["x"]],
                 "kwargs": {}, "options": {}, "message_id": "m-3", "message_timestamp": 1}).encode(),
     "malformed_message"),
])
def test_raw_bodies_that_are_not_messages_are_recorded_not_parked(pipeline, body, reason, caplog):
    centre = pipeline["centre"]
    pipeline["broker"].declare_queue(FLAKY.queue, ensure=True)   # exists before the raw publish
    connection = pika.BlockingConnection(pika.URLParameters(pipeline["url"]))
    connection.channel().basic_publish("", FLAKY.queue, body)
    connection.close()
    assert wait_until(lambda: len(dead(centre, reason)) == 1), [(d["reason"], d["queue"]) for d in dead(centre)]
    assert queue_depth(pipeline["url"], FLAKY.queue + ".XQ") == 0
    assert queue_depth(pipeline["url"], FLAKY.queue) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_middleware_sits_where_retries_has_already_decided():
    settings = Settings.from_env()
    first, _ = runtime.worker_middleware()
    broker = rabbitmq_broker(settings, first_middleware=first)
    kinds = [type(m).__name__ for m in broker.middleware]
    assert kinds.index("UnansweredMessages") < kinds.index("Retries")
    assert kinds.index("WorkerMetrics") < kinds.index("Retries")
    broker.close()


def test_a_refusal_met_while_the_store_is_down_is_recorded_and_answered_once_it_is_back(pipeline, monkeypatch):
    """Found by the fault suite: a refusal during a store lock was left on .XQ with no record and no answer."""
    centre = pipeline["centre"]
    real, outage = deadletters.record, iter([True, True])

    def locked_twice(*args, **kwargs):
        if next(outage, False):
            raise StoreError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(deadletters, "record", locked_twice)
    send(pipeline["broker"], REFUSING, SECRET_ARG)
    assert wait_until(lambda: len(dead(centre, "subject_blocked")) == 1
                      and stored_result(centre.store, dead(centre)[0]["request_id"]) is not None)
    assert next(outage, "spent") == "spent"
    assert queue_depth(pipeline["url"], REFUSING.queue + ".XQ") == 0
