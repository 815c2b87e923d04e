"""A real Prometheus (Debian's package) scrapes running workers with the project's scrape config and rules.

Workers run as processes on a throwaway vhost; the test enrolls FVC fingers
through a station, verifies one person and sends a malformed packet, then asks
Prometheus' HTTP API what it saw: every job up, outcomes as they happened,
each family only on its owner's job, and quantiles of the end-to-end latency.
"""
from __future__ import annotations

import math
import os
import time
from datetime import date

import pytest

from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.metrics import LATENCY_BUCKETS
from papilla.shared.routing import ENROLL
from tests.helpers.builders import consent_form, document_for
from tests.helpers.harness import (
    FvcScanner,
    Vhost,
    free_port,
    onboard,
    rabbit_reachable,
    start_worker,
    station_and_client,
    statuses,
)
from tests.helpers.prometheus import INFRA, ROLES, Prometheus, prometheus_config, wait_for

pytestmark = pytest.mark.broker
PEOPLE = [(make_test_iin(date(1984, 5, 17), False, 41), {1: "101", 2: "102"}),
          (make_test_iin(date(1979, 11, 2), True, 77), {1: "103", 2: "104"})]


@pytest.fixture(scope="module")
def observed(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    home, logs = tmp_path_factory.mktemp("ops-home"), tmp_path_factory.mktemp("ops-logs")
    port = free_port()
    old_env = dict(os.environ)
    with Vhost() as url:
        env = {**os.environ, "PAPILLA_HOME": str(home), "PAPILLA_BROKER_URL": url, "PAPILLA_METRICS_PORT": str(port),
               "PAPILLA_MIN_BACKOFF_MS": "200", "PAPILLA_LOG_LEVEL": "INFO"}
        os.environ.update(env)
        settings = Settings.from_env()
        parties = onboard(settings, home, station="st-ops-01", service="svc-ops", operator="op-ops-01")
        centre, operator = parties.centre, parties.operator
        workers = [start_worker(role, env, logs) for role in ROLES]
        prom = Prometheus(tmp_path_factory.mktemp("prometheus"), prometheus_config(port, INFRA / "papilla-rules.yml"))
        broker = rabbitmq_broker(settings)
        station, waiter, _, client = station_and_client(parties, settings, url, broker,
                                                        station="st-ops-01", service="svc-ops")
        try:
            walls = []
            for iin, fingers in PEOPLE:
                started = time.monotonic()
                report = station.enroll(iin=iin, full_name="Ops Test", operator=operator, consent=consent_form(date(2026, 11, 22)), document=document_for(iin),
                                        scanner=FvcScanner(fvc_dir / "DB1_B", {p: f"{f}_1" for p, f in fingers.items()}),
                                        finger_status=statuses(set(fingers)), today=date(2026, 11, 22))
                assert waiter.wait(report.packet_id, 180).status == "ACTIVE"
                walls.append(time.monotonic() - started)
            iin, fingers = PEOPLE[0]
            rid = client.verify(iin, FvcScanner(fvc_dir / "DB1_B", {p: f"{f}_2" for p, f in fingers.items()}).images())
            assert client.wait(rid, 120).status == "MATCH"
            send(broker, ENROLL, "not base64 at all!")
            wait_for(lambda: centre.store.count("dead_letters", {"reason": "malformed_message"}) == 1, 60, "the refusal")
            done_at = time.time()   # every test reads what Prometheus scraped after the workload, from every worker
            wait_for(lambda: (r := prom.query("timestamp(up)")) and len(r) == 3
                     and all(float(x["value"][1]) > done_at + 0.5 for x in r), 90, "a scrape of every worker after the workload")
            yield dict(prom=prom, walls=walls, workers=workers)
        finally:
            client.close()
            waiter.close()
            broker.close()
            for w in workers:
                w.stop()
            prom.stop()
            centre.close()
            os.environ.clear()
            os.environ.update(old_env)


def test_prometheus_scrapes_every_worker_kind_with_the_shipped_config(observed):
    prom = observed["prom"]
    ups = wait_for(lambda: (r := prom.query("up == 1")) and len(r) == 3 and r, 30, "3 targets up")
    assert {u["metric"]["job"] for u in ups} == {"papilla-extract", "papilla-match", "papilla-lifecycle"}
    rules = prom.api("rules")["groups"]
    assert sum(1 for g in rules for r in g["rules"] if r["type"] == "alerting") >= 12
    assert not [r for g in rules for r in g["rules"] if r.get("health") == "err"]


def test_outcomes_and_results_are_counted_as_they_happened(observed):
    prom = observed["prom"]
    expr = 'sum(papilla_messages_total{job="papilla-extract", queue="papilla.enroll", outcome="%s"})'
    wait_for(lambda: prom.scalar(expr % "refused") == 1, 30, "the refused packet scraped")
    assert prom.scalar(expr % "ok") == len(PEOPLE)
    assert prom.scalar(expr % "dead_lettered") == 0   # present from start, so rate() sees the first one
    assert prom.scalar('sum(papilla_refusals_total{reason="malformed_message", queue="papilla.enroll"})') == 1
    assert prom.scalar('sum(papilla_dead_letters_total)') == 0   # a refusal is not a failure
    wait_for(lambda: prom.scalar('sum(papilla_results_total{kind="enrollment", status="ACTIVE"})') == len(PEOPLE),
             30, "results scraped")
    # scrapes of one job may trail another's by an interval: wait for each, never sleep
    wait_for(lambda: prom.scalar('sum(papilla_results_total{kind="verify", status="MATCH"})') == 1, 30, "verify")
    wait_for(lambda: prom.scalar('papilla_gallery_log_head_seq{job="papilla-match"}') == len(PEOPLE), 30, "head")
    assert prom.scalar('papilla_pending_review_enrollments{job="papilla-lifecycle"}') == 0
    # the workload's one refusal is answered to its sender and kept as "refused": nothing for an operator
    assert prom.scalar('papilla_dead_letters_unresolved{job="papilla-lifecycle"}') == 0
    assert prom.scalar('sum(papilla_messages_in_progress)') == 0


def test_each_family_comes_only_from_its_owner_with_process_and_build_info(observed):
    prom = observed["prom"]
    wait_for(lambda: prom.query("papilla_finger_quality_count"), 30, "finger quality scraped")
    owners = {
        "papilla_finger_quality_count": {"papilla-extract"},
        "papilla_finger_minutiae_count": {"papilla-extract"},
        "papilla_extract_seconds_count": {"papilla-extract"},
        "papilla_match_seconds_count": {"papilla-match"},
        "papilla_gallery_log_head_seq": {"papilla-match"},
        "papilla_audit_chain_length": {"papilla-lifecycle"},
    }
    for name, jobs in owners.items():   # each job's first scrape may still be on its way
        wait_for(lambda: {r["metric"]["job"] for r in prom.query(name)} >= jobs, 60, f"{name} scraped")
        assert {r["metric"]["job"] for r in prom.query(name)} == jobs, name
    assert prom.scalar('papilla_finger_quality_count{job="papilla-extract"}') == 2 * len(PEOPLE) + 2
    wait_for(lambda: prom.scalar('papilla_match_seconds_count{kind="verify"}') == 1, 60, "the verify's search time")
    assert prom.scalar('papilla_match_seconds_count{kind="deduplicate"}') >= len(PEOPLE)
    for role in ROLES:
        assert prom.scalar(f'process_resident_memory_bytes{{job="papilla-{role}"}}') > 10e6
        assert prom.query(f'papilla_build_info{{job="papilla-{role}", role="{role}"}}')
    names = prom.api("label/__name__/values")
    assert not [n for n in names if "millisecond" in n or n.startswith("dramatiq_")]


def test_histogram_quantile_of_end_to_end_latency_is_bounded_by_what_the_station_waited(observed):
    prom = observed["prom"]
    walls = observed["walls"]
    q = 'histogram_quantile(%s, sum by (le) (papilla_request_duration_seconds_bucket{kind="enrollment"}))'
    p50 = wait_for(lambda: prom.scalar(q % 0.5), 30, "latency histogram")
    p99 = prom.scalar(q % 0.99)
    assert 0 < p50 <= p99
    # The centre's latency is within what the station measured around it; quantiles resolve to a bucket.
    bucket_above = min(b for b in LATENCY_BUCKETS if b >= max(walls))
    assert p99 <= bucket_above, (p99, walls)
    wait_for(lambda: prom.scalar('sum(papilla_request_duration_seconds_count{kind="enrollment"})') == len(PEOPLE),
             60, "every enrollment's latency scraped")
    def handling():
        value = prom.scalar('histogram_quantile(0.9, sum by (le) (papilla_message_duration_seconds_bucket'
                            '{job="papilla-extract", queue="papilla.enroll"}))')
        return value if value is not None and not math.isnan(value) and value > 0 else None
    assert wait_for(handling, 60, "extract handling-time histogram scraped") > 0
