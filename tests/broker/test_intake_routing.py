"""The station's outbox publishes through the intake exchange only, on the shared broker (a throwaway vhost).

Before the centre has declared its intake (no worker ran on a fresh broker, no definitions), a packet cannot be
routed: it stays in the spool with the error recorded, and leaves on the next flush once a worker has declared
the intake at boot. It lands on `papilla.enroll` and nowhere else, and the station declared no queue itself.
"""
from __future__ import annotations

import base64
import dataclasses
import subprocess

import pika
import pytest

from papilla.services.capture.outbox import Outbox
from papilla.services.capture.spool import spool_facts
from papilla.shared.broker import declare_intake, rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.routing import ENROLL, ROLE_QUEUES

pytestmark = pytest.mark.broker


def queue_counts(url: str) -> dict[str, int]:
    """Messages per queue of the vhost of `url` (ready plus unacknowledged), from rabbitmqctl."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", url.rsplit("/", 1)[1], "--no-table-headers",
                          "name", "messages"], check=True, capture_output=True, text=True, timeout=60).stdout
    return {name: int(count) for name, count in (line.split() for line in out.splitlines() if len(line.split()) == 2)}


def test_a_packet_waits_in_the_spool_until_the_centre_has_declared_its_intake(tmp_path, bare_vhost):
    url = bare_vhost
    settings = dataclasses.replace(Settings.from_env(), broker_url=url)
    station_broker = rabbitmq_broker(settings)
    outbox = Outbox(tmp_path / "spool", station_broker)
    outbox.put("st-intake-1-0001", b"sealed packet stand-in")
    assert outbox.flush() == 0 and len(outbox.pending()) == 1       # no intake exchange yet: kept
    assert spool_facts("st-intake-1", outbox.spool_dir).last_error is not None
    assert queue_counts(url) == {}                                   # the station declared nothing
    worker_broker = rabbitmq_broker(settings)
    declare_intake(worker_broker, ROLE_QUEUES["extract"])           # what `papilla worker extract` does at boot
    worker_broker.close()
    assert outbox.flush() == 1 and outbox.pending() == []
    counts = queue_counts(url)
    assert counts[ENROLL.queue] == 1 and sum(counts.values()) == 1
    connection = pika.BlockingConnection(pika.URLParameters(url))
    method, _, body = connection.channel().basic_get(ENROLL.queue, auto_ack=True)
    assert method.exchange == "papilla.intake" and method.routing_key == ENROLL.queue
    assert base64.b64encode(b"sealed packet stand-in") in body
    connection.close()
    station_broker.close()
