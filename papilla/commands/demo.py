"""`papilla demo`: enroll a few people, catch a duplicate, verify a genuine and an impostor.

With `--broker URL` (or PAPILLA_BROKER_URL) the demo starts the three
workers as processes on RabbitMQ, exactly as in production; with neither it
runs everything in this one process on an in-process broker and says so.
Fingerprints come from the synthetic generator unless `--data DIR` points at
an FVC-layout folder (e.g. ../shared/data/fvc2002/DB1_B).
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

STATION, SERVICE, OPERATOR = "st-demo-01", "svc-demo", "op-demo-01"
VERIFY_FINGERS = (2, 7)   # right and left index


class _Sources:
    """Where a demo person's fingers come from: synthetic people, or FVC fingers two per person."""

    def __init__(self, data: Path | None):
        self.data = data

    def positions(self) -> list[int]:
        return [2, 7] if self.data else list(range(1, 11))

    def scanner(self, person: int, session: int):
        if self.data:
            from papilla.services.capture.devices import FolderScanner

            fingers = {2: 101 + 2 * person, 7: 102 + 2 * person}
            return FolderScanner(self.data, {p: f"{f}_{session + 1}.tif" for p, f in fingers.items()},
                                 dpi=_dpi_of(self.data))
        from papilla.services.capture.synthetic.scanner import SyntheticScanner

        return SyntheticScanner(person_seed=1000 + person, session_seed=session)

    def max_people(self) -> int:
        return 5 if self.data else 1_000


def _dpi_of(folder: Path) -> int:
    import json

    dpi_file = folder.parent / "dpi.json"
    if dpi_file.exists():
        return int(json.loads(dpi_file.read_text()).get(folder.name, 500))
    return 500


def _iin(person: int) -> str:
    from papilla.shared.crypto.iin import make_test_iin

    for serial in range(person * 10 + 1, person * 10 + 10):
        try:
            return make_test_iin(date(1970 + person % 30, 1 + person % 12, 1 + person % 28), person % 2 == 0, serial)
        except ValueError:
            continue
    raise RuntimeError("no valid demo IIN")


def _papers(person: int, iin: str) -> dict:
    """The demo person's identity document and signed consent form, as an operator would enter them."""
    from papilla.services.capture.station import ConsentForm
    from papilla.shared.crypto.iin import birth_date_from_iin
    from papilla.shared.messages import IdentityDocument

    return {"iin": iin, "document": IdentityDocument(type="id_card", number=f"DEMO{person:06d}",
                                                     birth_date=birth_date_from_iin(iin)),
            "consent": ConsentForm(signature_ref=f"consent-{person}", signed_on=date.today(),
                                   conditions_explained=True, signed_by="subject")}


def _below_gate():
    """The demo has no operator: a finger that stays below the gate is recorded as unable to print (and shown)."""
    from papilla.services.capture.workflow import Choice, FixedChoice

    return FixedChoice(Choice("exception", "unable_to_print"))


def run(args) -> int:
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="papilla-demo-"))
    os.environ["PAPILLA_HOME"] = str(home)
    os.environ.pop("PAPILLA_STORE_URI", None)
    broker_url = args.broker or os.environ.get("PAPILLA_BROKER_URL")
    if broker_url:
        os.environ["PAPILLA_BROKER_URL"] = broker_url
    sources = _Sources(Path(args.data) if args.data else None)
    people = min(args.people, sources.max_people())
    if people < 3:
        print("the demo needs at least 3 people", file=sys.stderr)
        return 2
    print(f"Papilla demo: {people} people, state in {home}")
    print("mode: RabbitMQ at " + _masked(broker_url) if broker_url else
          "mode: NO broker URL given: single-process demo on an in-process broker (nothing durable)")
    with _Deployment(broker_url, home) as deployment:
        return _scenario(deployment, sources, people)


def _masked(url: str) -> str:
    from papilla.shared.config import mask_secrets
    return mask_secrets(url)


