from __future__ import annotations

import os
from pathlib import Path

import pytest

from papilla.services.capture.outbox import Outbox
from papilla.services.capture.station import QualityGate, Station
from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.parties import PartyKeys
from papilla.shared.paths import reference_data_dir

from tests.helpers.centre import open_centre
from tests.helpers.softhsm import make_token


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Reference data (FVC2002 B sets, samples). Fails loudly when absent: CI has it."""
    path = reference_data_dir()
    if not (path / "fvc2002").is_dir():
        pytest.fail(f"reference data not found at {path} (set PAPILLA_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def fvc_dir(data_dir: Path) -> Path:
    return data_dir / "fvc2002"


@pytest.fixture(scope="session")
def softhsm_env(tmp_path_factory) -> dict[str, str]:
    """One SoftHSM2 token for the whole test session (the PKCS#11 library reads SOFTHSM2_CONF
    once per process); SOFTHSM2_CONF is set here for this process and its children.
    Tests keep apart by label prefix (`tests.helpers.softhsm.fresh_config`)."""
    env = make_token(tmp_path_factory.mktemp("softhsm"))
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    return env


@pytest.fixture
def centre(tmp_path, monkeypatch):
    """A centre in a temporary PAPILLA_HOME with one registered station and operator, for domain tests
    without a broker (lifecycle, legal, parties, match_service)."""
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    c = open_centre()
    yield c
    c.close()


@pytest.fixture
def offline_station(tmp_path, monkeypatch):
    """A station whose broker is unreachable (packets stay in its spool), with its operator as
    `station.operator` (capture and legal tests)."""
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_BROKER_URL", "amqp://guest:guest@127.0.0.1:1/%2F")  # nothing listens there
    settings = Settings.from_env()
    broker = rabbitmq_broker(settings)
    station = Station(station_id="st-test-1", signing_key=sealing.generate_signing_key(),
                      centre_public=sealing.generate_centre_key().public_key(),
                      outbox=Outbox(tmp_path / "spool", broker), gate=QualityGate(min_quality=0, max_attempts=1))
    station.operator = PartyKeys("op-test-1", sealing.generate_signing_key(), None)
    yield station
    broker.close()
