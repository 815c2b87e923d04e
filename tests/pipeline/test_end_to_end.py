"""End to end over the real RabbitMQ on 127.0.0.1: station → extract → match → lifecycle → results.

Workers run as separate processes (`papilla worker …`) on a throwaway vhost
with an SQLite store in a temporary PAPILLA_HOME; the test plays the
station and an awaiting public service.
"""
from __future__ import annotations

import base64
import os
from datetime import date

import pika
import pytest

from papilla.client import PapillaClient, RabbitResultWaiter, ResultOpener
from papilla.identity import ensure_sender
from papilla.services.capture.outbox import Outbox
from papilla.services.capture.station import QualityGate, Station
from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.messages import encode
from papilla.shared.parties import export_centre_public, init_centre
from papilla.shared.principals import sign
from papilla.shared.results import MemoryResultSink, stored_result
from papilla.shared.routing import ENROLL, results_queue

from .harness import FvcScanner, Vhost, free_port, rabbit_reachable, start_worker, statuses

pytestmark = pytest.mark.broker
STATION, SERVICE, OPERATOR, AUTHORITY = "st-almaty-01", "svc-egov", "op-almaty-07", "body-mvd-01"
FINGERS = {1: "101", 2: "102"}   # finger position → FVC finger id (DB1_B)
PEOPLE = {  # name → (IIN, FVC fingers for positions 1, 2)
    "Aigerim Test": (make_test_iin(date(1984, 5, 17), False, 41), {1: "101", 2: "102"}),
    "Bolat Test": (make_test_iin(date(1979, 11, 2), True, 77), {1: "103", 2: "104"}),
    "Dana Test": (make_test_iin(date(1990, 2, 8), False, 93), {1: "105", 2: "106"}),
}
DUPLICATE_IIN = make_test_iin(date(1992, 7, 30), True, 15)


def scanner(db, fingers: dict[int, str], impression: int) -> FvcScanner:
    return FvcScanner(db, {p: f"{f}_{impression}" for p, f in fingers.items()})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672 (CI starts it; run `rabbitmq-server -detached`)")
    home = tmp_path_factory.mktemp("papilla-home")
    logs = tmp_path_factory.mktemp("worker-logs")
    with Vhost() as url:
        env = {**os.environ, "PAPILLA_HOME": str(home), "PAPILLA_BROKER_URL": url,
               "PAPILLA_METRICS_PORT": str(free_port()), "PAPILLA_MIN_BACKOFF_MS": "200",
               "PAPILLA_LOG_LEVEL": "INFO"}
        old_env = dict(os.environ)
        os.environ.update(env)
        settings = Settings.from_env()
        centre_public, _ = init_centre(settings)
        export_centre_public(settings, home / "centre-public.json")
        centre = Centre.open(settings, publisher=MemoryResultSink())
        station_keys = ensure_sender(centre, settings, STATION, "station")
        ensure_sender(centre, settings, SERVICE, "service")
        operator = ensure_sender(centre, settings, OPERATOR, "principal", role="operator")
        authority = ensure_sender(centre, settings, AUTHORITY, "principal", role="authorised_body")
        workers = {role: start_worker(role, env, logs) for role in ("extract", "match", "lifecycle")}
        broker = rabbitmq_broker(settings)
        station_results = RabbitResultWaiter(url, STATION, ResultOpener(station_keys, centre_public))
        station = Station(station_id=STATION, signing_key=station_keys.signing, centre_public=centre_public.box,
                          outbox=Outbox(settings.spool_dir, broker), gate=QualityGate(min_quality=0, max_attempts=1))
        client = PapillaClient.connect(broker_url=url, service_id=SERVICE, key_dir=settings.station_key_dir,
                                       centre_public_file=home / "centre-public.json")
        ctx = dict(settings=settings, centre=centre, station=station, station_key=station_keys.signing, broker=broker,
                   operator=operator, authority=authority, centre_public=centre_public,
                   client=client, station_results=station_results, workers=workers, env=env, logs=logs,
                   db=fvc_dir / "DB1_B", url=url, enrolled={})
        try:
            yield ctx
        finally:
            client.close()
            station_results.close()
            broker.close()
            for w in ctx["workers"].values():
                w.stop()
            centre.close()
            os.environ.clear()
            os.environ.update(old_env)


def enroll(cluster, name: str, iin: str, fingers: dict[int, str], impression: int = 1, **kw):
    report = cluster["station"].enroll(iin=iin, full_name=name, scanner=scanner(cluster["db"], fingers, impression),
                                       operator=cluster["operator"], consent_ref="form-2026-0001",
                                       finger_status=statuses(set(fingers)), today=date(2026, 11, 22), **kw)
    assert report.confirmed, "the broker did not confirm the packet"
    return report.packet_id, cluster["station_results"].wait(report.packet_id, 180)