class _Deployment:
    """Centre, workers, station and client for the demo, in one process or over RabbitMQ."""

    def __init__(self, broker_url: str | None, home: Path):
        self.broker_url, self.home = broker_url, home
        self.procs = []

    def __enter__(self):
        import dramatiq

        from papilla.client import PapillaClient, RabbitResultWaiter, ResultOpener, StoreResultWaiter
        from papilla.identity import ensure_sender
        from papilla.services.workers import runtime
        from papilla.services.capture.outbox import Outbox
        from papilla.services.capture.station import QualityGate, Station
        from papilla.shared.broker import in_process_broker, rabbitmq_broker
        from papilla.shared.centre import Centre
        from papilla.shared.config import Settings
        from papilla.shared.parties import init_centre
        from papilla.shared.results import MemoryResultSink

        settings = Settings.from_env()
        centre_public, _ = init_centre(settings)   # the demo plays the centre: it may make the centre's keys
        self.centre = Centre.open(settings, publisher=MemoryResultSink())
        station_keys = ensure_sender(self.centre, settings, STATION, "station", label="demo branch")
        service_keys = ensure_sender(self.centre, settings, SERVICE, "service", label="demo public service")
        self.operator = ensure_sender(self.centre, settings, OPERATOR, "principal", label="demo operator",
                                      role="operator")
        if self.broker_url:
            self.broker = rabbitmq_broker(settings)
            self._start_workers()
            station_waiter = RabbitResultWaiter(self.broker_url, STATION, ResultOpener(station_keys, centre_public))
            service_waiter = RabbitResultWaiter(self.broker_url, SERVICE, ResultOpener(service_keys, centre_public))
        else:
            runtime.install_centre(self.centre)
            first, rest = runtime.worker_middleware()
            self.broker = in_process_broker(settings, rest, first_middleware=first)
            dramatiq.set_broker(self.broker)
            import papilla.services.workers.extract_actors  # noqa: F401  (actors register on the broker)
            import papilla.services.workers.lifecycle_actors  # noqa: F401
            import papilla.services.workers.match_actors  # noqa: F401
            runtime.declare_undecodable(self.broker)
            self.worker = dramatiq.Worker(self.broker, worker_threads=2)
            self.worker.start()
            station_waiter = service_waiter = StoreResultWaiter(self.centre.store)
        self.station_results = station_waiter
        self.station = Station(station_id=STATION, signing_key=station_keys.signing, centre_public=centre_public.box,
                               outbox=Outbox(settings.spool_dir, self.broker),
                               gate=QualityGate(min_quality=settings.min_finger_quality))
        self.client = PapillaClient(broker=self.broker, service_id=SERVICE, signing_key=service_keys.signing,
                                    centre_public=centre_public.box, waiter=service_waiter,
                                    store=self.centre.store)
        return self

    def _start_workers(self):
        import subprocess

        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for role in ("extract", "match", "lifecycle"):
            log = open(logs / f"{role}.log", "wb")
            self.procs.append((role, subprocess.Popen([sys.executable, "-m", "papilla.cli", "worker", role],
                                                      stdout=log, stderr=subprocess.STDOUT), logs / f"{role}.log"))
        deadline = time.monotonic() + 300
        for role, proc, log_path in self.procs:
            while b"ready:" not in log_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{role} worker did not start; see {log_path}")
                time.sleep(0.2)
        print(f"workers started: extract, match, lifecycle (logs in {logs})")

    def __exit__(self, *exc):
        if self.broker_url:
            for _, proc, _ in self.procs:
                proc.terminate()
            for _, proc, _ in self.procs:
                proc.wait(60)
        else:
            self.worker.stop()
        self.broker.close()
        self.centre.close()


