"""Fault suite: the pipeline under a bad day, on a RabbitMQ node of its own (never the shared one).

Four phases, each with its own people and requests: worker processes SIGKILLed at random points and
restarted; the broker node stopped and started under load; the SQLite store held by an exclusive transaction
of another process past the workers' busy timeout; a station killed between the broker's confirm and the
removal of the packet from its spool. After each phase: every accepted packet is processed exactly once,
every request answered (one stored result, every published copy the same), nothing stuck (every enrollment
in a final state, no job left), a dead letter for what was refused, the audit chain intact. It prints a table
(submitted, final, duplicated, stuck, lost) and asserts 0 lost, duplicated and stuck.
"""
from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pika
import pytest

from papilla.client import PapillaClient, ResultOpener
from papilla.identity import ensure_sender
from papilla.services.capture.devices import FolderScanner
from papilla.services.capture.outbox import Outbox
from papilla.services.capture.station import QualityGate, Station
from papilla.shared import deadletters
from papilla.shared.audit import verify_chain
from papilla.shared.routing import ROLE_QUEUES as ROLE_QUEUES_BY_ROLE
from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.centre import Centre
from papilla.shared.parties import export_centre_public, init_centre
from papilla.shared.principals import sign
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.messages import EnrollmentPacket, Finger, encode, parse_result
from papilla.shared.results import MemoryResultSink, declare_results_queue
from papilla.shared.routing import ENROLL

from tests.helpers.harness import start_worker, wait_until
from tests.helpers.builders import consent_form, document_for, identity

from tests.helpers.fault_node import RabbitNode

pytestmark = pytest.mark.faults
STATION, SERVICE, OPERATOR = "st-faults-01", "svc-faults", "op-faults-01"
FINAL = {"ACTIVE", "PENDING_REVIEW"}
ROLES = ("extract", "match", "lifecycle")
REPO = Path(__file__).resolve().parents[2]
_serials = iter(range(200, 9999))
ROWS: list[tuple] = []


def new_iin() -> str:
    while True:
        try:
            return make_test_iin(date(1985, 6, 6), False, next(_serials))
        except ValueError:
            continue


@dataclass
class Submitted:
    packets: list[str] = field(default_factory=list)      # accepted enrollment packets
    refused: list[str] = field(default_factory=list)      # packets the centre must refuse (dead letter + answer)
    requests: list[str] = field(default_factory=list)     # verify / identify requests


