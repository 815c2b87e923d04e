"""A throwaway RabbitMQ node beside the shared one: its own HOME (cookie), node name, ports and files.

Everything that could collide with the shared node on 127.0.0.1:5672 is the node's own, and it is stopped by
its own name (DESIGN.md's pitfalls)."""
from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from .ports import free_port

#: The scripts behind Debian's /usr/sbin wrappers, which `su` to the rabbitmq user and reset HOME.
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class RabbitNode:
    def __init__(self, workdir: Path, *, conf: str, plugins: tuple[str, ...] = (), name: str = "papilla-node"):
        """`conf` may use {ssl_port} and {stomp_port}: free ports reserved for a TLS and a STOMP listener. With
        the rabbitmq_prometheus plugin the node's metrics listen on `prom_port`."""
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError(f"RabbitMQ is not installed ({RABBIT_BIN} missing)")
        self.dir = workdir
        self.name = f"{name}-{os.getpid()}@localhost"
        self.port, self.dist_port, self.prom_port = free_port(), free_port(), free_port()
        self.ssl_port, self.stomp_port = free_port(), free_port()
        (workdir / "home").mkdir()
        (workdir / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
        metrics = (f"prometheus.tcp.port = {self.prom_port}\nprometheus.tcp.ip = 127.0.0.1\n"
                   if "rabbitmq_prometheus" in plugins else "")
        (workdir / "rabbitmq.conf").write_text(
            conf.format(ssl_port=self.ssl_port, stomp_port=self.stomp_port)
            + f"\nlisteners.tcp.default = 127.0.0.1:{self.port}\n" + metrics)
        self.env = {**os.environ, "HOME": str(workdir / "home"), "RABBITMQ_NODENAME": self.name,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                    "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"), "RABBITMQ_LOG_BASE": str(workdir / "log"),
                    "RABBITMQ_PID_FILE": str(workdir / "rabbit.pid"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq")}   # .conf is appended

    def start(self, timeout: float = 120) -> "RabbitNode":
        subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env, check=True,
                       capture_output=True, timeout=60)
        # `-detached` returns before the node registers with epmd: `wait PIDFILE` waits for both.
        self.ctl("wait", str(self.dir / "rabbit.pid"), "--timeout", str(int(timeout)), timeout=timeout + 10)
        return self

    def ctl(self, *args: str, timeout: float = 60, check: bool = True, stdin: str | None = None
            ) -> subprocess.CompletedProcess:
        done = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, "-q", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def url(self, user: str, password: str, vhost: str = "papilla") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/{vhost}"

    def scrape(self, path: str) -> str:
        return urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}{path}", timeout=10).read().decode()

    def stop(self) -> None:
        self.ctl("stop", timeout=120, check=False)
        pid = self.dir / "rabbit.pid"
        deadline = time.monotonic() + 60
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
