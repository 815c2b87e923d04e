"""infra/rabbitmq/: the shipped rabbitmq.conf and definitions.json, loaded by a throwaway RabbitMQ node.

The node (tests/ops/conftest.py: own port, node name, HOME and files; the shared broker is never touched)
boots with the shipped settings, with only paths and ports replaced: definitions imported at boot, the TLS
listener with a client certificate, the consumer timeout, and the Prometheus plugin. Then each role's user
does what it must and is refused what it must not: outside parties reach the intake exchange alone, with their
own routing keys, and read their own results queue alone.
"""
from __future__ import annotations

import dataclasses
import json
import re
import ssl
import time
import urllib.parse

import pika
import pytest
from dramatiq.errors import ConnectionClosed

from papilla.shared.broker import (
    CONSUMER_TIMEOUT_MS,
    BrokerUnreachable,
    check_broker,
    declare_intake,
    rabbitmq_broker,
    send,
    send_to_intake,
)
from papilla.shared.config import Settings
from papilla.shared.results import ResultPublisher, ResultsQueueMissing, declare_results_queue, open_results_queue
from papilla.shared.routing import COMMAND, DEDUPLICATE, ENROLL, INTAKE_EXCHANGE, REQUEST, ROLE_QUEUES
from tests.helpers.rabbit_node import INFRA, PASSWORD, channel, connect, refused, settings_for

pytestmark = pytest.mark.broker
REFUSED = "403|ACCESS_REFUSED"


def drain(node, user: str, queue: str) -> list[bytes]:
    """Every message waiting on `queue`, taken (other tests on this node may have left some there)."""
    ch, bodies = channel(node, user), []
    while (got := ch.basic_get(queue, auto_ack=True))[0] is not None:
        bodies.append(got[2])
    ch.connection.close()
    return bodies


def test_definitions_import_work_queues_as_quorum_queues_with_dead_letter_queues(node):
    rows = node.ctl("list_queues", "-p", "papilla", "name", "type", "arguments", "--formatter", "json").stdout
    queues = {q["name"]: q for q in json.loads(rows)}
    for role_queues in ROLE_QUEUES.values():
        for name in role_queues:
            for q in (name, f"{name}.DQ"):
                assert queues[q]["type"] == "quorum", q
                assert ["x-dead-letter-routing-key", "longstr", f"{name}.XQ"] in queues[q]["arguments"], q
            assert queues[f"{name}.XQ"]["type"] == "classic"
    policies = json.loads(node.ctl("list_policies", "-p", "papilla", "--formatter", "json").stdout)
    # a message that crashes its worker on every delivery is dead-lettered after 20, not redelivered forever
    assert any(json.loads(p["definition"]).get("delivery-limit") == 20 for p in policies)


def test_the_intake_exchange_reaches_the_three_queues_outside_parties_send_to_and_nothing_else(node):
    rows = node.ctl("list_bindings", "-p", "papilla", "source_name", "destination_name", "routing_key",
                    "--formatter", "json").stdout
    intake = {(b["destination_name"], b["routing_key"]) for b in json.loads(rows) if b["source_name"] == INTAKE_EXCHANGE}
    assert intake == {(route.queue, route.queue) for route in (ENROLL, REQUEST, COMMAND)}


def test_consumer_timeout_is_above_the_longest_retry_and_message(node):
    timeout_ms = int(re.search(r"\{ok,(\d+)\}", node.ctl("eval", "application:get_env(rabbit, consumer_timeout).").stdout)[1])
    assert timeout_ms >= CONSUMER_TIMEOUT_MS and timeout_ms > 10 * 60 * 1000  # > TimeLimit and > max backoff cap


def test_dramatiq_needs_the_quorum_setting_to_declare_the_shipped_queues(node, monkeypatch):
    classic = rabbitmq_broker(settings_for(node, "papilla-extract", "classic", monkeypatch))
    with pytest.raises(Exception, match="PRECONDITION_FAILED|inequivalent arg"):
        send(classic, ENROLL, "x")
    classic.close()