@pytest.fixture(scope="module")
def world(tmp_path_factory, fvc_dir):
    base = tmp_path_factory.mktemp("faults")
    node = RabbitNode(base / "rabbit")
    node.start()
    home = base / "home"
    env = {**os.environ, "PAPILLA_HOME": str(home), "PAPILLA_BROKER_URL": node.url, "PAPILLA_METRICS_PORT": "0",
           "PAPILLA_STORE_URI": f"sqlite:///{home / 'papilla.sqlite3'}?busy_timeout=1",
           "PAPILLA_MIN_BACKOFF_MS": "300", "PAPILLA_MAX_BACKOFF_MS": "4000", "PAPILLA_MAX_RETRIES": "8",
           "PAPILLA_LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO)}
    old = dict(os.environ)
    os.environ.update(env)
    settings = Settings.from_env()
    centre_public, _ = init_centre(settings)
    export_centre_public(settings, home / "centre-public.json")
    centre = Centre.open(settings, publisher=MemoryResultSink())
    station_party = ensure_sender(centre, settings, STATION, "station")
    station_key = station_party.signing
    service_party = ensure_sender(centre, settings, SERVICE, "service")
    openers = {STATION: ResultOpener(station_party, centre_public), SERVICE: ResultOpener(service_party, centre_public)}
    operator = ensure_sender(centre, settings, OPERATOR, "principal", role="operator")
    logs = base / "logs"
    logs.mkdir()
    for reply_to in (STATION, SERVICE):   # the station's and service's durable result queues exist from the start
        drain_results(node.url, reply_to, opener=lambda body: None)
    workers = {role: start_worker(role, env, logs) for role in ROLES}
    broker = rabbitmq_broker(settings)
    outbox = Outbox(settings.spool_dir, broker)
    station = Station(station_id=STATION, signing_key=station_key, centre_public=centre_public.box,
                      outbox=outbox, gate=QualityGate(min_quality=0, max_attempts=1))
    client = PapillaClient.connect(broker_url=node.url, service_id=SERVICE, key_dir=settings.station_key_dir,
                                   centre_public_file=home / "centre-public.json")
    fingers = [(fvc_dir / db, f"{f}_1.tif") for db in ("DB1_B", "DB3_B", "DB4_B") for f in range(101, 111)]
    ctx = dict(node=node, env=env, settings=settings, centre=centre, station=station, outbox=outbox,
               client=client, broker=broker, workers=workers, logs=logs, station_key=station_key,
               fingers=fingers, enrolled=[], fvc=fvc_dir, operator=operator, centre_public=centre_public,
               openers=openers)
    try:
        yield ctx
    finally:
        for w in workers.values():
            w.stop()
        for closing in (client.close, broker.close, centre.close):
            try:
                closing()
            except Exception:
                pass
        node.stop()
        os.environ.clear()
        os.environ.update(old)
        print_table()


def print_table() -> None:
    if ROWS:
        print("\nfault suite:\n" + f"{'phase':<22}{'submitted':>10}{'final':>7}{'duplicated':>11}{'stuck':>7}"
              f"{'lost':>6}{'refused':>9}")
        for row in ROWS:
            print(f"{row[0]:<22}" + "".join(f"{v:>{w}}" for v, w in zip(row[1:], (10, 7, 11, 7, 6, 9))))


# --- the workload ------------------------------------------------------------
def retrying(action, what: str, timeout: float = 120):
    """Do `action` until the broker takes it (it may be down for a while); same ids, so a re-send is harmless."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: the broker never came back")
            time.sleep(0.5)


def submit_enrollment(ctx, sub: Submitted) -> None:
    folder, name = ctx["fingers"].pop(0)
    iin = new_iin()
    scanner = FolderScanner(folder, {1: name})
    report = ctx["station"].enroll(iin=iin, full_name="Fault Person", scanner=scanner, operator=ctx["operator"],
                                   consent=consent_form(date(2026, 11, 22)), document=document_for(iin), finger_status={p: "captured" if p == 1 else "amputated"
                                                                        for p in range(1, 11)},
                                   today=date(2026, 11, 22))
    if not report.confirmed:   # broker down: the packet waits in the spool
        flush_spool(ctx)
    sub.packets.append(report.packet_id)
    ctx["enrolled"].append((iin, folder, name))


def flush_spool(ctx) -> None:
    def attempt():
        ctx["outbox"].flush()
        if ctx["outbox"].pending():
            raise RuntimeError("spool not empty")
    retrying(attempt, "station flush")


def submit_refused(ctx, sub: Submitted) -> None:
    """A packet from the station with an IIN that does not validate: refused with invalid_iin."""
    pid = f"{STATION}-refused-{len(sub.refused)}-{time.monotonic_ns()}"
    folder, name = ctx["fingers"][0]
    png = FolderScanner(folder, {1: name}).capture(1).png
    now = datetime.now(timezone.utc)
    packet = EnrollmentPacket(
        packet_id=pid, station_id=STATION, operator_id=OPERATOR, captured_at=now,
        **identity("000000000000", "Refused Person", operator_id=OPERATOR, signed_on=now),
        fingers=[Finger(position=1, status="captured", image=png, format="png", dpi=500)]
        + [Finger(position=p, status="amputated") for p in range(2, 11)])
    packet = sign(packet, "operator_signature", ctx["operator"].signing)
    sealed = sealing.seal(encode(packet), sender_id=STATION, packet_id=pid, signing_key=ctx["station_key"],
                          centre_public=ctx["centre_public"].box)
    retrying(lambda: send(ctx["broker"], ENROLL, base64.b64encode(sealed).decode()), "refused packet")
    sub.refused.append(pid)


def submit_requests(ctx, sub: Submitted, n: int) -> None:
    client = ctx["client"]
    for i in range(n):
        iin, folder, name = ctx["enrolled"][-1 - i % max(1, len(ctx["enrolled"]))]
        probe = {1: FolderScanner(folder, {1: name.replace("_1", "_2")}).capture(1)}
        rid = client.new_request_id()
        if i % 2:
            retrying(lambda: client.identify(probe, request_id=rid), "identify")
        else:
            retrying(lambda: client.verify(iin, probe, request_id=rid), "verify")
        sub.requests.append(rid)


def workload(ctx, sub: Submitted, enrollments: int = 4, requests: int = 3) -> None:
    for _ in range(enrollments):
        submit_enrollment(ctx, sub)
    submit_refused(ctx, sub)
    submit_requests(ctx, sub, requests)


# --- checking ----------------------------------------------------------------
def drain_results(url: str, reply_to: str, opener=None) -> list:
    """Every result waiting on the party's queue (opened with its key when an opener is given)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = declare_results_queue(channel, reply_to)
        bodies = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(opener(body) if opener else parse_result(body))
    finally:
        connection.close()


def settled(ctx, sub: Submitted) -> bool:
    store = ctx["centre"].store
    ids = sub.packets + sub.refused + sub.requests
    if any(store.get("results", i) is None for i in ids):
        return False
    if any(ctx["node"].queue_counts().get(f"{q}.XQ") for q in XQ_SWEPT):
        sweep_parked(ctx)   # what ops run after an outage: parked copies recorded or dropped, never kept
    counts = ctx["node"].queue_counts()
    return all(n == 0 for q, n in counts.items() if not q.startswith("papilla.results."))


XQ_SWEPT = sorted({q for qs in ROLE_QUEUES_BY_ROLE.values() for q in qs})


def sweep_parked(ctx) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(ctx["node"].url))
    try:
        dropped, recorded = deadletters.sweep_parked(ctx["centre"].store, ctx["centre"].cipher,
                                                     connection.channel(), XQ_SWEPT)
        ctx.setdefault("parked", []).append((dropped, recorded))
    finally:
        connection.close()


