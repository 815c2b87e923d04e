"""A centre in a temporary PAPILLA_HOME with one registered station and operator, for domain tests without a broker."""
from __future__ import annotations

import pytest

from papilla.identity import ensure_sender
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.principals import sign
from papilla.shared.results import MemoryResultSink

STATION, OPERATOR = "st-unit-01", "op-unit-01"


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    settings = Settings.from_env()
    init_centre(settings)
    c = Centre.open(settings, publisher=MemoryResultSink())
    c.station_key = ensure_sender(c, settings, STATION, "station").signing
    c.operator = ensure_sender(c, settings, OPERATOR, "principal", role="operator")
    yield c
    c.close()


def signed_by_operator(centre, packet):
    return sign(packet, "operator_signature", centre.operator.signing)
