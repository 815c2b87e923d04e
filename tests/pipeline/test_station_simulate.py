"""`papilla station simulate`: a small load run against a real pipeline (station home and centre home apart),
and the bounds it refuses in one sentence."""
from __future__ import annotations

import re

import pytest

from papilla.services.capture.simulate import Limits, percentiles
from papilla.shared.store import open_store

from tests.helpers.harness import Vhost, clean_env, onboard_homes, papilla_cli, rabbit_reachable, start_worker

OPERATOR = "op-sim-01"
STATIONS = {"st-sim-01": OPERATOR, "st-sim-02": OPERATOR}


@pytest.mark.broker
def test_a_small_simulation_sends_and_every_packet_is_answered(tmp_path):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    with Vhost() as url:
        env = clean_env(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0", PAPILLA_MIN_BACKOFF_MS="200")
        homes = onboard_homes(tmp_path, env, stations=STATIONS)
        workers = [start_worker(role, {**env, "PAPILLA_HOME": str(homes["centre"])}, tmp_path)
                   for role in ("extract", "match", "lifecycle")]
        try:
            done = papilla_cli(homes["station"], "station", "simulate", "--stations", "2", "--rate", "2",
                               "--duration", "2", "--operator", OPERATOR, "--answer-wait", "240", env=env)
        finally:
            for worker in workers:
                worker.stop()
        store = open_store(f"sqlite:///{homes['centre'] / 'papilla.sqlite3'}")
        try:
            docs = list(store.find("enrollments", {}))
            per_station = {sid: sum(d["station_id"] == sid for d in docs) for sid in STATIONS}
            states = {d["state"] for d in docs}
        finally:
            store.close()
    assert "sent 4, spooled 0, answered 4 of 4 (ACTIVE 4)" in done.stdout, done.stdout
    assert re.search(r"latency sent → answered: p50 [\d.]+ s, p90 [\d.]+ s, p99 [\d.]+ s, max [\d.]+ s", done.stdout)
    assert "distinct applicants 4 of 4" in done.stdout
    assert per_station == {"st-sim-01": 2, "st-sim-02": 2} and states == {"ACTIVE"}
    assert "sending at 2/s" in done.stderr and "answers" in done.stderr          # the progress bars


@pytest.mark.parametrize("args,sentence", [
    (("--stations", "0", "--rate", "1", "--duration", "1"), "--stations must be 1 to 50"),
    (("--stations", "2", "--rate", "1000", "--duration", "1"), "--rate must be above 0 and at most 20 packets/s"),
    (("--stations", "2", "--rate", "nan", "--duration", "1"), "--rate must be above 0"),
    (("--stations", "2", "--rate", "1", "--duration", "86400"), "--duration must be above 0 and at most 600 s"),
    (("--stations", "2", "--rate", "10", "--duration", "500"), "is 5000 packets; at most 2000 per run"),
    (("--stations", "2", "--rate", "0.1", "--duration", "1"), "at least one packet"),
])
def test_absurd_values_are_refused_in_one_sentence(tmp_path, args, sentence):
    done = papilla_cli(tmp_path, "station", "simulate", *args, "--operator", OPERATOR, env=clean_env(), check=False)
    assert done.returncode == 2 and sentence in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr


def test_stations_not_onboarded_here_are_named(tmp_path):
    done = papilla_cli(tmp_path, "station", "simulate", "--stations", "1", "--rate", "1", "--duration", "1",
                       "--operator", OPERATOR, env=clean_env(), check=False)
    assert done.returncode == 2 and "st-sim-01" in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr


def test_latency_percentiles():
    assert percentiles([]) == {}
    assert percentiles([2.0]) == {"p50": 2.0, "p90": 2.0, "p99": 2.0, "max": 2.0}
    cuts = percentiles([float(v) for v in range(1, 101)])
    assert (round(cuts["p50"], 2), round(cuts["p90"], 2), cuts["max"]) == (50.5, 90.1, 100.0)
    assert Limits().refusal(1, 1.0, 1.0, 2, 10) is None