def check(ctx, phase: str, sub: Submitted) -> None:
    store = ctx["centre"].store
    assert wait_until(lambda: settled(ctx, sub), 240, poll=1.0), f"{phase}: not settled: {ctx['node'].queue_counts()}"
    published = [r for party in (STATION, SERVICE)
                 for r in drain_results(ctx["node"].url, party, ctx["openers"][party]) if r is not None]
    copies: dict[str, set] = {}
    for result in published:
        copies.setdefault(result.request_id, set()).add((result.status, result.reason, result.score))
    duplicated, stuck, lost, final = [], [], [], 0
    for pid in sub.packets:
        doc = store.get("enrollments", pid)
        if doc is None:
            lost.append(pid)
            continue
        if store.count("enrollments", {"subject_id": doc["subject_id"]}) != 1 or \
                store.count("biometrics", {"enrollment_id": pid}) != 1:
            duplicated.append(pid)
        if doc["state"] in FINAL:
            final += 1
        else:
            stuck.append(pid)
    for rid in sub.packets + sub.refused + sub.requests:
        if rid not in copies:
            lost.append(rid)
        elif len(copies[rid]) > 1:
            duplicated.append(rid)
        else:
            final += rid not in sub.packets
    for rid in sub.requests:
        if store.get("jobs", rid) is not None:
            stuck.append(rid)
    lettered = {d["request_id"] for d in store.find("dead_letters", {"reason": "invalid_iin"})}
    refused_ok = sum(1 for pid in sub.refused
                     if pid in lettered and store.get("enrollments", pid) is None
                     and next(iter(copies.get(pid, {(None, None, None)})))[1] == "invalid_iin")
    total = len(sub.packets) + len(sub.refused) + len(sub.requests)
    ROWS.append((phase, total, final, len(duplicated), len(stuck), len(set(lost)), f"{refused_ok}/{len(sub.refused)}"))
    print_table()
    assert not lost and not duplicated and not stuck, (phase, lost, duplicated, stuck)
    assert refused_ok == len(sub.refused), f"{phase}: a refused packet has no dead letter or invalid_iin answer"
    assert verify_chain(ctx["centre"]) == [], f"{phase}: the audit chain does not verify"
    for role, worker in ctx["workers"].items():
        assert worker.proc.poll() is None, f"{phase}: the {role} worker died"


def restart(ctx, role: str) -> None:
    ctx["workers"][role] = start_worker(role, ctx["env"], ctx["logs"])


# --- the phases --------------------------------------------------------------
def test_workers_killed_at_random_points(world):
    rng, sub = random.Random(8), Submitted()
    stop = threading.Event()

    def killer():
        for _ in range(4):
            if stop.wait(rng.uniform(1.0, 5.0)):
                return
            role = rng.choice(ROLES)
            os.kill(world["workers"][role].proc.pid, signal.SIGKILL)
            world["workers"][role].proc.wait()
            restart(world, role)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        workload(world, sub)
    finally:
        thread.join()
    check(world, "workers SIGKILLed", sub)


def test_broker_stopped_and_started_under_load(world):
    sub = Submitted()
    workload(world, sub, enrollments=2, requests=1)
    world["node"].stop()
    down = threading.Thread(target=lambda: (time.sleep(4), world["node"].start()))
    down.start()
    try:
        workload(world, sub, enrollments=2, requests=2)   # submitted while the broker is down or coming back
    finally:
        down.join()
    check(world, "broker restarted", sub)


def test_store_locked_by_another_process(world):
    sub = Submitted()
    store_path = world["settings"].home / "papilla.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sqlite3, sys, time\n"
                               f"c = sqlite3.connect({str(store_path)!r}, isolation_level=None)\n"
                               "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(6)\n"
                               "c.execute('COMMIT')"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    sender = threading.Thread(target=lambda: workload(world, sub))
    sender.start()
    sender.join()
    assert holder.wait(60) == 0
    check(world, "store locked 6 s", sub)


def test_station_killed_between_confirm_and_spool_removal(world):
    sub = Submitted()
    folder, name = world["fingers"].pop(0)
    iin = new_iin()
    crashed = subprocess.run([sys.executable, "-m", "tests.helpers.crashing_station", str(folder / name), iin],
                             env=world["env"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    spooled = world["outbox"].pending()
    assert len(spooled) == 1, "the confirmed packet should still be in the spool"
    packet_id = spooled[0].name.removesuffix(".sealed")
    assert wait_until(lambda: world["centre"].store.get("enrollments", packet_id) is not None, 120)
    assert world["outbox"].flush() == 1          # the restarted station re-sends it
    sub.packets.append(packet_id)
    world["enrolled"].append((iin, folder, name))
    workload(world, sub, enrollments=2, requests=1)
    check(world, "station killed", sub)