def test_enrollment_becomes_active(cluster):
    for name, (iin, fingers) in PEOPLE.items():
        packet_id, result = enroll(cluster, name, iin, fingers)
        assert result.status == "ACTIVE", (name, result)
        cluster["enrolled"][name] = packet_id
    store = cluster["centre"].store
    assert store.count("enrollments", {"state": "ACTIVE"}) == len(PEOPLE)
    assert store.count("gallery", {}) == len(PEOPLE)


def test_verify_genuine_other_impressions_match(cluster):
    client = cluster["client"]
    iin, fingers = PEOPLE["Aigerim Test"]
    outcomes = {}
    for impression in range(2, 9):   # enrolled with impression 1; every other impression of the same fingers
        rid = client.verify(iin, scanner(cluster["db"], fingers, impression).images())
        result = client.wait(rid, 120)
        assert result.score is not None and set(result.finger_scores) == {"1", "2"}
        outcomes[impression] = result.status
    assert set(outcomes.values()) == {"MATCH"}, outcomes


def test_verify_impostor_is_no_match(cluster):
    client = cluster["client"]
    iin, _ = PEOPLE["Aigerim Test"]
    _, other_fingers = PEOPLE["Bolat Test"]
    rid = client.verify(iin, scanner(cluster["db"], other_fingers, 2).images())
    assert client.wait(rid, 120).status == "NO_MATCH"


def test_verify_unknown_person_is_not_enrolled(cluster):
    client = cluster["client"]
    rid = client.verify(make_test_iin(date(1970, 1, 1), True, 5), scanner(cluster["db"], FINGERS, 2).images())
    assert client.wait(rid, 120).status == "NOT_ENROLLED"
    assert stored_result(cluster["centre"].store, rid).status == "NOT_ENROLLED"   # and readable after the fact


def test_same_scans_under_another_iin_are_flagged_not_enrolled_twice(cluster):
    _, fingers = PEOPLE["Aigerim Test"]
    packet_id, result = enroll(cluster, "Someone Else", DUPLICATE_IIN, fingers, impression=3)
    assert result.status == "PENDING_REVIEW", result
    assert result.reason == "possible_duplicate"
    assert [c.enrollment_id for c in result.candidates][:1] == [cluster["enrolled"]["Aigerim Test"]]
    store = cluster["centre"].store
    assert store.count("enrollments", {"state": "ACTIVE"}) == len(PEOPLE)
    assert store.get("gallery", packet_id) is None


def _drain(url: str, queue: str) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    bodies = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        bodies.append(body)
    connection.close()
    return bodies


def test_same_packet_published_twice_enrolls_once_and_answers_once(cluster):
    settings = cluster["settings"]
    iin = make_test_iin(date(1988, 8, 8), True, 123)
    from papilla.shared.messages import Applicant, Consent, EnrollmentPacket, Finger
    from datetime import datetime, timezone

    images = scanner(cluster["db"], {1: "107", 2: "108"}, 1).images()
    packet = EnrollmentPacket(
        packet_id="st-almaty-01-twice-0001", station_id=STATION, operator_id=OPERATOR,
        captured_at=datetime.now(timezone.utc), applicant=Applicant(iin=iin, full_name="Twice Sent"),
        consent=Consent(form_version="406-annex-2020", signed_at=datetime.now(timezone.utc),
                        purposes=("public_service_authentication",), document_ref="form-2"),
        fingers=[Finger(position=p, status="captured", image=c.png, format="png", dpi=500) for p, c in images.items()]
        + [Finger(position=p, status="amputated") for p in range(3, 11)])
    packet = sign(packet, "operator_signature", cluster["operator"].signing)
    sealed = sealing.seal(encode(packet), sender_id=STATION, packet_id=packet.packet_id,
                          signing_key=cluster["station_key"], centre_public=cluster["centre_public"].box)
    _drain(cluster["url"], results_queue(STATION))
    for _ in range(2):
        send(cluster["broker"], ENROLL, base64.b64encode(sealed).decode())
    assert cluster["station_results"].wait(packet.packet_id, 180).status == "ACTIVE"
    store = cluster["centre"].store
    import time
    time.sleep(3)  # let the second delivery run through every stage
    assert store.count("enrollments", {"subject_id": store.get("enrollments", packet.packet_id)["subject_id"]}) == 1
    assert store.count("results", {"_id": packet.packet_id}) == 1
    assert _drain(cluster["url"], results_queue(STATION)) == []   # no second published result


