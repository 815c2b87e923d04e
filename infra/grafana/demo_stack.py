"""Run a small Papilla centre under a real Prometheus and draw the dashboards from what it scraped.

Used to make docs/img/ops-*.png (docs/operations.md#dashboards):

    .venv/bin/pip install -e '.[test,docs]'
    .venv/bin/python infra/grafana/demo_stack.py --out docs/img

Everything is throwaway and local: a RabbitMQ node on its own ports loaded
with infra/rabbitmq/definitions.json and the Prometheus plugin, the three
workers as processes (each with its own least-privilege user, quorum queues),
Prometheus (Debian package) with infra/prometheus/prometheus.yml pointed at
them, a station enrolling FVC2002 fingers, a service verifying, malformed
packets, a duplicate, and the match worker stopped for a while so the backlog
and "workers up" panels have something to show. Then render.py draws each
dashboard from Prometheus' answers.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tqdm import tqdm  # noqa: E402

from papilla.client import PapillaClient, RabbitResultWaiter, ResultOpener  # noqa: E402
from papilla.identity import ensure_sender  # noqa: E402
from papilla.services.capture.outbox import Outbox  # noqa: E402
from papilla.services.capture.station import QualityGate, Station  # noqa: E402
from papilla.shared.broker import rabbitmq_broker, send  # noqa: E402
from papilla.shared.centre import Centre  # noqa: E402
from papilla.shared.config import Settings  # noqa: E402
from papilla.shared.crypto.iin import make_test_iin  # noqa: E402
from papilla.shared.parties import export_centre_public, init_centre  # noqa: E402
from papilla.shared.paths import reference_data_dir  # noqa: E402
from papilla.shared.results import MemoryResultSink  # noqa: E402
from papilla.shared.routing import ENROLL  # noqa: E402

sys.path.insert(0, str(REPO / "infra" / "grafana"))
import render  # noqa: E402
from devstack import (FvcScanner, Prometheus, RabbitNode, consent_form, document_for, free_port,  # noqa: E402
                      prometheus_config, start_worker, statuses)

PASSWORD = "demo-only-password"
STATION, SERVICE = "st-example-01", "svc-example"


def people(n: int) -> list[tuple[str, str, dict[int, str]]]:
    out = []
    for i in range(n):
        db = ("DB1_B", "DB3_B", "DB4_B")[i // 5]
        first = 101 + 2 * (i % 5)
        out.append((db, make_test_iin(date(1960 + i, 1 + i % 12, 1 + i), i % 2 == 0, 10 + i),
                    {1: str(first), 2: str(first + 1)}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "img"))
    parser.add_argument("--people", type=int, default=10, help="at most 15 (5 two-finger people per FVC set)")
    args = parser.parse_args()
    fvc = reference_data_dir() / "fvc2002"
    work = Path(tempfile.mkdtemp(prefix="papilla-demo-stack-"))
    (work / "rabbit").mkdir()
    node = RabbitNode(work / "rabbit", plugins=("rabbitmq_prometheus",),
                      conf=f"consumer_timeout = 3600000\nload_definitions = {REPO / 'infra/rabbitmq/definitions.json'}")
    node.start()
    workers, prom = [], None
    try:
        for user in ("papilla-extract", "papilla-match", "papilla-lifecycle", STATION, SERVICE):
            node.ctl("change_password", user, PASSWORD)
        base_port = free_port()
        env = {**os.environ, "PAPILLA_HOME": str(work / "home"), "PAPILLA_QUEUE_TYPE": "quorum",
               "PAPILLA_METRICS_PORT": str(base_port), "PAPILLA_BROKER_URL": node.url(STATION, PASSWORD)}
        os.environ.update(env)
        settings = Settings.from_env()
        centre_public, _ = init_centre(settings)
        export_centre_public(settings, work / "centre-public.json")
        centre = Centre.open(settings, publisher=MemoryResultSink())
        station_keys = ensure_sender(centre, settings, STATION, "station")
        ensure_sender(centre, settings, SERVICE, "service")
        operator = ensure_sender(centre, settings, "op-example-01", "principal", role="operator")
        roles = {r: {**env, "PAPILLA_BROKER_URL": node.url(f"papilla-{r}", PASSWORD)} for r in ("extract", "match", "lifecycle")}
        (work / "logs").mkdir()
        workers = {r: start_worker(r, e, work / "logs") for r, e in roles.items()}
        config = prometheus_config(base_port, REPO / "infra/prometheus/papilla-rules.yml")
        config["global"].update(scrape_interval="5s", evaluation_interval="5s")
        config["scrape_configs"].append({"job_name": "rabbitmq-queues", "metrics_path": "/metrics/detailed",
                                         "params": {"vhost": ["papilla"], "family": ["queue_coarse_metrics", "queue_consumer_count"]},
                                         "static_configs": [{"targets": [f"127.0.0.1:{node.prom_port}"]}]})
        (work / "prom").mkdir()
        prom = Prometheus(work / "prom", config)
        start = time.time()
        broker = rabbitmq_broker(settings)
        station = Station(station_id=STATION, signing_key=station_keys.signing, centre_public=centre_public.box,
                          outbox=Outbox(settings.spool_dir, broker), gate=QualityGate(min_quality=0, max_attempts=1))
        waiter = RabbitResultWaiter(node.url(STATION, PASSWORD), STATION, ResultOpener(station_keys, centre_public))
        client = PapillaClient.connect(broker_url=node.url(SERVICE, PASSWORD), service_id=SERVICE,
                                       key_dir=settings.station_key_dir, centre_public_file=work / "centre-public.json")
        crowd = people(args.people)

        def enroll(db, iin, fingers, impression=1, wait=True):
            report = station.enroll(iin=iin, full_name="Demo Person", operator=operator, consent=consent_form(date(2026, 11, 22)), document=document_for(iin),
                                    scanner=FvcScanner(fvc / db, {p: f"{f}_{impression}" for p, f in fingers.items()}),
                                    finger_status=statuses(set(fingers)), today=date(2026, 11, 22))
            return waiter.wait(report.packet_id, 300).status if wait else report.packet_id

        half = len(crowd) // 2
        for db, iin, fingers in tqdm(crowd[:half], desc="enroll + verify"):
            enroll(db, iin, fingers)
            for impression in (2, 3):
                client.wait(client.verify(iin, FvcScanner(fvc / db, {p: f"{f}_{impression}" for p, f in fingers.items()}).images()), 120)
            time.sleep(15)
        for _ in range(3):
            send(broker, ENROLL, "not a sealed packet")
        db, _, fingers = crowd[0]
        enroll(db, make_test_iin(date(1999, 9, 9), True, 99), fingers, impression=4)   # duplicate → review
        workers["match"].stop()
        outage = [enroll(db, iin, fingers, wait=False) for db, iin, fingers in crowd[half:]]
        time.sleep(60)
        workers["match"] = start_worker("match", roles["match"], work / "logs")
        for packet_id in tqdm(outage, desc="backlog drains"):
            waiter.wait(packet_id, 600)
        for db, iin, fingers in crowd:
            client.wait(client.verify(iin, FvcScanner(fvc / db, {p: f"{f}_5" for p, f in fingers.items()}).images()), 120)
        time.sleep(30)
        end = time.time()
        figures = {
            "extract seconds per finger p50": 'histogram_quantile(0.5, sum by (le) (papilla_extract_seconds_bucket))',
            "extract seconds per finger p95": 'histogram_quantile(0.95, sum by (le) (papilla_extract_seconds_bucket))',
            "enrollment end-to-end p50 s": 'histogram_quantile(0.5, sum by (le) (papilla_request_duration_seconds_bucket{kind="enrollment"}))',
            "enrollment end-to-end p95 s": 'histogram_quantile(0.95, sum by (le) (papilla_request_duration_seconds_bucket{kind="enrollment"}))',
            "verify end-to-end p50 s": 'histogram_quantile(0.5, sum by (le) (papilla_request_duration_seconds_bucket{kind="verify"}))',
            "verify end-to-end p95 s": 'histogram_quantile(0.95, sum by (le) (papilla_request_duration_seconds_bucket{kind="verify"}))',
            "finger quality median": 'histogram_quantile(0.5, sum by (le) (papilla_finger_quality_bucket))',
            "resident MiB extract": 'process_resident_memory_bytes{job="papilla-extract"} / 2^20',
            "resident MiB match": 'process_resident_memory_bytes{job="papilla-match"} / 2^20',
            "resident MiB lifecycle": 'process_resident_memory_bytes{job="papilla-lifecycle"} / 2^20',
            "max match backlog during outage": 'max_over_time(rabbitmq_detailed_queue_messages_ready{queue="papilla.match"}[1h])',
        }
        for label, expr in figures.items():
            result = prom.query(expr)
            print(f"{label}: {float(result[0]['value'][1]):.3f}" if result else f"{label}: no data")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("pipeline", "compliance"):
            board = __import__("json").loads((REPO / f"infra/grafana/papilla-{name}.json").read_text())
            render.render(board, str(out / f"ops-{name}.png"), prom.url, start - 60, end, 5, "1m")
            print(f"wrote {out / f'ops-{name}.png'} ({end - start:.0f} s of data)")
        client.close()
        waiter.close()
        broker.close()
        centre.close()
    finally:
        for w in workers.values() if isinstance(workers, dict) else workers:
            w.stop()
        if prom is not None:
            prom.stop()
        node.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
