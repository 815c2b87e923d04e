"""End to end over the real RabbitMQ on 127.0.0.1: station → extract → match → lifecycle → results.

Workers run as separate processes (`papilla worker …`) on a throwaway vhost
with an SQLite store in a temporary PAPILLA_HOME; the test plays the
station and an awaiting public service.

Each test sets up its own people, requests and refusals through fixtures
(FVC fingers are owned by one fixture each, so no test sees another's
enrollments as duplicates), and waits on positive signals: a result, a
dead-letter record, or the pipeline settling (every work queue empty and
nothing unacked), never a fixed sleep. The tests pass in any order.
"""
from __future__ import annotations

import base64
import itertools
import os
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pika
import pytest

from papilla.cli import main
from papilla.shared.audit import verify_chain
from papilla.shared.broker import rabbitmq_broker, send
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.messages import EnrollmentPacket, Finger, encode
from papilla.shared.principals import sign
from papilla.shared.results import stored_result
from papilla.shared.routing import ENROLL, results_queue
from tests.helpers.builders import consent_form, document_for, identity

from tests.helpers.harness import (FvcScanner, Vhost, free_port, onboard, rabbit_reachable, start_worker,
                                   station_and_client, statuses, wait_quiet, wait_until)

pytestmark = pytest.mark.broker
STATION, SERVICE, OPERATOR, AUTHORITY = "st-almaty-01", "svc-egov", "op-almaty-07", "body-mvd-01"
_serials = itertools.count(100)


def scanner(db, fingers: dict[int, str], impression: int) -> FvcScanner:
    return FvcScanner(db, {p: f"{f}_{impression}" for p, f in fingers.items()})


def new_iin() -> str:
    """A valid test IIN not used by any other test of this module."""
    while True:
        try:
            return make_test_iin(date(1980, 4, 4), True, next(_serials))
        except ValueError:
            continue


@dataclass
class Person:
    name: str
    iin: str
    fingers: dict[int, str]          # finger position → FVC finger id (DB1_B unless said otherwise)
    enrollment_id: str | None = None


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
        parties = onboard(settings, home, station=STATION, service=SERVICE, operator=OPERATOR,
                          principals={AUTHORITY: "authorised_body"})
        centre, centre_public, operator = parties.centre, parties.centre_public, parties.operator
        authority, station_keys = parties.principals[AUTHORITY], parties.station_keys
        workers = {role: start_worker(role, env, logs) for role in ("extract", "match", "lifecycle")}
        broker = rabbitmq_broker(settings)
        station, station_results, station_opener, client = station_and_client(parties, settings, url, broker,
                                                                              station=STATION, service=SERVICE)
        ctx = dict(settings=settings, centre=centre, station=station, station_key=station_keys.signing, broker=broker,
                   operator=operator, authority=authority, centre_public=centre_public, station_opener=station_opener,
                   client=client, station_results=station_results, workers=workers, env=env, logs=logs,
                   db=fvc_dir / "DB1_B", url=url, secrets=[])
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


def enroll(cluster, person: Person, impression: int = 1, db=None, **kw):
    cluster["secrets"] += [person.iin.encode(), person.name.encode()]
    report = cluster["station"].enroll(iin=person.iin, full_name=person.name,
                                       scanner=scanner(db or cluster["db"], person.fingers, impression),
                                       operator=cluster["operator"], consent=consent_form(date(2026, 11, 22)), document=document_for(person.iin),
                                       finger_status=statuses(set(person.fingers)), today=date(2026, 11, 22), **kw)
    assert report.confirmed, "the broker did not confirm the packet"
    return report.packet_id, cluster["station_results"].wait(report.packet_id, 180)


def enrolled(cluster, name: str, fingers: dict[int, str]) -> Person:
    person = Person(name, new_iin(), fingers)
    packet_id, result = enroll(cluster, person)
    assert result.status == "ACTIVE", (name, result)
    person.enrollment_id = packet_id
    return person


