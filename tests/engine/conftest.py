"""Fixtures of the engine tests: FVC2002 DB1_B templates (extracted once per session) and random templates."""
from __future__ import annotations

import pytest

from papilla.bench import data
from papilla.services.match import engine
from papilla.shared.template import FingerTemplate


@pytest.fixture(scope="session")
def db1_templates(fvc_dir, tmp_path_factory) -> list[FingerTemplate]:
    mp = pytest.MonkeyPatch()
    mp.setenv("PAPILLA_BENCH_CACHE", str(tmp_path_factory.mktemp("db1-cache")))
    try:
        return data.templates_for(data.discover(fvc_dir / "DB1_B")[0], progress=False)
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def db1_packed(db1_templates) -> engine.PackedGallery:
    return engine.pack([engine.prepare(t) for t in db1_templates])
