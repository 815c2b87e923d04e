"""The local processes demo_stack.py runs: a throwaway RabbitMQ node, worker processes, a Prometheus server,
and the scanner and applicant papers a station enrolls with. Everything listens on 127.0.0.1 only.

Not imported by the tests: tests/helpers/ has its own copies (rabbit_node.py, harness.py, prometheus.py,
builders.py), so the demo does not depend on test code and the tests do not depend on infra/."""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from papilla.services.capture.devices import CapturedImage, FolderScanner
from papilla.services.capture.station import ConsentForm
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin
from papilla.shared.messages import IdentityDocument
from papilla.shared.routing import ROLE_METRICS_OFFSET

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_INFRA = REPO / "infra" / "prometheus"
ROLES = ("extract", "match", "lifecycle")
#: The scripts behind Debian's /usr/sbin wrappers, which `su` to the rabbitmq user and reset HOME.
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
#: A worker listens at base + its role offset and shard processes at base + 10 + K: the whole span must be free.
PORT_SPAN = 24
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = PORT_SPAN) -> int:
    """A base port with `span` free ports from it, below the kernel's ephemeral range."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(10_000, low - span)
        ports = range(base, base + span)
        if _handed_out.isdisjoint(ports) and all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError(f"no {span} free ports in a row between 10000 and {low}")


class RabbitNode:
    """A RabbitMQ node of its own (HOME, cookie, node name, ports, files), stopped by its own name."""

    def __init__(self, workdir: Path, *, conf: str, plugins: tuple[str, ...] = ()):
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError(f"RabbitMQ is not installed ({RABBIT_BIN} missing)")
        self.dir = workdir
        self.name = f"papilla-demo-{os.getpid()}@localhost"
        self.port, self.dist_port, self.prom_port = free_port(), free_port(), free_port()
        (workdir / "home").mkdir()
        (workdir / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
        (workdir / "rabbitmq.conf").write_text(
            conf + f"\nlisteners.tcp.default = 127.0.0.1:{self.port}\n"
            f"prometheus.tcp.port = {self.prom_port}\nprometheus.tcp.ip = 127.0.0.1\n")
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

    def ctl(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, "-q", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def url(self, user: str, password: str, vhost: str = "papilla") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/{vhost}"

    def stop(self) -> None:
        self.ctl("stop", timeout=120, check=False)
        pid = self.dir / "rabbit.pid"
        deadline = time.monotonic() + 60
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.2)


@dataclass
class WorkerProcess:
    role: str
    proc: subprocess.Popen
    log_path: Path

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_worker(role: str, env: dict, log_dir: Path, *, ready_timeout: float = 180) -> WorkerProcess:
    """`papilla worker ROLE` as a process, returned once it logged `ready:`."""
    log_path = log_dir / f"{role}-{time.monotonic_ns()}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "papilla.cli", "worker", role], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{role} worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if b"ready:" in log_path.read_bytes():
            return WorkerProcess(role, proc, log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{role} worker not ready within {ready_timeout} s:\n{log_path.read_text()[-3000:]}")


def prometheus_config(base_port: int, rules: Path) -> dict:
    """The shipped prometheus.yml, pointed at the workers listening from `base_port`."""
    config = yaml.safe_load((PROMETHEUS_INFRA / "prometheus.yml").read_text())
    config["rule_files"] = [str(rules)]
    jobs = []
    for job in config["scrape_configs"]:
        role = job["job_name"].removeprefix("papilla-")
        if role in ROLES:
            job.pop("file_sd_configs", None)
            job["static_configs"] = [{"targets": [f"127.0.0.1:{base_port + ROLE_METRICS_OFFSET[role]}"]}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    return config


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


class Prometheus:
    """A Prometheus server (Debian's package) on a free port of 127.0.0.1 with `config`."""

    def __init__(self, workdir: Path, config: dict):
        exe = shutil.which("prometheus")
        if exe is None:
            raise RuntimeError("prometheus not found: install Debian's `prometheus` package")
        self.port = free_port()
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_for(self._ready, 60, "prometheus ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {Path(self.log.name).read_text()[-2000:]}")
        try:
            return urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    def query(self, expr: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        body = json.load(urllib.request.urlopen(url, timeout=10))
        if body["status"] != "success":
            raise RuntimeError(f"prometheus query {expr!r} failed: {body}")
        return body["data"]["result"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class FvcScanner(FolderScanner):
    """A scanner that 'captures' FVC images: finger position → `<finger>_<impression>` in one database."""

    def __init__(self, db_dir: Path, mapping: dict[int, str], dpi: int = 500):
        super().__init__(db_dir, {p: f"{name}.tif" for p, name in mapping.items()}, dpi=dpi)

    def images(self) -> dict[int, CapturedImage]:
        return {p: self.capture(p) for p in self.mapping}


def statuses(captured: set[int]) -> dict[int, str]:
    """Finger status of `Station.enroll`: the `captured` positions, the others amputated."""
    return {p: ("captured" if p in captured else "amputated") for p in range(1, 11)}


def document_for(iin: str) -> IdentityDocument:
    """An identity card whose birth date is the IIN's (the demo's IINs are valid)."""
    try:
        birth = birth_date_from_iin(iin)
    except InvalidIIN as err:
        raise ValueError("the demo enrolls valid test IINs only") from err
    return IdentityDocument(type="id_card", number="N04412345", birth_date=birth)


def consent_form(signed_on: date) -> ConsentForm:
    """The Annex form of Rules 406 signed by the applicant on `signed_on`, conditions explained."""
    return ConsentForm(signature_ref="form-406-0001", signed_on=signed_on, conditions_explained=True,
                       signed_by="subject", application_ref=None)
