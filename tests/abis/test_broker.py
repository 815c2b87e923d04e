"""End to end over RabbitMQ: `papilla abis serve` answers MOSIP requests from its request queue.

20 synthetic people inserted from CBEFF documents served on 127.0.0.1, one identified by a new impression
with targetFPIR, one deleted, referenceCount consistent before and after; every response on the requester's
reply queue, correlated by requestId, valid against the specification's response schemas.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jsonschema
import pika
import pytest

from tests.helpers.abis import FIXTURES, SERVICE, Vhost, cbeff_server, open_partner_centre, person_cbeff, request

pytestmark = pytest.mark.broker
PEOPLE = 20
REPLIES = "mosip-test-replies"
SCHEMAS = {op: json.loads((FIXTURES / "spec" / "schemas" / f"{name}_response.json").read_text())
           for op, name in (("insert", "insert"), ("identify", "identify"), ("delete", "delete"),
                            ("referenceCount", "reference_count"), ("pendingJobs", "pending_jobs"), ("ping", "ping"))}


def _replies(channel, expected: int, deadline_s: float) -> dict[str, dict]:
    """Replies by correlation id, until `expected` arrived (or the deadline: the test then fails on the count)."""
    out, deadline = {}, time.monotonic() + deadline_s
    while len(out) < expected and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(REPLIES, auto_ack=True)
        if method is None:
            channel.connection.process_data_events(time_limit=0.2)
            continue
        out[properties.correlation_id] = json.loads(body)
    return out


def test_insert_identify_delete_over_the_broker(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_ABIS_SERVICE", SERVICE)
    monkeypatch.setenv("PAPILLA_ABIS_PRINCIPAL", "mosip-supervisor")
    monkeypatch.setenv("PAPILLA_ABIS_LEGAL_BASIS", "public_service_authentication")
    open_partner_centre().close()
    documents = [person_cbeff(person) for person in range(100, 100 + PEOPLE)]
    probe = person_cbeff(105, impression_seed=1)          # person 105 again, another impression
    deleted_probe = person_cbeff(107, impression_seed=1)
    with Vhost() as url, cbeff_server() as server:
        urls = [server.add(doc) for doc in documents]
        requests = [request("insert", f"ins-{i}", referenceId=f"ref-{i}", referenceURL=u) for i, u in enumerate(urls)]
        requests += [request("referenceCount", "count-1"),
                     request("identify", "idn-1", referenceURL=server.add(probe),
                             flags={"targetFPIR": "40", "maxResults": "5"}),
                     request("delete", "del-1", referenceId="ref-7"),
                     request("referenceCount", "count-2"),
                     request("identify", "idn-2", referenceURL=server.add(deleted_probe), flags={"targetFPIR": 40}),
                     request("pendingJobs", "pending-1"), request("ping", "ping-1")]
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare(REPLIES, durable=True)
        channel.queue_declare("mosip.abis.request", durable=True)
        channel.confirm_delivery()
        for doc in requests:
            channel.basic_publish("", "mosip.abis.request", json.dumps(doc).encode(),
                                  pika.BasicProperties(reply_to=REPLIES, delivery_mode=2))
        env = dict(os.environ, PAPILLA_BROKER_URL=url)
        serve = subprocess.Popen([sys.executable, "-m", "papilla.cli", "abis", "serve",
                                  "--max-messages", str(len(requests))], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            replies = _replies(channel, len(requests), deadline_s=600)
            assert serve.wait(timeout=60) == 0
        finally:
            if serve.poll() is None:
                serve.kill()
            _, err = serve.communicate(timeout=30)
            connection.close()
        assert len(replies) == len(requests), err.decode()[-2000:]
        assert len(server.fetched) == PEOPLE + 2
    for doc in requests:
        reply = replies[doc["requestId"]]
        jsonschema.validate(reply, SCHEMAS[doc["id"].split(".")[-1]])
        assert reply["requestId"] == doc["requestId"] and reply["returnValue"] == "1", reply
    assert replies["count-1"]["count"] == str(PEOPLE)
    assert [c["referenceId"] for c in replies["idn-1"]["candidateList"]["candidates"]] == ["ref-5"]
    assert int(replies["idn-1"]["candidateList"]["candidates"][0]["analytics"]["scaledScore"]) >= 40
    assert replies["count-2"]["count"] == str(PEOPLE - 1)
    assert replies["idn-2"]["candidateList"] == {"count": "0", "candidates": []}    # deleted: not found again
    assert replies["pending-1"]["jobscount"] == "2"     # itself (in hand) and the ping queued behind it
