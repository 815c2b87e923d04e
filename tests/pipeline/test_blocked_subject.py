"""A blocked subject through the real pipeline (RabbitMQ on 127.0.0.1, extract / match / lifecycle workers as
processes): absent from 1:N identification, BLOCKED on 1:1 verification, its pending enrollment not adjudicable
into the gallery, a new packet refused, each with the citation of blocking (Law Art.1 7); Art.9 p.2); and all of it
lifted by unblocking. The person owns the module's FVC fingers; the test waits on results, never a fixed sleep."""
from __future__ import annotations

import itertools
import os
from datetime import date

import pytest

from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.legal.rules import rule
from tests.helpers.builders import consent_form, document_for

from tests.helpers.harness import (FvcScanner, Vhost, free_port, onboard, rabbit_reachable, start_worker,
                                   station_and_client, statuses)

pytestmark = pytest.mark.broker
STATION, SERVICE, OPERATOR = "st-astana-02", "svc-egov-2", "op-astana-02"
AUTHORITY, ADJUDICATOR = "body-mvd-02", "adj-centre-02"
FINGERS = {1: "105", 2: "106"}
BLOCKING = rule("blocking_stops_processing").citation
_serials = itertools.count(300)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672 (CI starts it; run `rabbitmq-server -detached`)")
    home, logs = tmp_path_factory.mktemp("papilla-home"), tmp_path_factory.mktemp("worker-logs")
    with Vhost() as url:
        env = {**os.environ, "PAPILLA_HOME": str(home), "PAPILLA_BROKER_URL": url,
               "PAPILLA_METRICS_PORT": str(free_port()), "PAPILLA_MIN_BACKOFF_MS": "200"}
        old_env = dict(os.environ)
        os.environ.update(env)
        settings = Settings.from_env()
        parties = onboard(settings, home, station=STATION, service=SERVICE, operator=OPERATOR,
                          principals={AUTHORITY: "authorised_body", ADJUDICATOR: "adjudicator"})
        workers = [start_worker(role, env, logs) for role in ("extract", "match", "lifecycle")]
        broker = rabbitmq_broker(settings)
        station, station_results, _, client = station_and_client(parties, settings, url, broker,
                                                                 station=STATION, service=SERVICE)
        try:
            yield dict(parties=parties, station=station, results=station_results, client=client,
                       db=fvc_dir / "DB1_B", store=parties.centre.store)
        finally:
            client.close()
            station_results.close()
            broker.close()
            for worker in workers:
                worker.stop()
            parties.centre.close()
            os.environ.clear()
            os.environ.update(old_env)


def scanner(cluster, impression: int) -> FvcScanner:
    return FvcScanner(cluster["db"], {p: f"{f}_{impression}" for p, f in FINGERS.items()})


def enroll(cluster, iin: str, impression: int):
    report = cluster["station"].enroll(iin=iin, full_name="Erlan Blocked", scanner=scanner(cluster, impression),
                                       operator=cluster["parties"].operator, consent=consent_form(date(2026, 11, 22)), document=document_for(iin),
                                       finger_status=statuses(set(FINGERS)), today=date(2026, 11, 22))
    assert report.confirmed, "the broker did not confirm the packet"
    return report.packet_id, cluster["results"].wait(report.packet_id, 180)


def command(cluster, action: str, iin: str | None = None, **fields):
    client, parties = cluster["client"], cluster["parties"]
    principal = parties.principals[ADJUDICATOR if action == "adjudicate" else AUTHORITY]
    return client.wait(client.lifecycle(action, iin=iin, reason="order 2026-11", principal=principal, **fields), 120)


def identified(cluster, impression: int) -> list[str]:
    client = cluster["client"]
    return [c.enrollment_id for c in client.wait(client.identify(scanner(cluster, impression).images()),
                                                 120).candidates]


def test_a_blocked_subject_is_absent_from_1n_blocked_on_1to1_and_not_adjudicable_until_unblocked(cluster):
    client, store = cluster["client"], cluster["store"]
    iin = make_test_iin(date(1981, 1, 21), True, next(_serials))
    alias = make_test_iin(date(1983, 3, 23), True, next(_serials))
    first, result = enroll(cluster, iin, 1)
    assert result.status == "ACTIVE"
    # the same fingers under another IIN: caught as a duplicate and held for an adjudicator (a second application
    # under the same IIN is a verification instead, Rules 406 p.8, and never reaches the gallery's review)
    pending, result = enroll(cluster, alias, 2)
    assert (result.status, result.reason) == ("PENDING_REVIEW", "possible_duplicate")
    assert [c.enrollment_id for c in result.candidates][:1] == [first]
    assert identified(cluster, 3)[:1] == [first]          # found before blocking

    blocked = command(cluster, "block", iin)
    assert blocked.status == "BLOCKED" and "Art.9" in blocked.rule
    verified = client.wait(client.verify(iin, scanner(cluster, 3).images()), 120)
    assert (verified.status, verified.rule) == ("BLOCKED", rule("blocking").citation)
    assert first not in identified(cluster, 3) and pending not in identified(cluster, 4)

    assert command(cluster, "block", alias).status == "BLOCKED"   # the held person too
    refused = command(cluster, "adjudicate", enrollment_id=pending, decision="distinct_person")
    assert (refused.status, refused.reason, refused.rule) == ("REFUSED", "subject_blocked", BLOCKING)
    assert f"enrollment {pending} is PENDING_REVIEW and its subject is BLOCKED" in refused.detail
    assert store.get("enrollments", pending)["state"] == "PENDING_REVIEW"
    assert pending not in identified(cluster, 2)         # not in the gallery by any other way either

    _, again = enroll(cluster, iin, 5)                   # a new packet is not collected while blocked
    assert (again.status, again.reason, again.rule) == ("REFUSED", "subject_blocked", BLOCKING)

    assert command(cluster, "unblock", iin).status == "UNBLOCKED"
    assert command(cluster, "unblock", alias).status == "UNBLOCKED"
    assert client.wait(client.verify(iin, scanner(cluster, 3).images()), 120).status == "MATCH"
    assert identified(cluster, 3)[:1] == [first]
    decided = command(cluster, "adjudicate", enrollment_id=pending, decision="same_person_reject")
    assert decided.status == "REJECTED"
    destroyed = client.wait(client.lifecycle("destroy", iin=iin, reason="application of the person",
                                             principal=cluster["parties"].operator, on_application_of="subject"), 120)
    assert destroyed.status == "DESTROYED" and destroyed.rule == "Rules 406, p.11"
