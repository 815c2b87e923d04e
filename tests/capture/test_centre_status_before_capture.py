"""Before capture the station asks the centre whether it and its operator may enroll (issue 21): registered
ones go on; a revoked station, a revoked operator, or an operator whose role may not enroll is refused before a
finger is scanned, with the centre's reason and citation, and nothing is spooled. Centre and station in their
own homes, a real extract worker on a throwaway vhost of the shared RabbitMQ; the CLI as an operator runs it."""
from __future__ import annotations

import shutil
from datetime import date

import pytest

from tests.helpers.builders import enroll_flags
from tests.helpers.harness import Vhost, clean_env, onboard_homes, papilla_cli, start_worker, valid_iins

pytestmark = pytest.mark.broker
STATIONS = {"st-status-1": "op-status-1", "st-status-2": "op-status-2", "st-status-3": "op-status-3"}
IIN = valid_iins(date(1988, 8, 3), True, 23, 1)[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("centre-status")
    with Vhost() as url:
        env = clean_env(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0")
        homes = onboard_homes(root, env, stations=STATIONS)
        papilla_cli(homes["station"], "principal", "init", "aud-status-1", "--role", "auditor", env=env)
        papilla_cli(homes["centre"], "centre", "register-principal",
                    str(homes["station"] / "station" / "aud-status-1.registration.json"), env=env)
        papilla_cli(homes["centre"], "centre", "revoke", "st-status-2", "--reason", "station closed", env=env)
        papilla_cli(homes["centre"], "centre", "revoke", "op-status-3", "--reason", "left the branch", env=env)
        images = root / "images"
        images.mkdir()
        shutil.copy(data_dir / "samples" / "probe.png", images / "1.png")
        logs = root / "logs"
        logs.mkdir()
        worker = start_worker("extract", {**env, "PAPILLA_HOME": str(homes["centre"])}, logs)
        try:
            yield {"env": env, "homes": homes, "images": images}
        finally:
            worker.stop()


def enroll(world, station: str, operator: str):
    return papilla_cli(world["homes"]["station"], "station", "enroll", station, "--operator", operator,
                       "--iin", IIN, "--name", "Status Check", "--images", str(world["images"]),
                       "--absent", "amputated", "--check-centre", "60", *enroll_flags(IIN, consent_ref="form-7"),
                       env=world["env"], check=False)


def spooled(world, station: str) -> list:
    return list((world["homes"]["station"] / "spool" / station).glob("*.sealed"))


def test_a_registered_station_and_operator_go_on_to_capture(world):
    done = enroll(world, "st-status-1", "op-status-1")
    assert done.returncode == 0, done.stderr
    assert "refused" not in done.stderr and "note:" not in done.stderr     # asked, and the centre said yes
    assert "packet" in done.stdout


@pytest.mark.parametrize("station, operator, reason", [
    ("st-status-2", "op-status-2", "st-status-2 was revoked at the centre"),
    ("st-status-1", "op-status-3", "principal op-status-3 was revoked"),      # Rules 406, p.13; Law Art.8
    ("st-status-1", "aud-status-1", "may not enroll")])
def test_a_revoked_station_or_operator_or_a_role_that_may_not_enroll_is_refused_before_capture(
        world, station, operator, reason):
    before = spooled(world, station)
    done = enroll(world, station, operator)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("refused before capture: ") and reason in done.stderr
    assert done.stderr.rstrip().endswith(")") and done.stderr.count("\n") == 1   # one sentence, ending in its rule
    assert done.stdout == "" and spooled(world, station) == before                  # nothing captured or sent
    assert IIN not in done.stderr