# Each person owns FVC fingers no other fixture or test uses.
@pytest.fixture(scope="module")
def aigerim(cluster) -> Person:
    """Enrolled once, never changed by a test (read-only for verify, identify and duplicate checks)."""
    return enrolled(cluster, "Aigerim Test", {1: "101", 2: "102"})


@pytest.fixture(scope="module")
def bolat(cluster) -> Person:
    return enrolled(cluster, "Bolat Test", {1: "103", 2: "104"})


@pytest.fixture
def dana(cluster) -> Person:
    """A person of one test's own (blocked or destroyed by it)."""
    return enrolled(cluster, "Dana Test", {1: "105", 2: "106"})


def test_enrollment_becomes_active(cluster, aigerim):
    store = cluster["centre"].store
    doc = store.get("enrollments", aigerim.enrollment_id)
    assert doc["state"] == "ACTIVE"
    assert store.count("gallery", {"subject_id": doc["subject_id"]}) == 1
    assert store.count("biometrics", {"enrollment_id": aigerim.enrollment_id}) == 2


def test_verify_genuine_other_impressions_match(cluster, aigerim):
    client = cluster["client"]
    outcomes = {}
    for impression in range(2, 9):   # enrolled with impression 1; every other impression of the same fingers
        rid = client.verify(aigerim.iin, scanner(cluster["db"], aigerim.fingers, impression).images())
        result = client.wait(rid, 120)
        assert result.score is not None and set(result.finger_scores) == {"1", "2"}
        outcomes[impression] = result.status
    assert set(outcomes.values()) == {"MATCH"}, outcomes


def test_verify_impostor_is_no_match(cluster, aigerim):
    client = cluster["client"]
    rid = client.verify(aigerim.iin, scanner(cluster["db"], {1: "107", 2: "108"}, 2).images())
    assert client.wait(rid, 120).status == "NO_MATCH"


def test_verify_unknown_person_is_not_enrolled(cluster):
    client = cluster["client"]
    rid = client.verify(new_iin(), scanner(cluster["db"], {1: "109", 2: "110"}, 2).images())
    assert client.wait(rid, 120).status == "NOT_ENROLLED"
    assert stored_result(cluster["centre"].store, rid).status == "NOT_ENROLLED"   # and readable after the fact


def test_same_scans_under_another_iin_are_flagged_not_enrolled_twice(cluster, aigerim):
    store = cluster["centre"].store
    active_before = store.count("enrollments", {"state": "ACTIVE"})
    packet_id, result = enroll(cluster, Person("Someone Else", new_iin(), aigerim.fingers), impression=3)
    assert result.status == "PENDING_REVIEW", result
    assert result.reason == "possible_duplicate"
    assert [c.enrollment_id for c in result.candidates][:1] == [aigerim.enrollment_id]
    assert store.get("enrollments", packet_id)["state"] == "PENDING_REVIEW"
    assert store.get("gallery", packet_id) is None
    assert store.count("enrollments", {"state": "ACTIVE"}) == active_before


def _results_for(cluster, request_id: str) -> list[bytes]:
    """Take this request's results off the station's results queue; other requests' results are put back."""
    queue = results_queue(STATION)
    connection = pika.BlockingConnection(pika.URLParameters(cluster["url"]))
    channel = connection.channel()
    mine, tags = [], []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            break
        opened = cluster["station_opener"](body)
        if opened is not None and opened.request_id == request_id:
            mine.append(body)
            channel.basic_ack(method.delivery_tag)
        else:
            tags.append(method.delivery_tag)
    for tag in tags:
        channel.basic_nack(tag, requeue=True)
    connection.close()
    return mine


def _packet(cluster, signing_key, sender_id: str, packet_id: str, iin: str, fingers: dict[int, str],
            impression: int) -> bytes:
    images = scanner(cluster["db"], fingers, impression).images()
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=sender_id, operator_id=OPERATOR, captured_at=datetime.now(timezone.utc),
        **identity(iin, "Packet Person", operator_id=OPERATOR, signed_on=datetime.now(timezone.utc)),
        fingers=[Finger(position=p, status="captured", image=c.png, format="png", dpi=500) for p, c in images.items()]
        + [Finger(position=p, status="amputated") for p in range(1, 11) if p not in images])
    packet = sign(packet, "operator_signature", cluster["operator"].signing)
    return sealing.seal(encode(packet), sender_id=sender_id, packet_id=packet_id, signing_key=signing_key,
                        centre_public=cluster["centre_public"].box)