def test_worker_killed_before_ack_redelivers_without_a_second_enrollment(cluster, tmp_path):
    workers, env, store = cluster["workers"], cluster["env"], cluster["centre"].store
    workers["lifecycle"].stop()
    marker = tmp_path / "crashed-once"
    crashing = start_worker("lifecycle", env, cluster["logs"],
                            extra_env={"PAPILLA_FAULT_CRASH_AFTER": f"settle_enrollment:{marker}"})
    _drain(cluster["url"], results_queue(STATION))
    iin = make_test_iin(date(1975, 3, 3), False, 301)
    report = cluster["station"].enroll(iin=iin, full_name="Crash Test", scanner=scanner(cluster["db"], {1: "109", 2: "110"}, 1),
                                       operator=cluster["operator"], consent_ref="form-3", finger_status=statuses({1, 2}),
                                       today=date(2026, 11, 22))
    crashing.proc.wait(180)
    assert marker.exists() and crashing.proc.returncode == 137, "the fault was not injected"
    settled = store.get("enrollments", report.packet_id)
    assert settled["state"] == "ACTIVE"        # the work was done before the crash …
    workers["lifecycle"] = start_worker("lifecycle", env, cluster["logs"])   # … and the message comes back
    result = cluster["station_results"].wait(report.packet_id, 180)
    assert result.status == "ACTIVE"
    import time
    time.sleep(2)
    assert store.count("enrollments", {"subject_id": settled["subject_id"]}) == 1
    assert store.count("gallery", {"subject_id": settled["subject_id"]}) == 1
    assert store.count("results", {"_id": report.packet_id}) == 1
    assert _drain(cluster["url"], results_queue(STATION)) == []


def _dead_letter_reasons(store) -> list[str]:
    return [d["reason"] for d in store.find("dead_letters", {}, sort=[("created_at", 1)])]


def _wait_for(predicate, timeout=60):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _sealed_packet(cluster, signing_key, sender_id, iin, packet_id):
    from datetime import datetime, timezone
    from papilla.shared.messages import Applicant, Consent, EnrollmentPacket, Finger

    images = scanner(cluster["db"], {1: "101"}, 8).images()
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=sender_id, operator_id=OPERATOR, captured_at=datetime.now(timezone.utc),
        applicant=Applicant(iin=iin, full_name="Refused Person"),
        consent=Consent(form_version="406", signed_at=datetime.now(timezone.utc), purposes=("auth",),
                        document_ref="f"),
        fingers=[Finger(position=1, status="captured", image=images[1].png, format="png", dpi=500)]
        + [Finger(position=p, status="amputated") for p in range(2, 11)])
    packet = sign(packet, "operator_signature", cluster["operator"].signing)
    return sealing.seal(encode(packet), sender_id=sender_id, packet_id=packet_id, signing_key=signing_key,
                        centre_public=cluster["centre_public"].box)


