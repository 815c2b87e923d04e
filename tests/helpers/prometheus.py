"""A real Prometheus (Debian's package) for the ops tests: the shipped scrape config pointed at test workers
and scraped every second, a server process on a free port (papilla.devstack), and promtool."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from papilla.devstack import prometheus as devstack_prometheus
from papilla.devstack.prometheus import ROLES, Prometheus, wait_for  # noqa: F401  (re-exported for the tests)

INFRA = Path(__file__).resolve().parents[2] / "infra" / "prometheus"


def prometheus_config(base_port: int, rules: Path) -> dict:
    """The shipped prometheus.yml, pointed at this test's workers and scraped every second (RabbitMQ's
    exporter and stations are covered by their own tests)."""
    return devstack_prometheus.prometheus_config(INFRA / "prometheus.yml", base_port, rules, scrape_interval="1s")


def promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package (./run.sh test does)")
    return subprocess.run([exe, *args], cwd=INFRA, capture_output=True, text=True, timeout=120)