def test_same_packet_published_twice_enrolls_once_and_answers_once(cluster):
    store = cluster["centre"].store
    iin = new_iin()
    cluster["secrets"].append(iin.encode())
    sealed = _packet(cluster, cluster["station_key"], STATION, "st-almaty-01-twice-0001", iin,
                     {1: "107", 2: "108"}, 1)
    for _ in range(2):
        send(cluster["broker"], ENROLL, base64.b64encode(sealed).decode())
    assert cluster["station_results"].wait("st-almaty-01-twice-0001", 180).status == "ACTIVE"
    wait_quiet(cluster["url"])   # the second delivery has run through every stage
    subject_id = store.get("enrollments", "st-almaty-01-twice-0001")["subject_id"]
    assert store.count("enrollments", {"subject_id": subject_id}) == 1
    assert store.count("gallery", {"subject_id": subject_id}) == 1
    assert store.count("results", {"_id": "st-almaty-01-twice-0001"}) == 1
    assert _results_for(cluster, "st-almaty-01-twice-0001") == []


def test_worker_killed_before_ack_redelivers_without_a_second_enrollment(cluster, tmp_path):
    workers, env, store = cluster["workers"], cluster["env"], cluster["centre"].store
    workers["lifecycle"].stop()
    marker = tmp_path / "crashed-once"
    try:
        crashing = start_worker("lifecycle", env, cluster["logs"],
                                extra_env={"PAPILLA_FAULT_CRASH_AFTER": f"settle_enrollment:{marker}"})
        person = Person("Crash Test", new_iin(), {1: "109", 2: "110"})
        cluster["secrets"] += [person.iin.encode(), person.name.encode()]
        report = cluster["station"].enroll(iin=person.iin, full_name=person.name,
                                           scanner=scanner(cluster["db"], person.fingers, 1), operator=cluster["operator"],
                                           consent=consent_form(date(2026, 11, 22)), document=document_for(person.iin), finger_status=statuses({1, 2}),
                                           today=date(2026, 11, 22))
        crashing.proc.wait(180)
        assert marker.exists() and crashing.proc.returncode == 137, "the fault was not injected"
        settled = store.get("enrollments", report.packet_id)
        assert settled["state"] == "ACTIVE"        # the work was done before the crash …
    finally:
        workers["lifecycle"] = start_worker("lifecycle", env, cluster["logs"])   # … and the message comes back
    result = cluster["station_results"].wait(report.packet_id, 180)
    assert result.status == "ACTIVE"
    wait_quiet(cluster["url"])
    assert store.count("enrollments", {"subject_id": settled["subject_id"]}) == 1
    assert store.count("gallery", {"subject_id": settled["subject_id"]}) == 1
    assert store.count("results", {"_id": report.packet_id}) == 1
    assert _results_for(cluster, report.packet_id) == []


