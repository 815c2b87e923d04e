"""A user per registered party: `papilla centre broker-user ID` on a node loaded with the shipped definitions.

The centre registers a station from its request file (which declares the station's results queue at the
broker), prints the rabbitmqctl lines, an administrator runs them, and the new user can do a station's work
and nothing else. The template users of definitions.json carry exactly what the command prints.
"""
from __future__ import annotations

import json
import re
import shlex

import pytest
from dramatiq.errors import ConnectionClosed

from papilla.cli import main
from papilla.shared.broker import rabbitmq_broker, send_to_intake
from papilla.shared.broker_users import party_permissions
from papilla.shared.results import ResultPublisher, open_results_queue
from papilla.shared.routing import ENROLL, INTAKE_EXCHANGE, REQUEST
from tests.helpers.rabbit_node import INFRA, PASSWORD, channel, connect, refused, settings_for

pytestmark = pytest.mark.broker


def shipped(section: str, user: str) -> dict:
    [found] = [p for p in json.loads((INFRA / "definitions.json").read_text())[section] if p["user"] == user]
    return found


@pytest.mark.parametrize("user,kind", [("st-example-01", "station"), ("svc-example", "service")])
def test_template_users_carry_the_permissions_the_command_prints(node, user, kind):
    want = party_permissions(user, kind)
    perms, topic = shipped("permissions", user), shipped("topic_permissions", user)
    assert (perms["configure"], perms["write"], perms["read"]) == (want.configure, want.write, want.read)
    assert (topic["exchange"], topic["write"], topic["read"]) == (want.topic_exchange, want.topic_write, want.topic_read)
    live = node.ctl("list_user_topic_permissions", user, "--formatter", "json").stdout
    assert [(t["exchange"], t["write"]) for t in json.loads(live)] == [(INTAKE_EXCHANGE, want.topic_write)]


def test_a_party_id_with_dots_is_matched_literally_in_the_permissions():
    perms = party_permissions("st.almaty.01", "station")
    assert perms.read == r"^papilla\.results\.st\.almaty\.01$"
    assert re.fullmatch(perms.read[1:-1], "papilla.results.st.almaty.01")
    assert not re.fullmatch(perms.read[1:-1], "papilla.results.stXalmaty.01")   # `.` would match any character


def test_broker_user_prints_the_lines_that_make_a_working_least_permission_user(node, tmp_path, monkeypatch, capsys):
    centre, station = tmp_path / "centre", tmp_path / "station"
    monkeypatch.setenv("PAPILLA_BROKER_URL", node.url("papilla-admin", PASSWORD))
    monkeypatch.setenv("PAPILLA_HOME", str(centre))
    assert main(["centre", "init"]) == 0
    monkeypatch.setenv("PAPILLA_HOME", str(station))
    assert main(["station", "init", "st-new-02"]) == 0
    monkeypatch.setenv("PAPILLA_HOME", str(centre))
    capsys.readouterr()
    assert main(["centre", "register-station", str(station / "station" / "st-new-02.registration.json")]) == 0
    assert "results queue papilla.results.st-new-02 declared" in capsys.readouterr().out
    assert main(["centre", "broker-user", "st-new-02"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("rabbitmqctl ")]
    assert [shlex.split(line)[1] for line in lines] == ["add_user", "set_permissions", "set_topic_permissions"]
    for line in lines:                                   # what the administrator runs on the broker's host
        node.ctl(*shlex.split(line)[1:], stdin=f"{PASSWORD}\n")

    broker = rabbitmq_broker(settings_for(node, "st-new-02", "quorum", monkeypatch))
    send_to_intake(broker, ENROLL, "packet-of-st-new-02")
    with pytest.raises(ConnectionClosed, match="403|ACCESS_REFUSED"):
        send_to_intake(broker, REQUEST, "not-a-packet")
    broker.close()
    publisher = ResultPublisher(node.url("papilla-lifecycle", PASSWORD))
    publisher.publish("st-new-02", b"answer-for-st-new-02")
    publisher.close()
    connection = connect(node, "st-new-02")
    ch, queue = open_results_queue(connection, "st-new-02")
    assert ch.basic_get(queue, auto_ack=True)[2] == b"answer-for-st-new-02"
    connection.close()
    assert refused(lambda: channel(node, "st-new-02").basic_get("papilla.results.st-example-01"))
    assert refused(lambda: channel(node, "st-new-02").queue_bind(queue, "papilla.results", routing_key="svc-example"))
    confirmed = channel(node, "st-new-02")
    confirmed.confirm_delivery()          # a refused publish surfaces only on a confirmed channel
    assert refused(lambda: confirmed.basic_publish("", "papilla.lifecycle", b"{}"))


def test_broker_user_refuses_an_unregistered_party_and_a_principal_in_one_sentence(node, tmp_path, monkeypatch,
                                                                                    capsys):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_BROKER_URL", node.url("papilla-admin", PASSWORD))
    assert main(["centre", "init"]) == 0
    assert main(["centre", "broker-user", "st-never-registered"]) == 2
    assert "papilla: st-never-registered is not registered" in capsys.readouterr().err
    assert main(["principal", "init", "op-desk-7", "--role", "operator"]) == 0
    assert main(["centre", "register-principal", str(tmp_path / "station" / "op-desk-7.registration.json")]) == 0
    capsys.readouterr()
    assert main(["centre", "broker-user", "op-desk-7"]) == 2
    err = capsys.readouterr().err
    assert "only stations and services get a broker user" in err and "Traceback" not in err