def test_tampered_unknown_and_malformed_are_dead_lettered_and_the_worker_keeps_running(cluster):
    store, broker = cluster["centre"].store, cluster["broker"]
    before = len(_dead_letter_reasons(store))
    iin = make_test_iin(date(1981, 1, 1), True, 404)
    sealed = bytearray(_sealed_packet(cluster, cluster["station_key"], STATION, iin, "st-almaty-01-tamper-1"))
    sealed[len(sealed) // 2] ^= 0x01
    send(broker, ENROLL, base64.b64encode(bytes(sealed)).decode())
    stranger = sealing.generate_signing_key()
    send(broker, ENROLL, base64.b64encode(_sealed_packet(cluster, stranger, "st-unknown-99", iin, "st-unknown-99-1")).decode())
    send(broker, ENROLL, "this is not a sealed packet")
    assert _wait_for(lambda: len(_dead_letter_reasons(store)) >= before + 3)
    reasons = _dead_letter_reasons(store)[before:]
    assert sorted(reasons) == sorted(["bad_signature", "unknown_sender", "malformed_message"]), reasons
    for letter in store.find("dead_letters", {}):
        assert letter["detail"] and letter["queue"] == ENROLL.queue
    assert cluster["workers"]["extract"].proc.poll() is None, "the extract worker died"
    assert store.count("enrollments", {"_id": "st-almaty-01-tamper-1"}) == 0
    # … and it still enrolls the next valid packet
    packet_id, result = enroll(cluster, "After Refusals", make_test_iin(date(1983, 3, 3), True, 505),
                               {1: "104"}, impression=8)
    assert result.status in ("ACTIVE", "PENDING_REVIEW")


def test_dlq_cli_lists_the_refusals(cluster, capsys):
    from papilla.cli import main

    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert "bad_signature" in out and "unknown_sender" in out


def test_dlq_requeue_sends_the_original_message_back(cluster, capsys):
    from papilla.cli import main

    store = cluster["centre"].store
    malformed = next(d for d in store.find("dead_letters", {"reason": "malformed_message"}))
    before = store.count("dead_letters", {"reason": "malformed_message"})
    assert main(["dlq", "requeue", malformed["_id"]]) == 0
    assert store.get("dead_letters", malformed["_id"])["state"] == "requeued"
    # still malformed, so it is refused again: a second record, and the worker keeps running
    assert _wait_for(lambda: store.count("dead_letters", {"reason": "malformed_message"}) == before + 1)
    assert cluster["workers"]["extract"].proc.poll() is None


def test_metrics_endpoint_serves_dramatiq_and_papilla_metrics(cluster):
    import urllib.request

    port = int(cluster["env"]["PAPILLA_METRICS_PORT"])
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "dramatiq_messages_total" in body and "papilla_message_duration_seconds" in body
    assert "papilla_refusals_total" in body


def test_identify_ranks_the_enrolled_person_first(cluster):
    client = cluster["client"]
    _, fingers = PEOPLE["Bolat Test"]
    result = client.wait(client.identify(scanner(cluster["db"], fingers, 4).images()), 120)
    assert result.status == "CANDIDATES"
    assert result.candidates[0].enrollment_id == cluster["enrolled"]["Bolat Test"]


def test_blocked_subject_answers_blocked_until_unblocked(cluster, capsys):
    from papilla.cli import main

    client = cluster["client"]
    iin, fingers = PEOPLE["Bolat Test"]
    blocked = client.wait(client.lifecycle("block", iin=iin, reason="violation reported",
                                           principal=cluster["authority"]), 120)
    assert blocked.status == "BLOCKED" and "Art.9" in blocked.rule
    probe = scanner(cluster["db"], fingers, 2).images()
    assert client.wait(client.verify(iin, probe), 120).status == "BLOCKED"
    # blocked data is not used for identification either
    found = client.wait(client.identify(probe), 120)
    assert cluster["enrolled"]["Bolat Test"] not in [c.enrollment_id for c in found.candidates]
    assert client.wait(client.lifecycle("unblock", iin=iin, reason="verified", principal=cluster["authority"]),
                       120).status == "UNBLOCKED"
    rid = client.verify(iin, probe)
    assert client.wait(rid, 120).status == "MATCH"
    assert main(["request", "result", rid]) == 0 and '"MATCH"' in capsys.readouterr().out


def test_destruction_on_request_removes_the_person_the_same_day(cluster):
    client, store = cluster["client"], cluster["centre"].store
    iin, fingers = PEOPLE["Dana Test"]
    subject_id = store.get("enrollments", cluster["enrolled"]["Dana Test"])["subject_id"]
    done = client.wait(client.lifecycle("destroy", iin=iin, reason="application of the person",
                                        principal=cluster["operator"], on_application_of="subject"), 120)
    assert done.status == "DESTROYED" and "p.11" in done.rule
    assert store.get("subjects", subject_id) is None
    assert store.count("biometrics", {"subject_id": subject_id}) == 0
    assert store.count("enrollments", {"subject_id": subject_id}) == 0
    assert client.wait(client.verify(iin, scanner(cluster["db"], fingers, 2).images()), 120).status == "NOT_ENROLLED"
    actions = [e["action"] for e in store.find("audit", {"subject_id": subject_id})]
    assert actions[-1] == "destroyed"
    from papilla.shared.audit import verify_chain
    assert verify_chain(store) == []


def test_answered_requests_leave_no_probe_or_probe_key_behind(cluster):
    store = cluster["centre"].store
    assert store.count("jobs", {"kind": "verify"}) == 0 and store.count("jobs", {"kind": "identify"}) == 0
    vault = cluster["centre"].vault
    assert not [k["_id"] for k in vault.find("data_keys", {}) if k["_id"].startswith("job-") and k.get("wrapped")]


def test_no_iin_name_or_image_in_clear_in_store_or_logs(cluster):
    """Last: everything above ran; read the SQLite files and every worker log byte by byte."""
    cluster["centre"].store.close()
    home = cluster["settings"].home
    blobs = [p.read_bytes() for p in home.rglob("*.sqlite3*")]
    blobs += [p.read_bytes() for p in cluster["logs"].iterdir()]
    assert blobs and sum(map(len, blobs)) > 10_000
    secrets_in_clear = [iin.encode() for iin, _ in PEOPLE.values()] + [DUPLICATE_IIN.encode()]
    secrets_in_clear += [name.encode() for name in PEOPLE] + [b"Someone Else", b"Crash Test"]
    image = scanner(cluster["db"], FINGERS, 1).capture(1).png
    secrets_in_clear += [image[i:i + 48] for i in range(200, len(image) - 48, len(image) // 8)]
    for blob in blobs:
        for secret in secrets_in_clear:
            assert secret not in blob
