"""A centre in a temporary PAPILLA_HOME with the MOSIP partner registered, and a CBEFF server on 127.0.0.1."""
from __future__ import annotations

import json

import pytest

from papilla.cli import main
from tests.helpers.abis import cbeff_server, open_partner_centre, partner_env


@pytest.fixture
def abis_home(tmp_path, monkeypatch):
    partner_env(monkeypatch, tmp_path)
    open_partner_centre().close()
    return tmp_path


@pytest.fixture
def server():
    with cbeff_server() as s:
        yield s


@pytest.fixture
def call(abis_home, capsys, monkeypatch):
    """`papilla abis call` on a request document: (exit code, response) in the given profile."""
    counter = iter(range(1_000_000))

    def run(doc, profile: str = "spec"):
        monkeypatch.setenv("PAPILLA_ABIS_PROFILE", profile)
        path = abis_home / f"request-{next(counter)}.json"
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        capsys.readouterr()
        code = main(["abis", "call", str(path)])
        return code, json.loads(capsys.readouterr().out)
    return run