def test_a_station_sends_packets_through_the_intake_exchange_and_nothing_else(node, monkeypatch):
    broker = rabbitmq_broker(settings_for(node, "st-example-01", "quorum", monkeypatch))
    send_to_intake(broker, ENROLL, "sealed-packet-stand-in")   # confirmed: returns once RabbitMQ has it
    assert any(b"sealed-packet-stand-in" in body for body in drain(node, "papilla-extract", ENROLL.queue))
    for route in (REQUEST, COMMAND):     # a service's routing keys: refused by the station's topic permissions
        with pytest.raises(ConnectionClosed, match=REFUSED):
            send_to_intake(broker, route, "not-a-packet")
    broker.close()
    assert refused(lambda: channel(node, "st-example-01").basic_get(ENROLL.queue))       # no reading packets
    assert refused(lambda: channel(node, "st-example-01").queue_delete(DEDUPLICATE.queue))
    assert refused(lambda: channel(node, "st-example-01").queue_declare("papilla.results.st-extra"))
    assert refused(lambda: channel(node, "st-example-01").exchange_declare("st-own", exchange_type="fanout"))
    # the extract worker receives packets; the match worker may not read the intake queue
    assert refused(lambda: channel(node, "papilla-match").basic_get(ENROLL.queue))
    assert refused(lambda: channel(node, "papilla-extract").basic_get("papilla.results.st-example-01"))


def test_a_service_sends_requests_and_commands_but_no_packets(node, monkeypatch):
    broker = rabbitmq_broker(settings_for(node, "svc-example", "quorum", monkeypatch))
    send_to_intake(broker, REQUEST, "sealed-request-stand-in")
    send_to_intake(broker, COMMAND, "sealed-command-stand-in")
    with pytest.raises(ConnectionClosed, match=REFUSED):
        send_to_intake(broker, ENROLL, "sealed-packet-stand-in")
    broker.close()
    assert any(b"sealed-request-stand-in" in body for body in drain(node, "papilla-extract", REQUEST.queue))
    assert any(b"sealed-command-stand-in" in body for body in drain(node, "papilla-lifecycle", COMMAND.queue))


def test_a_station_cannot_put_messages_on_internal_queues(node):
    ch = channel(node, "st-example-01")
    ch.confirm_delivery()
    assert refused(lambda: ch.basic_publish("", "papilla.lifecycle", b'{"forged": true}'))      # amq.default
    ch = channel(node, "st-example-01")
    ch.confirm_delivery()
    assert refused(lambda: ch.basic_publish(INTAKE_EXCHANGE, "papilla.lifecycle", b'{"forged": true}'))
    ch = channel(node, "st-example-01")
    ch.confirm_delivery()
    assert refused(lambda: ch.basic_publish("papilla.results", "svc-example", b'{"forged": "result"}'))


def test_a_station_cannot_bind_its_queue_to_another_senders_results(node):
    ch = channel(node, "st-example-01")
    assert refused(lambda: ch.queue_bind("papilla.results.st-example-01", "papilla.results", routing_key="svc-example"))
    assert refused(lambda: channel(node, "st-example-01").queue_bind("papilla.results.st-example-01", INTAKE_EXCHANGE,
                                                                     routing_key="papilla.#"))
    assert refused(lambda: channel(node, "st-example-01").basic_get("papilla.results.svc-example"))
    assert refused(lambda: declare_results_queue(channel(node, "st-example-01"), "svc-example"))


def test_a_party_opens_the_results_queue_the_centre_declared_and_gets_its_results(node):
    publisher = ResultPublisher(node.url("papilla-extract", PASSWORD))
    publisher.publish("st-example-01", b"sealed-result-stand-in")
    publisher.close()
    connection = connect(node, "st-example-01")
    ch, queue = open_results_queue(connection, "st-example-01")     # a passive declare: nothing created
    bodies = []
    while (got := ch.basic_get(queue, auto_ack=True))[0] is not None:
        bodies.append(got[2])
    assert b"sealed-result-stand-in" in bodies
    with pytest.raises(ResultsQueueMissing, match="papilla centre broker-user st-nobody"):
        open_results_queue(connection, "st-nobody")                  # no queue, and not allowed to make one
    connection.close()


def test_each_worker_role_can_declare_and_send_what_its_actors_send(node, monkeypatch):
    for user in ("papilla-extract", "papilla-lifecycle"):
        broker = rabbitmq_broker(settings_for(node, user, "quorum", monkeypatch))
        declare_intake(broker, ROLE_QUEUES[user.split("-")[1]])   # what `papilla worker ROLE` does at boot
        send(broker, DEDUPLICATE, "enrollment-id")
        broker.close()
    ch = channel(node, "papilla-match")
    assert ch.basic_get("papilla.match", auto_ack=True)[0] is not None
    assert refused(lambda: channel(node, "papilla-match").basic_get("papilla.lifecycle.XQ"))


