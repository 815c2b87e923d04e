"""A bare throwaway vhost on the shared broker (127.0.0.1:5672, guest): nothing declared, as before any centre
worker ran. Only vhosts are created and deleted there."""
from __future__ import annotations

import secrets
import socket
import subprocess

import pytest


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def bare_vhost():
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    name = f"papilla-test-{secrets.token_hex(4)}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)