@pytest.fixture
def refused(cluster) -> dict[str, str]:
    """Three refused packets of this test's own: dead-letter id → expected reason."""
    store, broker = cluster["centre"].store, cluster["broker"]
    iin = new_iin()
    tag = next(_serials)
    sealed = bytearray(_packet(cluster, cluster["station_key"], STATION, f"st-almaty-01-tamper-{tag}", iin,
                               {1: "101"}, 8))
    sealed[len(sealed) // 2] ^= 0x01
    stranger = sealing.generate_signing_key()
    unknown = _packet(cluster, stranger, "st-unknown-99", f"st-unknown-99-{tag}", iin, {1: "101"}, 8)
    sent = {send(broker, ENROLL, base64.b64encode(bytes(sealed)).decode()).message_id: "bad_signature",
            send(broker, ENROLL, base64.b64encode(unknown).decode()).message_id: "unknown_sender",
            send(broker, ENROLL, f"not a sealed packet {tag}").message_id: "malformed_message"}
    assert wait_until(lambda: all(store.get("dead_letters", m) for m in sent), 120), "not every refusal recorded"
    for packet_id in (f"st-almaty-01-tamper-{tag}", f"st-unknown-99-{tag}"):
        assert store.get("enrollments", packet_id) is None
    return sent


def test_tampered_unknown_and_malformed_are_dead_lettered_and_the_worker_keeps_running(cluster, refused):
    store = cluster["centre"].store
    for message_id, reason in refused.items():
        letter = store.get("dead_letters", message_id)
        assert letter["reason"] == reason and letter["detail"] and letter["queue"] == ENROLL.queue
    assert cluster["workers"]["extract"].proc.poll() is None, "the extract worker died"
    # … and it still enrolls the next valid packet
    after = Person("After Refusals", new_iin(), {1: "101"})   # DB3_B: fingers of this test alone
    _, result = enroll(cluster, after, impression=1, db=cluster["db"].parent / "DB3_B")
    assert result.status == "ACTIVE", result


def test_dlq_cli_lists_the_refusals(cluster, refused, capsys):
    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    for message_id, reason in refused.items():
        assert any(message_id in line and reason in line for line in out.splitlines()), (message_id, reason)


def test_dlq_requeue_sends_the_original_message_back(cluster, refused):
    store = cluster["centre"].store
    malformed = next(m for m, reason in refused.items() if reason == "malformed_message")
    before = store.count("dead_letters", {"reason": "malformed_message"})
    assert main(["dlq", "requeue", malformed]) == 0
    requeued_as = store.get("dead_letters", malformed)
    assert requeued_as["state"] == "requeued"
    # still malformed, so it is refused again: a record of the new message, and the worker keeps running
    assert wait_until(lambda: store.get("dead_letters", requeued_as["requeued_as"]) is not None, 120)
    assert store.get("dead_letters", requeued_as["requeued_as"])["reason"] == "malformed_message"
    assert store.count("dead_letters", {"reason": "malformed_message"}) == before + 1
    assert cluster["workers"]["extract"].proc.poll() is None


def test_metrics_endpoint_serves_papilla_metrics_in_seconds(cluster, refused):
    port = int(cluster["env"]["PAPILLA_METRICS_PORT"])
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "papilla_messages_total" in body and "papilla_message_duration_seconds" in body
    assert "papilla_refusals_total" in body and "process_resident_memory_bytes" in body
    assert "milliseconds" not in body and "papilla_gallery" not in body  # the extract worker holds no gallery


def test_identify_ranks_the_enrolled_person_first(cluster, bolat):
    client = cluster["client"]
    result = client.wait(client.identify(scanner(cluster["db"], bolat.fingers, 4).images()), 120)
    assert result.status == "CANDIDATES"
    assert result.candidates[0].enrollment_id == bolat.enrollment_id


def test_blocked_subject_answers_blocked_until_unblocked(cluster, dana, capsys):
    client = cluster["client"]
    blocked = client.wait(client.lifecycle("block", iin=dana.iin, reason="violation reported",
                                           principal=cluster["authority"]), 120)
    assert blocked.status == "BLOCKED" and "Art.9" in blocked.rule
    probe = scanner(cluster["db"], dana.fingers, 2).images()
    assert client.wait(client.verify(dana.iin, probe), 120).status == "BLOCKED"
    # blocked data is not used for identification either
    found = client.wait(client.identify(probe), 120)
    assert dana.enrollment_id not in [c.enrollment_id for c in found.candidates]
    assert client.wait(client.lifecycle("unblock", iin=dana.iin, reason="verified", principal=cluster["authority"]),
                       120).status == "UNBLOCKED"
    rid = client.verify(dana.iin, probe)
    assert client.wait(rid, 120).status == "MATCH"
    assert main(["request", "result", rid]) == 0 and '"MATCH"' in capsys.readouterr().out
    destroy(cluster, dana)   # leave nobody behind on these fingers


def test_depersonalized_subject_is_not_found_by_iin_until_the_body_removes_it(cluster, dana):
    client, authority = cluster["client"], cluster["authority"]
    done = client.wait(client.lifecycle("depersonalize", iin=dana.iin, reason="order of the body",
                                        principal=authority), 120)
    assert done.status == "DEPERSONALIZED" and "Art.9 p.1" in done.rule
    probe = scanner(cluster["db"], dana.fingers, 2).images()
    assert client.wait(client.verify(dana.iin, probe), 120).status == "NOT_ENROLLED"   # the IIN link is gone
    refused = client.wait(client.lifecycle("remove_depersonalization", iin=dana.iin, reason="order of the body",
                                           principal=cluster["operator"]), 120)
    assert (refused.status, refused.reason) == ("REFUSED", "role_not_permitted") and "Art.9 p.1" in refused.rule
    assert client.wait(client.lifecycle("remove_depersonalization", iin=dana.iin, reason="order of the body",
                                        principal=authority), 120).status == "DEPERSONALIZATION_REMOVED"
    assert client.wait(client.verify(dana.iin, probe), 120).status == "MATCH"
    destroy(cluster, dana)


def destroy(cluster, person: Person):
    done = cluster["client"].wait(cluster["client"].lifecycle("destroy", iin=person.iin,
                                                              reason="application of the person",
                                                              principal=cluster["operator"], on_application_of="subject"), 120)
    assert done.status == "DESTROYED" and "p.11" in done.rule
    return done


def test_destruction_on_request_removes_the_person_the_same_day(cluster, dana):
    client, store = cluster["client"], cluster["centre"].store
    subject_id = store.get("enrollments", dana.enrollment_id)["subject_id"]
    destroy(cluster, dana)
    assert store.get("subjects", subject_id) is None
    assert store.count("biometrics", {"subject_id": subject_id}) == 0
    assert store.count("enrollments", {"subject_id": subject_id}) == 0
    assert store.get("gallery", dana.enrollment_id)["active"] is False   # a tombstone: match workers drop it
    assert client.wait(client.verify(dana.iin, scanner(cluster["db"], dana.fingers, 2).images()),
                       120).status == "NOT_ENROLLED"
    actions = [e["action"] for e in store.find("audit", {"subject_id": subject_id})]
    assert actions[-1] == "destroyed"
    assert verify_chain(cluster["centre"]) == []


def test_answered_requests_leave_no_probe_or_probe_key_behind(cluster, aigerim):
    client, store = cluster["client"], cluster["centre"].store
    probe = scanner(cluster["db"], aigerim.fingers, 5).images()
    rids = [client.verify(aigerim.iin, probe), client.identify(probe)]
    assert [client.wait(rid, 120).status for rid in rids] == ["MATCH", "CANDIDATES"]
    wait_quiet(cluster["url"])
    for rid in rids:
        assert store.get("jobs", rid) is None
        key = cluster["centre"].vault.get("data_keys", f"job-{rid}")
        assert key is None or not key.get("wrapped")


def test_no_iin_name_or_image_in_clear_in_store_or_logs(cluster, aigerim):
    """Whatever ran before (in any order), read the SQLite files and every worker log byte by byte."""
    client = cluster["client"]
    assert client.wait(client.verify(aigerim.iin, scanner(cluster["db"], aigerim.fingers, 6).images()),
                       120).status == "MATCH"
    wait_quiet(cluster["url"])
    home = cluster["settings"].home
    blobs = [p.read_bytes() for p in home.rglob("*.sqlite3*")]
    blobs += [p.read_bytes() for p in cluster["logs"].iterdir()]
    assert blobs and sum(map(len, blobs)) > 10_000
    secrets_in_clear = list(cluster["secrets"])
    assert aigerim.iin.encode() in secrets_in_clear and aigerim.name.encode() in secrets_in_clear
    image = scanner(cluster["db"], aigerim.fingers, 1).capture(1).png
    secrets_in_clear += [image[i:i + 48] for i in range(200, len(image) - 48, len(image) // 8)]
    for blob in blobs:
        for secret in secrets_in_clear:
            assert secret not in blob

