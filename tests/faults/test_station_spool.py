"""The station's spool across an outage and a restart, each step its own process (issue 10, "Station spool").

Centre and station in separate PAPILLA_HOMEs on a RabbitMQ node of the test's own (`node.py`), not yet started:
packets enrolled with `papilla station enroll` while nothing listens are spooled (and the CLI says so); a
restarted station (`papilla station flush`, a new process) keeps them while the broker is still down; the node
and the centre's workers start; the next flush sends them, and a packet re-sent from an old copy of the spool
(a station that crashed between the confirm and the removal) changes nothing. Every packet is then processed
exactly once: one enrollment per packet id, one stored result, one answer on the station's results queue.
"""
from __future__ import annotations

import dataclasses
import shutil
from datetime import date

import pika
import pytest

from papilla.client import RabbitResultWaiter, ResultOpener
from papilla.shared.config import Settings
from papilla.shared.parties import load_centre_public_file, load_party
from papilla.shared.routing import results_queue
from papilla.shared.store import open_store

from tests.helpers.harness import clean_env, onboard_homes, papilla_cli, start_worker, valid_iins, wait_until
from tests.helpers.builders import enroll_flags

from tests.helpers.fault_node import RabbitNode

pytestmark = pytest.mark.faults
STATION, OPERATOR = "st-aktau-02", "op-aktau-05"
#: one packet per person; each person's two fingers are FVC DB1_B fingers nobody else in this test has
PEOPLE = list(zip(valid_iins(date(1979, 2, 3), True, 71, 3), (("101", "102"), ("103", "104"), ("105", "106"))))
FINAL = {"ACTIVE", "PENDING_REVIEW"}


def enroll(home, env, images, iin: str):
    return papilla_cli(home, "station", "enroll", STATION, "--operator", OPERATOR, "--iin", iin, "--name",
                       "Spool Person", "--images", str(images), "--absent", "amputated",
                       *enroll_flags(iin, consent_ref="form-77"),
                       env=env)


def drain_answers(url: str, opener: ResultOpener) -> list[str]:
    """Every answer waiting on the station's results queue (request ids, repeats included), taken off it."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    answers = []
    while True:
        method, _, body = channel.basic_get(results_queue(STATION), auto_ack=True)
        if method is None:
            break
        opened = opener(body)
        answers.append(opened.request_id if opened else "unreadable")
    connection.close()
    return answers


def test_spooled_packets_survive_a_station_restart_and_are_processed_exactly_once(tmp_path, fvc_dir):
    node = RabbitNode(tmp_path / "rabbit")
    env = clean_env(PAPILLA_BROKER_URL=node.url, PAPILLA_METRICS_PORT="0", PAPILLA_MIN_BACKOFF_MS="200")
    homes = onboard_homes(tmp_path / "homes", env, stations={STATION: OPERATOR})
    spool = homes["station"] / "spool" / STATION
    packet_ids = []
    for n, (iin, fingers) in enumerate(PEOPLE):            # the broker is not running: each packet is spooled
        images = tmp_path / f"person-{n}"
        images.mkdir()
        for position, finger in enumerate(fingers, start=1):
            shutil.copy(fvc_dir / "DB1_B" / f"{finger}_1.tif", images / f"{position}.tif")
        done = enroll(homes["station"], env, images, iin)
        assert "spooled: the broker is unavailable" in done.stdout, done.stdout
        packet_ids.append(done.stdout.split()[1].rstrip(":"))
    assert sorted(p.name for p in spool.glob("*.sealed")) == sorted(f"{p}.sealed" for p in packet_ids)

    restarted = papilla_cli(homes["station"], "station", "flush", STATION, env=env, check=False)
    assert restarted.returncode == 1 and "sent 0, 3 still spooled" in restarted.stdout, restarted.stdout
    crashed_copy = tmp_path / "old-spool-copy.sealed"
    shutil.copy(spool / f"{packet_ids[0]}.sealed", crashed_copy)

    node.start()
    workers = []
    try:
        centre_env = {**env, "PAPILLA_HOME": str(homes["centre"])}
        workers = [start_worker(role, centre_env, tmp_path) for role in ("extract", "match", "lifecycle")]
        opener = ResultOpener(load_party(_station_settings(homes), STATION),
                              load_centre_public_file(homes["public"]))
        RabbitResultWaiter(node.url, STATION, opener).close()   # the station's results queue (as `--wait` makes it)
        flushed = papilla_cli(homes["station"], "station", "flush", STATION, env=env)
        assert "sent 3, 0 still spooled" in flushed.stdout, flushed.stdout
        shutil.copy(crashed_copy, spool / f"{packet_ids[0]}.sealed")      # the same packet id, sent again
        assert "sent 1, 0 still spooled" in papilla_cli(homes["station"], "station", "flush", STATION,
                                                         env=env).stdout

        store = open_store(f"sqlite:///{homes['centre'] / 'papilla.sqlite3'}")
        try:
            def all_answered() -> bool:
                return all(store.count("results", {"_id": p}) == 1 for p in packet_ids)

            assert wait_until(all_answered, 180), "not every spooled packet was answered"
            assert wait_until(lambda: all(n == 0 for q, n in node.queue_counts().items()
                                          if not q.startswith("papilla.results.")), 180), node.queue_counts()
            for packet_id in packet_ids:
                enrollment = store.get("enrollments", packet_id)
                assert enrollment is not None and enrollment["state"] in FINAL, (packet_id, enrollment)
                assert store.count("results", {"_id": packet_id}) == 1
            assert store.count("enrollments", {}) == len(packet_ids)
            assert store.count("subjects", {}) == len(packet_ids)
        finally:
            store.close()
        answers = drain_answers(node.url, opener)
        assert sorted(set(answers)) == sorted(packet_ids), answers
        assert len(answers) == len(packet_ids), answers        # the re-sent packet is not answered twice
        assert not list(spool.glob("*.sealed"))
    finally:
        for worker in workers:
            worker.stop()
        node.stop()


def _station_settings(homes) -> Settings:
    return dataclasses.replace(Settings.from_env(), station_key_dir=homes["station"] / "station")