def _scenario(d: _Deployment, sources: _Sources, people: int) -> int:
    from tqdm import tqdm

    from papilla.services.match.matching import dedup_cut, verify_cut

    positions = sources.positions()
    statuses = {p: ("captured" if p in positions else "unable_to_print") for p in range(1, 11)}
    started = time.perf_counter()
    enrolled, summary = {}, []
    for person in tqdm(range(people), desc="enrolling", unit="person", file=sys.stderr):
        report = d.station.enroll(**_papers(person, _iin(person)), full_name=_name(person),
                                  scanner=sources.scanner(person, session=0), operator=d.operator,
                                  decisions=_below_gate(), finger_status=statuses)
        enrolled[person] = (report, d.station_results.wait(report.packet_id, 600))
    for person, (report, result) in enrolled.items():
        print(f"  {_name(person)}: enrollment {result.status}"
              f"{' (' + result.reason + ')' if result.reason else ''}; finger quality "
              f"{min(report.qualities.values(), default='-')}-{max(report.qualities.values(), default='-')}"
              + (f", {below} finger(s) left below the gate, recorded as unable to print"
                 if (below := sum(1 for f in report.exceptions if f.attempts)) else ""))
    active = sum(r.status == "ACTIVE" for _, r in enrolled.values())
    summary.append(("enrolled ACTIVE", f"{active}/{people}"))

    names = {report.packet_id: _name(person) for person, (report, _) in enrolled.items()}
    dup_report = d.station.enroll(**_papers(people + 50, _iin(people + 50)), full_name=DUPLICATE,
                                  scanner=sources.scanner(0, session=1), operator=d.operator,
                                  decisions=_below_gate(), finger_status=statuses)
    dup = d.station_results.wait(dup_report.packet_id, 600)
    caught = dup.status == "PENDING_REVIEW" and any(
        c.enrollment_id == enrolled[0][0].packet_id for c in dup.candidates)
    print(f"  {DUPLICATE} ({_name(0)}'s fingers, new impressions, under another IIN): {dup.status}")
    for line in duplicate_lines(dup, names, dedup_cut(d.centre.settings, active)):
        print(f"    {line}")
    summary.append(("duplicate caught", "yes" if caught else "NO"))

    cut = verify_cut(d.centre.settings)
    genuine_scanner = sources.scanner(1, session=2)
    probe = {p: genuine_scanner.capture(p) for p in VERIFY_FINGERS if p in positions}
    genuine = d.client.wait(d.client.verify(_iin(1), probe), 600)
    impostor_scanner = sources.scanner(2, session=2)
    probe = {p: impostor_scanner.capture(p) for p in VERIFY_FINGERS if p in positions}
    impostor = d.client.wait(d.client.verify(_iin(1), probe), 600)
    print(f"  verify {_name(1)} with new impressions of their fingers: {verify_line(genuine, cut)}")
    print(f"  verify {_name(1)} with {_name(2)}'s fingers: {verify_line(impostor, cut)}")
    summary.append(("genuine verify", genuine.status))
    summary.append(("impostor verify", impostor.status))
    summary.append(("elapsed", f"{time.perf_counter() - started:.1f} s"))
    ok = active == people and caught and genuine.status == "MATCH" and impostor.status == "NO_MATCH"
    print("\nSummary")
    for name, value in summary:
        print(f"  {name:<18} {value}")
    print("  result             " + ("all as expected" if ok else "UNEXPECTED OUTCOME"))
    return 0 if ok else 1


DUPLICATE = "Demo Duplicate"


def _name(person: int) -> str:
    return f"Demo Person {person}"


def _held(score: float, cut) -> str:
    """A score beside the threshold it was held against: "0.812 >= duplicate threshold 0.153"."""
    return f"{score:.2f} {'>=' if score >= cut.threshold else '<'} {cut.purpose} threshold {cut.threshold:.2f}"


def duplicate_lines(result, names: dict[str, str], cut) -> list[str]:
    """Who the enrollment was caught as a duplicate of, by name, each fused score beside the duplicate
    threshold (per-comparison FMR for the gallery searched)."""
    source = f"(per-comparison FMR {cut.fmr:g} for the gallery searched)"
    if not result.candidates:
        return [f"not caught: no enrolled person reached the duplicate threshold {cut.threshold:.2f} {source}"]
    return [f"caught as a duplicate of {names.get(c.enrollment_id, 'an enrollment outside this demo')}: "
            f"fused score {_held(c.score, cut)} {source}" for c in result.candidates]


def verify_line(result, cut) -> str:
    if result.score is None:
        return result.status + (f" ({result.reason})" if result.reason else "")
    return f"{result.status}, fused score {_held(result.score, cut)} (FMR {cut.fmr:g})"


def register(sub) -> None:
    parser = sub.add_parser("demo", help="enroll, catch a duplicate, verify a genuine and an impostor")
    parser.add_argument("--broker", help="RabbitMQ URL (default: PAPILLA_BROKER_URL; neither = in-process)")
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--data", help="FVC-layout folder instead of synthetic fingerprints (max 5 people)")
    parser.add_argument("--home", help="state directory (default: a new temporary one)")
    parser.set_defaults(func=run)
