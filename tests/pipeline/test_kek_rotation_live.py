"""KEK rotation on SoftHSM2 while the pipeline runs over the real RabbitMQ.

The workers (separate processes) hold their keys on a SoftHSM2 token through
PKCS#11.  A rotation is stopped half-way (some data keys under the old KEK,
some under the new one, the new one current), verify requests and an
enrollment are answered, then the rotation finishes while more requests are
in flight.  Every request is answered, none with a decryption error, nothing
is dead-lettered, and at the end every data key is under the new KEK.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from contextlib import ExitStack, closing
from datetime import date
from pathlib import Path

import pytest

from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.crypto.providers import open_key_provider
from papilla.shared.crypto.rotation import kek_usage
from tests.helpers.builders import consent_form, document_for

from tests.helpers.softhsm import fresh_config
from tests.helpers.harness import (FvcScanner, Vhost, free_port, onboard, rabbit_reachable, start_worker,
                                   station_and_client, statuses)

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]
STATION, SERVICE = "st-kek-01", "svc-kek"
AIGERIM = (make_test_iin(date(1984, 5, 17), False, 41), {1: "101", 2: "102"})
BOLAT = (make_test_iin(date(1979, 11, 2), True, 77), {1: "103", 2: "104"})
POPULATION = 600  # other subjects' data keys, so the rotation has work beyond the few enrolled here


def scanner(db, fingers, impression):
    return FvcScanner(db, {p: f"{f}_{impression}" for p, f in fingers.items()})


@pytest.fixture(scope="module")
def hsm_cluster(tmp_path_factory, fvc_dir, softhsm_env):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672 (CI starts it; run `rabbitmq-server -detached`)")
    # the session's token (one per process: the PKCS#11 library reads SOFTHSM2_CONF once), own labels
    token_env = {**softhsm_env, "PAPILLA_PKCS11_LABEL_PREFIX": fresh_config(softhsm_env).label_prefix}
    home = tmp_path_factory.mktemp("papilla-home")
    logs = tmp_path_factory.mktemp("worker-logs")
    with Vhost() as url, ExitStack() as cleanup:
        env = {**os.environ, **token_env, "PAPILLA_HOME": str(home), "PAPILLA_BROKER_URL": url,
               "PAPILLA_METRICS_PORT": str(free_port()), "PAPILLA_MIN_BACKOFF_MS": "200",
               "PYTHONPATH": str(REPO)}
        old_env = dict(os.environ)
        cleanup.callback(lambda: (os.environ.clear(), os.environ.update(old_env)))
        os.environ.update(env)
        settings = Settings.from_env()
        assert open_key_provider(settings, create=False).initialise()  # the HSM part of `papilla centre init`
        parties = onboard(settings, home, station=STATION, service=SERVICE, operator="op-hsm-07")
        centre, operator = parties.centre, parties.operator
        cleanup.callback(centre.close)
        workers = []
        for role in ("extract", "match", "lifecycle"):
            workers.append(start_worker(role, env, logs))
            cleanup.callback(workers[-1].stop)  # callbacks run last-in first-out: workers stop first, always
        broker = cleanup.enter_context(closing(rabbitmq_broker(settings)))
        station, station_results, _, client = station_and_client(parties, settings, url, broker,
                                                                 station=STATION, service=SERVICE)
        cleanup.enter_context(closing(station_results))
        cleanup.enter_context(closing(client))
        yield dict(settings=settings, centre=centre, station=station, station_results=station_results,
                   operator=operator, client=client, env=env, workers=workers, db=fvc_dir / "DB1_B")


def enroll(cluster, name, person, impression=1):
    iin, fingers = person
    report = cluster["station"].enroll(iin=iin, full_name=name, scanner=scanner(cluster["db"], fingers, impression),
                                       operator=cluster["operator"], consent=consent_form(date(2026, 11, 22)), document=document_for(iin),
                                       finger_status=statuses(set(fingers)), today=date(2026, 11, 22))
    assert report.confirmed
    return cluster["station_results"].wait(report.packet_id, 180)


def verify(cluster, person, impression):
    iin, fingers = person
    client = cluster["client"]
    return client.wait(client.verify(iin, scanner(cluster["db"], fingers, impression).images()), 180)


def test_requests_are_answered_while_the_kek_rotates(hsm_cluster):
    cluster, centre = hsm_cluster, hsm_cluster["centre"]
    assert enroll(cluster, "Aigerim Test", AIGERIM).status == "ACTIVE"
    for i in range(POPULATION):
        centre.cipher.encrypt(f"pop-{i:05d}", "subjects", f"pop-{i:05d}", "iin", b"000000000000")
    rotation = subprocess.Popen([sys.executable, "-m", "tests.helpers.rotation_procs", "pause-after",
                                 str(POPULATION // 2), str(cluster["settings"].home / "keyvault.sqlite3")],
                                cwd=REPO, env=cluster["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        assert rotation.stdout.readline().strip() == "paused", rotation.stderr.read()[-3000:]
        half = kek_usage(centre.vault)
        assert half.get("kek-1") and half.get("kek-2")  # data keys under both KEKs, kek-2 current
        answered = [verify(cluster, AIGERIM, 2), verify(cluster, AIGERIM, 3)]
        answered.append(enroll(cluster, "Bolat Test", BOLAT))
        in_flight: list = []
        sender = threading.Thread(target=lambda: in_flight.extend(verify(cluster, AIGERIM, k) for k in (4, 5)))
        sender.start()
        rotation.stdin.write("go on\n")
        rotation.stdin.flush()
        out, err = rotation.communicate(timeout=600)
        sender.join(400)
    finally:
        if rotation.poll() is None:
            rotation.kill()
    assert rotation.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1])["target"] == "kek-2"
    answered += in_flight + [verify(cluster, BOLAT, 2)]
    assert [r.status for r in answered] == ["MATCH", "MATCH", "ACTIVE", "MATCH", "MATCH", "MATCH"], answered
    assert centre.store.count("dead_letters", {}) == 0
    assert set(kek_usage(centre.vault)) == {"kek-2"}
    for worker in cluster["workers"]:
        log = worker.log_path.read_text()
        for symptom in ("WrappedKeyError", "IntegrityError", "decryption_failed", "UnknownKeyId", "KeyProviderError"):
            assert symptom not in log, f"{worker.role} worker: {symptom}"
