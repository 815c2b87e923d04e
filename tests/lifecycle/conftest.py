"""A centre in a temporary PAPILLA_HOME with one registered station, for domain tests without a broker."""
from __future__ import annotations

import pytest

from papilla.identity import ensure_sender
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.results import MemoryResultSink

STATION = "st-unit-01"


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    settings = Settings.from_env()
    c = Centre.open(settings, publisher=MemoryResultSink())
    c.station_key = ensure_sender(c, settings, STATION, "station")
    yield c
    c.close()