def tls_parameters(node, user: str, context: ssl.SSLContext) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(host="127.0.0.1", port=node.ssl_port, virtual_host="papilla",
                                     connection_attempts=1, credentials=pika.PlainCredentials(user, PASSWORD),
                                     ssl_options=pika.SSLOptions(context, "localhost"))


def test_tls_listener_takes_a_client_certificate_and_carries_a_station_packet(node):
    context = ssl.create_default_context(cafile=str(node.tls["ca"]))
    context.load_cert_chain(str(node.tls["station_cert"]), str(node.tls["station_key"]))
    connection = pika.BlockingConnection(tls_parameters(node, "st-example-01", context))
    ch = connection.channel()
    ch.confirm_delivery()
    ch.basic_publish(INTAKE_EXCHANGE, ENROLL.queue, b"packet-over-tls", mandatory=True)   # confirmed over TLS
    connection.close()
    assert b"packet-over-tls" in drain(node, "papilla-extract", ENROLL.queue)
    bare = ssl.create_default_context(cafile=str(node.tls["ca"]))  # no client certificate: refused
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(tls_parameters(node, "st-example-01", bare))
    stranger = ssl.create_default_context()      # the system's CAs only: the test CA's server is not trusted
    stranger.load_cert_chain(str(node.tls["station_cert"]), str(node.tls["station_key"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        pika.BlockingConnection(tls_parameters(node, "st-example-01", stranger))


def tls_url(node, user: str, **files) -> str:
    """An `amqps://` PAPILLA_BROKER_URL as docs/operations.md gives it: pika's `ssl_options` query argument names the
    CA, the party's certificate and key, and the name on the broker's certificate."""
    options = {"ca_certs": str(node.tls["ca"]), "server_hostname": "localhost",
               **{name: str(path) for name, path in files.items()}}
    return (f"amqps://{user}:{PASSWORD}@127.0.0.1:{node.ssl_port}/papilla"
            f"?ssl_options={urllib.parse.quote(repr(options))}")


def test_a_station_configured_with_an_amqps_url_sends_and_opens_its_results_over_tls(node):
    url = tls_url(node, "st-example-01", certfile=node.tls["station_cert"], keyfile=node.tls["station_key"])
    check_broker(url)                                   # what every station command does first
    broker = rabbitmq_broker(dataclasses.replace(Settings.from_env(), broker_url=url, queue_type="quorum"))
    send_to_intake(broker, ENROLL, "packet-over-amqps")
    broker.close()
    assert any(b"packet-over-amqps" in body for body in drain(node, "papilla-extract", ENROLL.queue))
    connection = pika.BlockingConnection(pika.URLParameters(url))
    assert open_results_queue(connection, "st-example-01")[1] == "papilla.results.st-example-01"
    connection.close()
    with pytest.raises(BrokerUnreachable) as err:       # no client certificate configured: one sentence
        check_broker(tls_url(node, "st-example-01"))
    assert PASSWORD not in str(err.value)


def test_prometheus_plugin_exports_the_queue_series_the_alerts_use(node, monkeypatch):
    broker = rabbitmq_broker(settings_for(node, "st-example-01", "quorum", monkeypatch))
    send_to_intake(broker, ENROLL, "waiting")
    broker.close()
    path = "/metrics/detailed?vhost=papilla&family=queue_coarse_metrics&family=queue_consumer_count"
    ready = re.compile(r'^rabbitmq_detailed_queue_messages_ready\{vhost="papilla",queue="papilla.enroll"\} (\S+)$', re.M)

    def backlog_seen():  # quorum queues report on their tick (~5 s here), not at once
        found = ready.search(node.scrape(path))
        return found and float(found[1]) >= 1
    deadline = time.monotonic() + 60
    while not backlog_seen():
        assert time.monotonic() < deadline, "papilla.enroll's backlog never appeared in /metrics/detailed"
        time.sleep(0.5)
    text = node.scrape(path)
    assert re.search(r'^rabbitmq_detailed_queue_consumers\{vhost="papilla",queue="papilla.match"\} 0', text, re.M)
    rules = (INFRA.parent / "prometheus" / "papilla-rules.yml").read_text()
    assert "rabbitmq_detailed_queue_messages_ready" in rules and "rabbitmq_detailed_queue_consumers" in rules
