"""Queue length limits: a full queue dead-letters its oldest message instead of dropping it.

On the node loaded with the shipped definitions (tests/ops/conftest.py): the policies of definitions.json are
the ones in force on the work and results queues; a results queue nobody reads stops at its limit and moves the
oldest results to `papilla.overflow.results` (sealed, readable by the centre's administrators only); a quorum
work queue over its limit moves the oldest message to its `.XQ`, where `papilla dlq sweep-parked` records it.
"""
from __future__ import annotations

import json
import time

import pytest

from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.results import ResultPublisher
from papilla.shared.routing import ENROLL, RESULTS_OVERFLOW_QUEUE, results_queue
from tests.helpers.rabbit_node import INFRA, PASSWORD, channel, connect, message_count, settings_for

pytestmark = pytest.mark.broker


def policy(name: str) -> dict:
    [found] = [p for p in json.loads((INFRA / "definitions.json").read_text())["policies"] if p["name"] == name]
    return found


def wait_for(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def take_all(ch, queue: str) -> list:
    got = []
    while (message := ch.basic_get(queue, auto_ack=True))[0] is not None:
        got.append(message)
    return got


def test_the_shipped_limits_are_in_force_on_work_and_results_queues(node):
    out = node.ctl("list_queues", "-p", "papilla", "--no-table-headers", "name", "policy").stdout
    policies = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    for queue in ("papilla.enroll", "papilla.request", "papilla.match", "papilla.lifecycle", "papilla.command",
                  "papilla.enroll.DQ"):
        assert policies[queue] == "papilla-work-queues", queue
    assert policies["papilla.results.st-example-01"] == policies["papilla.results.svc-example"] == "papilla-results-queues"
    work = policy("papilla-work-queues")["definition"]
    assert work["overflow"] == "drop-head" and work["max-length"] > 0 and work["delivery-limit"] == 20


def test_a_results_queue_nobody_reads_dead_letters_its_oldest_results_past_the_limit(node):
    limit, queue = policy("papilla-results-queues")["definition"]["max-length"], results_queue("svc-example")
    for name in (queue, RESULTS_OVERFLOW_QUEUE):
        node.ctl("purge_queue", "-p", "papilla", name)
    publisher = ResultPublisher(node.url("papilla-extract", PASSWORD))   # confirmed, as the workers publish
    started = time.monotonic()
    for n in range(limit + 3):
        publisher.publish("svc-example", f"result-{n}".encode())
    publisher.close()
    print(f"{limit + 3} confirmed results in {time.monotonic() - started:.1f} s")
    assert wait_for(lambda: message_count(node, RESULTS_OVERFLOW_QUEUE) == 3), message_count(node, RESULTS_OVERFLOW_QUEUE)
    assert message_count(node, queue) == limit
    admin = channel(node, "papilla-admin")
    overflow = take_all(admin, RESULTS_OVERFLOW_QUEUE)
    assert [body for _, _, body in overflow] == [b"result-0", b"result-1", b"result-2"]   # the oldest, kept
    death = overflow[0][1].headers["x-death"][0]
    assert death["reason"] == "maxlen" and death["queue"] == queue
    party = connect(node, "svc-example").channel()
    assert party.basic_get(queue, auto_ack=True)[2] == b"result-3"    # the service still reads the rest in order
    party.connection.close()
    node.ctl("purge_queue", "-p", "papilla", queue)


def test_a_full_quorum_work_queue_dead_letters_its_oldest_message_to_its_xq(node, monkeypatch):
    """The shipped work-queue policy with only its length lowered (100 000 packets would take minutes to send),
    on a vhost of this test: the quorum queue, its dead-letter arguments and the overflow mode are the real ones."""
    vhost, shipped = "overflow-check", policy("papilla-work-queues")
    node.ctl("add_vhost", vhost)
    try:
        node.ctl("set_permissions", "-p", vhost, "papilla-admin", ".*", ".*", ".*")
        node.ctl("set_policy", "-p", vhost, shipped["name"], shipped["pattern"],
                 json.dumps({**shipped["definition"], "max-length": 3}), "--apply-to", "queues")
        broker = rabbitmq_broker(settings_for(node, "papilla-admin", "quorum", monkeypatch, vhost=vhost))
        for n in range(5):
            send(broker, ENROLL, f"packet-{n}")          # declares papilla.enroll as the workers do (quorum, DLX)
        broker.close()
        xq = f"{ENROLL.queue}.XQ"
        assert wait_for(lambda: message_count(node, xq, vhost) == 2), message_count(node, xq, vhost)
        # quorum queues report their length on a stats tick (~5 s), not at once
        assert wait_for(lambda: message_count(node, ENROLL.queue, vhost) == 3), message_count(node, ENROLL.queue, vhost)
        ch = connect(node, "papilla-admin", vhost).channel()
        parked = [json.loads(body)["args"] for _, _, body in take_all(ch, xq)]
        assert parked == [["packet-0"], ["packet-1"]]
        ch.connection.close()
    finally:
        node.ctl("delete_vhost", vhost)
