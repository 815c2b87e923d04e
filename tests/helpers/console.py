"""Running the consoles for browser tests: a throwaway vhost, a centre home and a station home (separate
PAPILLA_HOMEs, onboarded by the CLI as on separate machines), the centre's workers, the two console servers as
processes, and Debian's chromium driven by Playwright (it cannot download its own browser here)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from papilla.devstack import ports as devstack_ports
from papilla.devstack.workers import WorkerProcess, start_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
from tests.helpers.harness import Vhost, clean_env, rabbit_reachable, rabbitmqctl  # noqa: F401 (re-exported)

VIEWPORT = {"width": 1366, "height": 768}


def papilla(home: Path, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    """`papilla ARGS` in the party's own PAPILLA_HOME; never a traceback."""
    proc = subprocess.run([sys.executable, "-m", "papilla.cli", *args], env={**env, "PAPILLA_HOME": str(home)},
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def free_port() -> int:
    return devstack_ports.free_port(span=1)


Process = WorkerProcess     # a console or worker process: .stop(), .text()


def start(name: str, argv: list[str], env: dict, logs: Path, ready, timeout: float = 180) -> Process:
    """`papilla ARGV` as a process, once `ready(process)` holds (it fails early when the process exits)."""
    return start_process(name, argv, env, logs, ready, ready_timeout=timeout, cwd=ROOT)


def listening(port: int):
    def ready(_process) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    return ready


def worker(role: str, env: dict, logs: Path) -> Process:
    return start(f"worker-{role}", ["worker", role], env, logs, lambda p: "ready:" in p.text())


def console(kind: str, args: list[str], env: dict, logs: Path) -> tuple[Process, str]:
    port = free_port()
    process = start(f"console-{kind}", ["console", kind, *args, "--port", str(port)], env, logs, listening(port))
    return process, f"http://127.0.0.1:{port}"


@dataclass
class World:
    """The homes, the parties and the running processes of a console test."""

    root: Path
    url: str
    env: dict
    centre: Path
    station: Path
    station_id: str
    operators: dict[str, str]             # at the station: principal id -> role
    centre_principals: dict[str, str]     # at the centre: principal id -> role
    service_id: str
    processes: list[Process] = field(default_factory=list)
    station_url: str = ""
    centre_url: str = ""

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def onboard(world: World) -> None:
    """`centre init` + export, the station's, its operators' and its service's keys made in the station home,
    the centre's principals in the centre home, every request file registered at the centre."""
    env, centre, station = world.env, world.centre, world.station
    for home in (centre, station):
        home.mkdir(parents=True, exist_ok=True)
    papilla(centre, "centre", "init", env=env)
    papilla(centre, "centre", "export-public-key", str(station / "centre-public.json"), env=env)
    requests = [("station", station, world.station_id), ("service", station, world.service_id)]
    papilla(station, "station", "init", world.station_id, "--label", "console test branch", env=env)
    papilla(station, "service", "init", world.service_id, env=env)
    for home, principals in ((station, world.operators), (centre, world.centre_principals)):
        for pid, role in principals.items():
            papilla(home, "principal", "init", pid, "--role", role, env=env)
            requests.append(("principal", home, pid))
    for kind, home, party in requests:
        papilla(centre, "centre", f"register-{kind}", str(home / "station" / f"{party}.registration.json"), env=env)


def person_folders(root: Path, fvc_db: Path, people: dict[str, tuple[int, int]]) -> Path:
    """The station's scanner folder: one subfolder per name with ten FVC images (first finger, impression)."""
    for name, (first_finger, impression) in people.items():
        folder = root / name
        folder.mkdir(parents=True)
        for position in range(1, 11):
            shutil.copy(fvc_db / f"{first_finger + position - 1}_{impression}.tif", folder / f"{position}.tif")
    return root


def launch_chromium(playwright):
    """Debian's chromium, headless (Playwright's own download is not possible here); Playwright gives it a fresh
    temporary profile (user-data-dir) and each `new_context()` is a separate person's browser."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
