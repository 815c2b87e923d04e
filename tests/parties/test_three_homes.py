"""Centre, station and service on their own 'machines': separate PAPILLA_HOMEs and key directories; the
station and the service hold only the centre's public key file. Onboarding by registration request files,
enrollment over the real RabbitMQ, a verify from the service, and refusals that reach the sender."""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pika
import pytest

from papilla.client import PapillaClient, ResultOpener, RabbitResultWaiter
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import birth_date_from_iin, make_test_iin
from papilla.shared.parties import load_centre_public_file, load_party
from papilla.shared.routing import RESULTS_EXCHANGE

from tests.helpers.harness import FvcScanner, Vhost, papilla_cli, rabbit_reachable, start_worker, wait_until

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
STATION, OPERATOR, SERVICE, OTHER_SERVICE = "st-shymkent-03", "op-shymkent-11", "svc-egov", "svc-bank"
CLOSING_STATION = "st-closing-04"   # registered, then revoked by its own test
PERSON_IIN = make_test_iin(date(1986, 4, 12), False, 61)


papilla = papilla_cli   # `papilla ARGS` in a party's own home (tests/helpers/harness.py)


@pytest.fixture(scope="module")
def world(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    root = tmp_path_factory.mktemp("three-homes")
    homes = {name: root / name for name in ("centre", "station", "service", "stranger")}
    with Vhost() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
        env.update(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0", PAPILLA_MIN_BACKOFF_MS="200")
        # the centre makes its keys and publishes the public half
        papilla(homes["centre"], "centre", "init", env=env)
        public = root / "centre-public.json"
        papilla(homes["centre"], "centre", "export-public-key", str(public), env=env)
        for home in (homes["station"], homes["service"], homes["stranger"]):
            home.mkdir()
            shutil.copy(public, home / "centre-public.json")       # the only thing they get from the centre
        # each party makes its own keys and a request file; the centre registers the files
        papilla(homes["station"], "station", "init", STATION, "--label", "Shymkent branch 3", env=env)
        papilla(homes["station"], "station", "init", CLOSING_STATION, env=env)
        papilla(homes["station"], "principal", "init", OPERATOR, "--role", "operator", env=env)
        papilla(homes["service"], "service", "init", SERVICE, env=env)
        papilla(homes["service"], "service", "init", OTHER_SERVICE, env=env)
        papilla(homes["stranger"], "station", "init", "st-unregistered-9", env=env)
        papilla(homes["stranger"], "principal", "init", "op-unregistered-9", "--role", "operator", env=env)
        for home, party, kind in ((homes["station"], STATION, "station"), (homes["station"], OPERATOR, "principal"),
                                  (homes["station"], CLOSING_STATION, "station"),
                                  (homes["service"], SERVICE, "service"), (homes["service"], OTHER_SERVICE, "service")):
            request = home / "station" / f"{party}.registration.json"
            out = papilla(homes["centre"], "centre", f"register-{kind}", str(request), env=env).stdout
            assert re.search(r"fingerprint [0-9A-F]{4}(-[0-9A-F]{4}){7}", out)
        logs = root / "logs"
        logs.mkdir()
        centre_env = {**env, "PAPILLA_HOME": str(homes["centre"])}
        workers = [start_worker(role, centre_env, logs) for role in ("extract", "match", "lifecycle")]
        images = root / "images"
        images.mkdir()
        for position, finger in ((1, "101"), (2, "102")):
            shutil.copy(fvc_dir / "DB1_B" / f"{finger}_1.tif", images / f"{position}.tif")
        ctx = dict(homes=homes, env=env, url=url, images=images, fvc=fvc_dir / "DB1_B", public=public)
        try:
            ctx["enrolled"] = enroll(ctx, homes["station"], STATION, OPERATOR)   # the person every test verifies
            yield ctx
        finally:
            for w in workers:
                w.stop()


def enroll(world, home: Path, station: str, operator: str, iin: str = PERSON_IIN):
    return papilla(home, "station", "enroll", station, "--operator", operator, "--iin", iin, "--name", "Asel Test",
                   "--document-type", "id_card", "--document-number", "N04412345",
                   "--document-birth-date", birth_date_from_iin(iin).isoformat(), "--consent-ref", "form-406-0001",
                   "--conditions-explained", "--images", str(world["images"]), "--absent", "amputated", "--wait", "180",
                   env=world["env"], check=False)


def service_client(world, service: str = SERVICE) -> PapillaClient:
    return PapillaClient.connect(broker_url=world["url"], service_id=service,
                                 key_dir=world["homes"]["service"] / "station",
                                 centre_public_file=world["homes"]["service"] / "centre-public.json")


def test_enrollment_from_the_station_home_then_verify_from_the_service_home(world):
    done = world["enrolled"]
    assert done.returncode == 0 and "enrollment ACTIVE" in done.stdout, done.stdout + done.stderr
    client = service_client(world)
    try:
        probe = FvcScanner(world["fvc"], {1: "101_3", 2: "102_3"}).images()
        assert client.wait(client.verify(PERSON_IIN, probe), 180).status == "MATCH"
        impostor = FvcScanner(world["fvc"], {1: "105_3", 2: "106_3"}).images()
        assert client.wait(client.verify(PERSON_IIN, impostor), 180).status == "NO_MATCH"
    finally:
        client.close()
    for home in ("station", "service"):   # nothing but their own keys and the centre's public file
        names = {p.name for p in world["homes"][home].rglob("*") if p.is_file()}
        assert not {n for n in names if n.startswith("centre-") and n != "centre-public.json"}
        assert not {n for n in names if "kek" in n or "pepper" in n}


def test_an_unregistered_station_is_told_so_not_left_waiting(world):
    done = enroll(world, world["homes"]["stranger"], "st-unregistered-9", "op-unregistered-9",
                  iin=make_test_iin(date(1990, 1, 2), True, 62))
    assert done.returncode == 2
    assert "refused: st-unregistered-9 is not registered at the centre" in done.stderr, done.stderr


def test_a_revoked_station_is_told_so(world):
    papilla(world["homes"]["centre"], "centre", "revoke", CLOSING_STATION, "--reason", "branch closed",
            env=world["env"])
    done = enroll(world, world["homes"]["station"], CLOSING_STATION, OPERATOR,
                  iin=make_test_iin(date(1991, 3, 4), True, 63))
    assert done.returncode == 2
    assert f"refused: {CLOSING_STATION} was revoked at the centre" in done.stderr, done.stderr


def test_a_queue_bound_to_another_services_results_receives_nothing_readable(world):
    connection = pika.BlockingConnection(pika.URLParameters(world["url"]))
    channel = connection.channel()
    channel.exchange_declare(RESULTS_EXCHANGE, exchange_type="direct", durable=True)
    eavesdrop = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(eavesdrop, RESULTS_EXCHANGE, routing_key=SERVICE)   # the bank listens to e-gov's results
    victim = service_client(world)
    try:
        rid = victim.verify(PERSON_IIN, FvcScanner(world["fvc"], {1: "101_4"}).images())
        assert victim.wait(rid, 180).status in ("MATCH", "NO_MATCH")
    finally:
        victim.close()
    method, _, body = channel.basic_get(eavesdrop, auto_ack=True)
    connection.close()
    assert method is not None, "the eavesdropper's queue got the message (so the test can look at it)"
    assert rid.encode() not in body and b"MATCH" not in body and b"status" not in body
    bank = load_party(dataclasses.replace(Settings.from_env(), station_key_dir=world["homes"]["service"] / "station"),
                      OTHER_SERVICE)
    assert ResultOpener(bank, load_centre_public_file(world["public"]))(body) is None


def test_a_request_naming_another_services_reply_to_is_refused_to_its_sender(world):
    bank = service_client(world, OTHER_SERVICE)
    bank.reply_to = SERVICE                                  # try to direct the answer into e-gov's queue
    egov = RabbitResultWaiter(world["url"], SERVICE)        # e-gov's own queue, read raw
    try:
        rid = bank.verify(PERSON_IIN, FvcScanner(world["fvc"], {1: "101_5"}).images())
        result = bank.wait(rid, 180)
        assert (result.status, result.reason) == ("REFUSED", "reply_to_not_owned")
    finally:
        bank.close()
    with pytest.raises(TimeoutError):
        egov.wait(rid, 3)   # nothing for this request id ever reached e-gov's queue
    egov.close()


def readme_client_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("```python", text.index("A public service uses the client")) + len("```python")
    return text[start:text.index("```", start)]


def test_the_readme_client_snippet_runs_as_written(world, tmp_path, capsys, monkeypatch):
    """Only the deployment values are swapped for this test's (broker, key dir, public key file, person, image)."""
    shutil.copy(world["fvc"] / "101_6.tif", tmp_path / "right-thumb.png")   # decoded by content, not extension
    monkeypatch.chdir(tmp_path)
    code = readme_client_snippet()
    for placeholder, value in (("amqp://svc-egov:secret@centre.example.kz:5672/papilla", world["url"]),
                               ("/var/lib/papilla/keys", str(world["homes"]["service"] / "station")),
                               ("/etc/papilla/centre-public.json", str(world["homes"]["service"] / "centre-public.json")),
                               ("860412400617", PERSON_IIN)):
        assert placeholder in code
        code = code.replace(placeholder, value)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "MATCH"


def test_a_forged_message_on_an_internal_queue_is_refused_not_obeyed(world):
    """RabbitMQ lets any publisher reach any queue through the default exchange (tests/ops): a station-side
    broker with no centre key puts a settle message on papilla.lifecycle; the lifecycle worker refuses it."""
    from papilla.shared.broker import rabbitmq_broker, send
    from papilla.shared.routing import SETTLE
    from papilla.shared.store import open_store

    settings = dataclasses.replace(Settings.from_env(), broker_url=world["url"])
    station_side = rabbitmq_broker(settings)
    forged = send(station_side, SETTLE, "st-shymkent-03-forged-0001", [], None)
    station_side.close()
    store = open_store(f"sqlite:///{world['homes']['centre'] / 'papilla.sqlite3'}")
    try:
        assert wait_until(lambda: store.get("dead_letters", forged.message_id) is not None, 120), \
            "the forged message was neither refused nor recorded"
        assert store.get("dead_letters", forged.message_id)["reason"] == "forged_internal_message"
    finally:
        store.close()
