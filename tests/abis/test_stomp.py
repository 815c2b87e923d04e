"""An ActiveMQ-speaking client (STOMP, as MOSIP's registration processor speaks to ActiveMQ) drives
`papilla abis serve` through RabbitMQ's STOMP plugin, on a RabbitMQ node of the test's own (the shared node's
plugins are left alone): requests sent to /amq/queue/mosip.abis.request, responses read from
/amq/queue/mosip.abis.response with the requestId as correlation-id."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys

import pytest
import stomp

from tests.helpers.abis import RABBIT_BIN, SERVICE, StompNode, open_partner_centre, request

pytestmark = [pytest.mark.broker,
              pytest.mark.skipif(not (RABBIT_BIN / "rabbitmq-server").exists(), reason="RabbitMQ not installed")]


class Replies(stomp.ConnectionListener):
    def __init__(self):
        self.frames = queue.Queue()

    def on_message(self, frame):
        self.frames.put((frame.headers, json.loads(frame.body)))


def test_a_stomp_client_gets_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path / "centre"))
    monkeypatch.setenv("PAPILLA_ABIS_SERVICE", SERVICE)
    monkeypatch.setenv("PAPILLA_ABIS_PRINCIPAL", "mosip-supervisor")
    monkeypatch.setenv("PAPILLA_ABIS_LEGAL_BASIS", "public_service_authentication")
    open_partner_centre().close()
    (tmp_path / "node").mkdir()
    node = StompNode(tmp_path / "node").start()
    serve = None
    try:
        env = dict(os.environ, PAPILLA_BROKER_URL=node.amqp_url)
        serve = subprocess.Popen([sys.executable, "-m", "papilla.cli", "abis", "serve", "--max-messages", "2"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert b"answering" in serve.stderr.readline()     # the adapter declared its queues
        client = stomp.Connection([("127.0.0.1", node.stomp_port)])
        replies = Replies()
        client.set_listener("replies", replies)
        client.connect("guest", "guest", wait=True)
        client.subscribe("/amq/queue/mosip.abis.response", id="1", ack="auto")
        sent = [request("ping", "stomp-ping-1"), request("referenceCount", "stomp-count-1")]
        for doc in sent:
            client.send("/amq/queue/mosip.abis.request", json.dumps(doc), content_type="application/json")
        got = {}
        for _ in sent:
            headers, body = replies.frames.get(timeout=60)
            got[headers["correlation-id"]] = body
        client.disconnect()
        assert serve.wait(timeout=60) == 0
        assert got["stomp-ping-1"]["returnValue"] == "1" and got["stomp-ping-1"]["id"] == "mosip.abis.ping"
        assert got["stomp-count-1"]["count"] == "0"
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
            serve.wait(timeout=30)
        node.stop()
