from __future__ import annotations

import pytest

from papilla.services.extract.engine import warm_up


@pytest.fixture(scope="session", autouse=True)
def _compiled():
    warm_up()
