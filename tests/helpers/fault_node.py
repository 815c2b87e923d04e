"""A RabbitMQ node of the fault suite's own, beside the shared one (DESIGN.md pitfalls): its own HOME (Erlang
cookie), node name, AMQP and distribution ports, data, logs, pid file, no plugins and a config listening on
loopback only. Stopping and starting it never touches the shared broker on 5672."""
from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

from tests.helpers.harness import free_port


def _tool(name: str) -> str:
    """The RabbitMQ script itself: Debian's /usr/sbin wrappers `su` to the rabbitmq user, which resets HOME (the
    cookie) and cannot write the node's directories under the test's temporary folder."""
    direct = Path("/usr/lib/rabbitmq/bin") / name
    return str(direct) if direct.exists() else name


class RabbitNode:
    def __init__(self, base: Path):
        self.base = base
        self.name = f"papilla-faults-{secrets.token_hex(3)}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        (base / "home").mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "max_message_size = 42991616\n"
            "consumer_timeout = 3600000\n")
        self.env = {**os.environ, "HOME": str(base / "home"), "RABBITMQ_NODENAME": self.name,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                    "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
                    "RABBITMQ_PID_FILE": str(base / "node.pid"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf")}
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str, timeout: float = 120) -> str:
        return subprocess.run([_tool("rabbitmqctl"), "-q", "-n", self.name, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=timeout).stdout

    def start(self) -> None:
        subprocess.run([_tool("rabbitmq-server"), "-detached"], env=self.env, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 120
        while True:   # `await_startup` answers "unavailable" until the Erlang node itself is up
            try:
                self.ctl("await_startup", "--timeout", "120", timeout=150)
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"RabbitMQ node {self.name} did not start; logs in {self.base / 'log'}")
                time.sleep(0.5)

    def stop(self) -> None:
        self.ctl("stop")

    def queue_counts(self) -> dict[str, int]:
        """Ready plus unacknowledged (held by a consumer or delayed) messages per queue."""
        counts = {}
        for line in self.ctl("list_queues", "--no-table-headers", "name", "messages_ready",
                             "messages_unacknowledged").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1]) + int(parts[2])
        return counts
