"""Running the real thing for pipeline tests: a RabbitMQ vhost, worker processes, a station, a client."""
from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from papilla.devstack.fvc import FvcScanner, statuses  # noqa: F401  (re-exported for the tests)
from papilla.devstack.ports import PORT_SPAN, free_port  # noqa: F401
from papilla.devstack.workers import WorkerProcess, start_worker  # noqa: F401
from papilla.shared.broker import declare_intake, rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.routing import INTAKE_ROUTES

RABBIT = ("127.0.0.1", 5672)
ROOT = Path(__file__).resolve().parents[2]


def rabbit_reachable() -> bool:
    try:
        with socket.create_connection(RABBIT, timeout=2):
            return True
    except OSError:
        return False


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class Vhost:
    """A throwaway vhost so tests never touch queues of anything else on the broker; its intake exchange and
    queues are declared as the centre's broker has them (definitions.json), so a station may send before any
    worker ran."""

    def __init__(self):
        self.name = f"papilla-test-{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        url = f"amqp://guest:guest@127.0.0.1:5672/{self.name}"
        declare_centre_intake(url)
        return url

    def __exit__(self, *exc) -> None:
        rabbitmqctl("delete_vhost", self.name)


def declare_centre_intake(url: str) -> None:
    """The intake exchange and the queues outside parties send to, bound, as a worker declares them at boot."""
    broker = rabbitmq_broker(dataclasses.replace(Settings.from_env(), broker_url=url))
    try:
        declare_intake(broker, tuple(route.queue for route in INTAKE_ROUTES))
    finally:
        broker.close()


def vhost_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def queue_counts(url: str) -> dict[str, int]:
    """Messages per queue of the vhost of `url`, ready plus unacknowledged (held by a consumer or delayed):
    `rabbitmqctl list_queues` (no management plugin needed; a passive declare counts only ready messages)."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost_of(url), "--no-table-headers",
                          "name", "messages_ready", "messages_unacknowledged"],
                         check=True, capture_output=True, timeout=60, text=True).stdout
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1]) + int(parts[2])
    return counts


def wait_until(predicate, timeout: float = 120, poll: float = 0.2) -> bool:
    """Wait for a positive condition; False when it did not hold within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def pipeline_quiet(url: str) -> bool:
    """Nothing more will happen: every work queue (not the services' result queues) is empty, nothing unacked
    or delayed. Each stage sends its next message before acking its own, so an all-empty view means done."""
    return all(n == 0 for q, n in queue_counts(url).items() if not q.startswith("papilla.results."))


def wait_quiet(url: str, timeout: float = 180) -> None:
    if not wait_until(lambda: pipeline_quiet(url), timeout, poll=0.5):
        raise AssertionError(f"the pipeline did not settle within {timeout} s: {queue_counts(url)}")


@dataclass
class Onboarded:
    """A centre with its public key file, and the parties a pipeline test plays, onboarded by request file."""
    centre: object
    centre_public: object
    centre_public_file: Path
    station_keys: object
    operator: object
    principals: dict


def onboard(settings, home: Path, *, station: str, service: str, operator: str,
            principals: dict[str, str] | None = None) -> Onboarded:
    """What every pipeline fixture does first: `papilla centre init` + export, then a station, a service, the
    station's operator and any other principals (id → role) registered from their request files."""
    from papilla.identity import ensure_sender
    from papilla.shared.centre import Centre
    from papilla.shared.parties import export_centre_public, init_centre
    from papilla.shared.results import MemoryResultSink

    centre_public, _ = init_centre(settings)
    public_file = home / "centre-public.json"
    export_centre_public(settings, public_file)
    centre = Centre.open(settings, publisher=MemoryResultSink())
    station_keys = ensure_sender(centre, settings, station, "station")
    ensure_sender(centre, settings, service, "service")
    operator_keys = ensure_sender(centre, settings, operator, "principal", role="operator")
    others = {pid: ensure_sender(centre, settings, pid, "principal", role=role)
              for pid, role in (principals or {}).items()}
    return Onboarded(centre, centre_public, public_file, station_keys, operator_keys, others)


def station_and_client(parties: Onboarded, settings, url: str, broker, *, station: str, service: str):
    """The test's station (gate off: every capture is taken), its results waiter, and the service's client."""
    from papilla.client import PapillaClient, RabbitResultWaiter, ResultOpener
    from papilla.services.capture.outbox import Outbox
    from papilla.services.capture.station import QualityGate, Station

    opener = ResultOpener(parties.station_keys, parties.centre_public)
    station_obj = Station(station_id=station, signing_key=parties.station_keys.signing,
                          centre_public=parties.centre_public.box, outbox=Outbox(settings.spool_dir, broker),
                          gate=QualityGate(min_quality=0, max_attempts=1))
    client = PapillaClient.connect(broker_url=url, service_id=service, key_dir=settings.station_key_dir,
                                   centre_public_file=parties.centre_public_file)
    return station_obj, RabbitResultWaiter(url, station, opener), opener, client


def papilla_cli(home: Path, *args: str, env: dict, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """`papilla ARGS` as its own process in the party's PAPILLA_HOME `home` (a party on its own machine).
    Never a traceback; with `check`, exit 0."""
    proc = subprocess.run([sys.executable, "-m", "papilla.cli", *args], env={**env, "PAPILLA_HOME": str(home)},
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def clean_env(**extra: str) -> dict:
    """The environment without any PAPILLA_ setting of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
    env.update(extra)
    return env


def onboard_homes(root: Path, env: dict, *, stations: dict[str, str], services: tuple[str, ...] = ()) -> dict:
    """Centre, station and service homes under `root`, onboarded by the CLI exactly as on separate machines:
    `centre init` + export of the public key file (the only thing the others receive), each party's own
    `init`, the centre registering each request file. `stations`: station id -> its operator id.
    Returns {"centre": Path, "station": Path, "service": Path, "public": Path}."""
    homes = {name: root / name for name in ("centre", "station", "service")}
    papilla_cli(homes["centre"], "centre", "init", env=env)
    public = root / "centre-public.json"
    papilla_cli(homes["centre"], "centre", "export-public-key", str(public), env=env)
    for name in ("station", "service"):
        homes[name].mkdir(parents=True, exist_ok=True)
        shutil.copy(public, homes[name] / "centre-public.json")
    requests = []
    for station in stations:
        papilla_cli(homes["station"], "station", "init", station, env=env)
        requests.append((homes["station"], station, "station"))
    for operator in dict.fromkeys(stations.values()):       # an operator may serve several stations
        papilla_cli(homes["station"], "principal", "init", operator, "--role", "operator", env=env)
        requests.append((homes["station"], operator, "principal"))
    for service in services:
        papilla_cli(homes["service"], "service", "init", service, env=env)
        requests.append((homes["service"], service, "service"))
    for home, party, kind in requests:
        papilla_cli(homes["centre"], "centre", f"register-{kind}",
                    str(home / "station" / f"{party}.registration.json"), env=env)
    return {**homes, "public": public}


def valid_iins(birth, male: bool, first_serial: int, count: int) -> list[str]:
    """`count` distinct valid test IINs for one birth date and sex, from `first_serial` on (serials without a
    check digit are skipped)."""
    found, serial = [], first_serial
    while len(found) < count:
        try:
            found.append(make_test_iin(birth, male, serial))
        except ValueError:
            pass
        serial += 1
    return found
