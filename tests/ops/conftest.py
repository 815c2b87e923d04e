"""A RabbitMQ node of its own, booted with the shipped infra/rabbitmq/ files (only paths and ports replaced).

Session-scoped: the broker tests under tests/ops share one node (booting one takes ~10 s on these machines).
Each test uses its own queues or cleans up what it filled; the shared node on 5672 is never touched.
"""
from __future__ import annotations

import pytest

from tests.helpers.rabbit_node import INFRA, PASSWORD, SHIPPED_USERS, RabbitNode, make_tls, shipped_conf


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    work = tmp_path_factory.mktemp("rabbit-node")
    tls = make_tls(tmp_path_factory.mktemp("tls"))
    rabbit = RabbitNode(work, plugins=("rabbitmq_prometheus",), conf=shipped_conf(INFRA, tls))
    rabbit.start()
    try:
        for user in SHIPPED_USERS:
            rabbit.ctl("change_password", user, PASSWORD)
        rabbit.tls = tls
        yield rabbit
    finally:
        rabbit.stop()
