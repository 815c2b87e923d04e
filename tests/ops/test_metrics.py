"""Worker metrics: real outcomes per delivery, seconds, and each family exported only by its owner."""
from __future__ import annotations

import os

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Retries
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from papilla.shared import metrics
from papilla.shared.errors import Refusal
from papilla.shared.store import open_store


def samples(registry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(registry, name: str, **labels) -> float:
    return samples(registry).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(params=["metrics_first", "retries_first"])
def stub(request):
    """Both orders: before Retries (as runtime.worker_middleware lists it) and after it."""
    retries = Retries(max_retries=2, min_backoff=1, max_backoff=5)
    order = [metrics.WorkerMetrics(), retries] if request.param == "metrics_first" else [retries, metrics.WorkerMetrics()]
    broker = StubBroker(middleware=[CurrentMessage()] + order)
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    yield broker, worker
    worker.stop()
    broker.close()


def test_each_delivery_is_counted_once_by_its_real_outcome(stub):
    broker, worker = stub
    registry = metrics.registry_for("extract")
    queue = "papilla.enroll"
    before = {o: value(registry, "papilla_messages_total", queue=queue, actor="t_outcomes", outcome=o)
              for o in metrics.OUTCOMES}
    timed = value(registry, "papilla_message_duration_seconds_count", queue=queue, actor="t_outcomes")

    @dramatiq.actor(actor_name="t_outcomes", queue_name=queue, max_retries=2)
    def act(mode: str) -> None:
        if mode == "boom":
            raise RuntimeError("transient")
        if mode == "refuse":
            metrics.count_refusal(CurrentMessage.get_current_message(), "t_reason")
        if mode == "raise_refusal":
            raise Refusal("bad packet", code="t_raised")

    for mode in ("fine", "fine", "refuse", "raise_refusal", "boom"):
        act.send(mode)
    broker.join(queue, fail_fast=False)
    worker.join()
    after = {o: value(registry, "papilla_messages_total", queue=queue, actor="t_outcomes", outcome=o) - before[o]
             for o in metrics.OUTCOMES}
    # "boom": first delivery + 2 retries raise (retried twice), the last one is nacked (dead-lettered);
    # the raised refusal is retried by a bare Retries too and is counted refused on every delivery.
    assert after["ok"] == 2
    assert after["dead_lettered"] == 1
    assert after["retried"] == 2
    assert after["refused"] == 1 + 3
    assert value(registry, "papilla_refusals_total", queue=queue, reason="t_reason") >= 1
    assert value(registry, "papilla_refusals_total", queue=queue, reason="t_raised") == 0  # counted where recorded
    assert value(registry, "papilla_messages_in_progress", queue=queue) == 0
    assert value(registry, "papilla_message_duration_seconds_count", queue=queue, actor="t_outcomes") - timed == 9


def test_end_to_end_latency_follows_the_request_through_later_stages(stub):
    broker, worker = stub
    registry = metrics.registry_for("lifecycle")
    before = value(registry, "papilla_request_duration_seconds_count", kind="t_kind")

    @dramatiq.actor(actor_name="t_second", queue_name="papilla.t_stage2")
    def second() -> None:
        metrics.count_result("t_kind", "OK")

    @dramatiq.actor(actor_name="t_first", queue_name="papilla.request")
    def first() -> None:
        second.send()

    message = first.send()
    broker.join("papilla.request")
    broker.join("papilla.t_stage2")
    worker.join()
    assert value(registry, "papilla_results_total", kind="t_kind", status="OK") >= 1
    assert value(registry, "papilla_request_duration_seconds_count", kind="t_kind") == before + 1
    assert metrics.RECEIVED_AT not in message.options  # set by the worker on its delivery, not by the sender


def test_each_role_exports_only_what_it_owns(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    extract = set(n for n, _ in samples(metrics.registry_for("extract", lambda: store)))
    match = set(n for n, _ in samples(metrics.registry_for("match", lambda: store)))
    lifecycle = set(n for n, _ in samples(metrics.registry_for("lifecycle", lambda: store)))
    assert not any(n.startswith("papilla_gallery") for n in extract | lifecycle)
    assert "papilla_gallery_log_head_seq" in match
    assert not any(n.startswith(("papilla_extract", "papilla_finger")) for n in match | lifecycle)
    assert {"papilla_pending_review_enrollments", "papilla_dead_letters_unresolved",
            "papilla_audit_chain_length"} <= lifecycle
    for names in (extract, match, lifecycle):
        assert {"process_resident_memory_bytes", "process_start_time_seconds", "papilla_build_info"} <= names
        assert not any("milliseconds" in n for n in names)
    build = [labels for (n, labels) in samples(metrics.registry_for("match")) if n == "papilla_build_info"][0]
    assert dict(build)["role"] == "match" and dict(build)["version"]


def test_store_backlogs_are_read_at_scrape_time(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    registry = metrics.registry_for("lifecycle", lambda: store)
    assert value(registry, "papilla_pending_review_enrollments") == 0
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "PENDING_REVIEW"})
    store.insert("dead_letters", {"_id": "d1", "queue": "q", "state": "dead", "created_at": "x"})
    assert value(registry, "papilla_pending_review_enrollments") == 1
    assert value(registry, "papilla_dead_letters_unresolved") == 1


def test_station_reports_its_spool_depth_and_oldest_packet_age(tmp_path, monkeypatch, capsys):
    from papilla.cli import main

    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_SPOOL_DIR", str(tmp_path / "spool"))
    spool = tmp_path / "spool" / "st-1"     # where `papilla station enroll st-1` spools
    spool.mkdir(parents=True)
    assert main(["station", "metrics", "st-1"]) == 0
    assert 'papilla_station_spool_packets{station="st-1"} 0.0' in capsys.readouterr().out
    for i in range(3):
        (spool / f"p{i}.sealed").write_bytes(b"x")
    old = spool / "p0.sealed"
    os.utime(old, (old.stat().st_atime, old.stat().st_mtime - 600))
    out = tmp_path / "papilla.prom"
    assert main(["station", "metrics", "st-1", "--textfile", str(out)]) == 0
    text = out.read_text()
    assert 'papilla_station_spool_packets{station="st-1"} 3.0' in text
    age = float(text.split('papilla_station_spool_oldest_age_seconds{station="st-1"} ')[1].split()[0])
    assert 600 <= age < 700


def test_every_exported_family_is_in_the_operations_metrics_table():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    names = {m._name for ms in (metrics.COMMON, *metrics.OWNED.values()) for m in ms}
    names |= {n for fams in metrics.StoreGauges.FAMILIES.values() for n, _ in fams}
    for name in names:
        assert any(f"`{name}{suffix}`" in doc for suffix in ("", "_total", "_info", "_seconds")), name
    for name in metrics.PLANNED:
        assert f"`{name}`" in doc, name
    from papilla.services.lifecycle.lifecycle_metrics import LifecycleDeadlines
    for name in LifecycleDeadlines.NAMES:
        assert f"`{name}`" in doc, name
