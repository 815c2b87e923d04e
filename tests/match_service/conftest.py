"""A throwaway vhost for shard processes, terminated after the test."""
from __future__ import annotations

import os

import pytest

from tests.helpers.harness import Vhost


@pytest.fixture
def shards_env(centre, tmp_path):
    with Vhost() as url:
        env = {**os.environ, "PAPILLA_BROKER_URL": url, "PAPILLA_METRICS_PORT": "0"}
        procs = []
        yield env, url, procs
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
