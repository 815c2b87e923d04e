"""A worker started with a setting that cannot work says so in one sentence and exits 2 (issue 8, defect 6),
instead of printing "ready" and logging tracebacks."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
#: every worker start checks the broker first (`check_broker`), so each test reaches RabbitMQ on 5672
pytestmark = pytest.mark.broker


def worker(home: Path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
    return subprocess.run([sys.executable, "-m", "papilla.cli", "worker", "extract"], cwd=ROOT, timeout=120,
                          env={**base, "PAPILLA_HOME": str(home), **env}, capture_output=True, text=True)


@pytest.fixture(scope="module")
def centre_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("worker-start")
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
    subprocess.run([sys.executable, "-m", "papilla.cli", "centre", "init"], cwd=ROOT, check=True, timeout=120,
                   env={**base, "PAPILLA_HOME": str(home)}, capture_output=True)
    return home


@pytest.mark.parametrize("url,sentence", [
    ("amqp://guest:wrong@127.0.0.1:5672/%2F", "refused the user name or password"),
    ("amqp://guest:guest@127.0.0.1:5672/papilla-no-such-vhost", "denied access to the virtual host"),
    ("amqp://guest:guest@127.0.0.1:1/%2F", "cannot reach RabbitMQ"),
])
def test_a_broker_the_worker_cannot_use_is_one_sentence(centre_home, url, sentence):
    done = worker(centre_home, PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0")
    assert done.returncode == 2 and "ready" not in done.stdout
    assert done.stderr.strip().count("\n") == 0 and sentence in done.stderr and "wrong" not in done.stderr


def test_a_metrics_port_in_use_is_one_sentence(centre_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = worker(centre_home, PAPILLA_METRICS_PORT=str(busy.getsockname()[1]))
    assert done.returncode == 2 and "cannot serve /metrics" in done.stderr and "Traceback" not in done.stderr


def test_a_home_without_centre_keys_is_one_sentence(tmp_path):
    done = worker(tmp_path, PAPILLA_METRICS_PORT="0")
    assert done.returncode == 2 and "papilla centre init" in done.stderr and "Traceback" not in done.stderr


def test_request_and_station_commands_name_a_refused_broker_user_or_vhost(tmp_path):
    """A refused user or vhost is a mistake to report (not, at a station, an outage to spool)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
    env = {**base, "PAPILLA_HOME": str(tmp_path)}

    def papilla(*args, url="amqp://guest:guest@127.0.0.1:5672/%2F"):
        return subprocess.run([sys.executable, "-m", "papilla.cli", *args], cwd=ROOT, timeout=120,
                              env={**env, "PAPILLA_BROKER_URL": url}, capture_output=True, text=True)

    for args in (("service", "init", "svc-w-1"), ("station", "init", "st-w-1"),
                 ("principal", "init", "op-w-1", "--role", "operator")):
        assert papilla(*args).returncode == 0
    centre_home = tmp_path / "centre"
    assert subprocess.run([sys.executable, "-m", "papilla.cli", "centre", "init"], cwd=ROOT, timeout=120,
                          env={**base, "PAPILLA_HOME": str(centre_home)}, capture_output=True).returncode == 0
    assert subprocess.run([sys.executable, "-m", "papilla.cli", "centre", "export-public-key",
                           str(tmp_path / "centre-public.json")], cwd=ROOT, timeout=120,
                          env={**base, "PAPILLA_HOME": str(centre_home)}, capture_output=True).returncode == 0
    probe = tmp_path / "x.png"      # a probe file that exists: the request is checked before it reaches the broker
    Image.fromarray(np.full((64, 64), 128, dtype=np.uint8)).save(probe)
    done = papilla("request", "verify", "svc-w-1", "--iin", "860412400619", "--finger", f"2={probe}",
                   url="amqp://guest:wrong@127.0.0.1:5672/%2F")
    assert done.returncode == 2 and "refused the user name or password" in done.stderr
    assert "Traceback" not in done.stderr and "wrong" not in done.stderr
    done = papilla("station", "enroll", "st-w-1", "--operator", "op-w-1", "--iin", "860412400619", "--name", "N",
                   "--document-type", "id_card", "--document-number", "N1", "--document-birth-date", "1986-04-12",
                   "--consent-ref", "form-1", "--conditions-explained", "--synthetic", "1", url="amqp://guest:guest@127.0.0.1:5672/papilla-no-such-vhost")
    assert done.returncode == 2 and "denied access to the virtual host" in done.stderr
    assert "Traceback" not in done.stderr and not list((tmp_path / "spool").rglob("*.sealed"))
