"""`papilla station simulate --stations N --rate R --duration D --operator OP-ID`: load from N branch stations.

The stations are `PREFIX-01` … `PREFIX-NN` (default prefix `st-sim`), each onboarded like any station, all in
this PAPILLA_HOME (one simulator machine playing N branches: `papilla station init st-sim-01` … and
`papilla centre register-station` of each request file at the centre); one registered operator, whose key is
here too, signs every packet. Applicants are synthetic (made-up IINs and names; fingers from FVC-layout image
folders, by default the reference FVC2002 B sets). See services/capture/simulate.py for the three phases and
docs/station.md for an example run.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import sys
import time
from datetime import date
from pathlib import Path

from tqdm import tqdm

from papilla.services.capture import simulate
from papilla.services.capture.devices import folder_dpi
from papilla.services.capture.station import ConsentForm
from papilla.services.capture.workflow import Choice, FixedChoice
from papilla.shared.crypto.iin import birth_date_from_iin
from papilla.shared.messages import IdentityDocument
from papilla.shared.config import Settings
from papilla.shared.errors import Refusal
from papilla.shared.parties import load_centre_public, load_party

LIMITS = simulate.Limits()


def run(args) -> int:
    problem = LIMITS.refusal(args.stations, args.rate, args.duration, args.fingers, args.answer_wait)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        return _simulate(args)
    except (Refusal, ValueError) as exc:     # a missing folder, a refused applicant: one sentence
        print(f"simulate: {exc}", file=sys.stderr)
        return 2


def _simulate(args) -> int:
    from papilla.client import ResultOpener
    from papilla.services.capture.outbox import Outbox
    from papilla.services.capture.station import QualityGate, Station
    from papilla.shared.broker import BrokerUnreachable, check_broker, rabbitmq_broker

    settings = Settings.from_env()
    station_ids = [f"{args.prefix}-{i:02d}" for i in range(1, args.stations + 1)]
    keys = {sid: load_party(settings, sid) for sid in station_ids}     # one sentence when one is missing
    operator, centre = load_party(settings, args.operator), load_centre_public(settings)
    folders = [Path(d) for d in args.data] if args.data else _reference_folders()
    planned = simulate.applicants(round(args.rate * args.duration), args.fingers,
                                  simulate.finger_pool(folders, folder_dpi), seed=args.seed)
    try:
        check_broker(settings.broker_url)
    except BrokerUnreachable as exc:
        print(f"{exc}; packets will be spooled", file=sys.stderr)
    broker = rabbitmq_broker(settings)
    outboxes = {sid: Outbox(settings.spool_dir / sid, broker) for sid in station_ids}
    collector = simulate.AnswerCollector(settings.broker_url, {sid: ResultOpener(keys[sid], centre)
                                                               for sid in station_ids})
    collector.start()
    collector.ready.wait(30)
    try:
        held = simulate.HeldOutbox()
        stations = {sid: Station(station_id=sid, signing_key=keys[sid].signing, centre_public=centre.box,
                                 outbox=held, gate=QualityGate(min_quality=settings.min_finger_quality,
                                                               max_attempts=1))
                    for sid in station_ids}
        prepared = _prepare(planned, stations, station_ids, operator, held, args)
        outcome = simulate.Outcome(distinct=sum(a.distinct for a in planned))
        with tqdm(total=len(prepared), desc=f"sending at {args.rate:g}/s", unit="packet", file=sys.stderr) as bar:
            simulate.send_paced(prepared, outboxes, args.rate, outcome, on_sent=bar.update)
        _await_answers(collector, outcome, args.answer_wait)
    finally:
        collector.stop()
        broker.close()
    outcome.answers = dict(collector.arrived)
    if collector.error is not None:
        print(f"results could not be read ({type(collector.error).__name__}); answered counts are incomplete",
              file=sys.stderr)
    for line in simulate.format_summary(outcome, len(planned)):
        print(line)
    if outcome.spooled:
        print(f"{outcome.spooled} packet(s) left in the stations' spools: `papilla station flush ST-ID` sends them")
    return 0 if outcome.spooled == 0 and len(outcome.answers) == outcome.sent else 1


#: no operator in a simulation: a finger below the gate is recorded as unable to print, never sent
BELOW_GATE = FixedChoice(Choice("exception", "unable_to_print"))


def _papers(applicant, i: int) -> dict:
    """The synthetic applicant's identity document and signed consent form, as an operator enters them."""
    return {"document": IdentityDocument(type="id_card", number=f"SIM{i + 1:07d}",
                                         birth_date=birth_date_from_iin(applicant.iin)),
            "consent": ConsentForm(signature_ref=f"sim-consent-{i + 1}", signed_on=date.today(),
                                   conditions_explained=True, signed_by="subject")}


def _prepare(planned, stations, station_ids, operator, held, args) -> list[simulate.Prepared]:
    """Every applicant through the real station workflow (decision, consent, quality, signing, sealing)."""
    prepared = []
    statuses = {p: "captured" if p <= args.fingers else "unable_to_print" for p in range(1, 11)}
    for i, applicant in enumerate(tqdm(planned, desc="preparing applicants", unit="packet", file=sys.stderr)):
        sid = station_ids[i % len(station_ids)]
        try:
            report = stations[sid].enroll(iin=applicant.iin, full_name=applicant.name, **_papers(applicant, i),
                                          scanner=simulate.PoolScanner(applicant), finger_status=statuses,
                                          operator=operator, decisions=BELOW_GATE)
        except Refusal as exc:       # the synthetic applicants are adults under public-service authentication
            raise Refusal(f"a synthetic applicant was refused: {exc}", code=exc.code, rule=exc.rule) from None
        prepared.append(simulate.Prepared(sid, report.packet_id, held.held.pop(report.packet_id)))
    return prepared


def _await_answers(collector, outcome, timeout: float) -> None:
    expected = outcome.sent
    deadline = time.monotonic() + timeout
    with tqdm(total=expected, desc="answers", unit="packet", file=sys.stderr) as bar:
        while collector.answered() < expected and time.monotonic() < deadline and collector.error is None:
            bar.update(collector.answered() - bar.n)
            time.sleep(0.2)                 # polling the count for the progress bar
        bar.update(collector.answered() - bar.n)


def _reference_folders() -> list[Path]:
    from papilla.shared.paths import reference_data_dir

    root = reference_data_dir() / "fvc2002"
    folders = sorted(p for p in root.glob("DB*_B") if p.is_dir())
    if not folders:
        raise ValueError(f"no FVC-layout image folders under {root}: give --data DIR")
    return folders


def register(st) -> None:
    """The `station simulate` subcommand (hooked into `papilla station` by papilla/commands/station.py)."""
    p = st.add_parser("simulate", help="load test: N onboarded stations send synthetic applicants at R/s")
    p.add_argument("--stations", type=int, required=True, metavar="N",
                   help=f"stations PREFIX-01 … PREFIX-NN, each onboarded in this home (1-{LIMITS.max_stations})")
    p.add_argument("--rate", type=float, required=True, metavar="R",
                   help=f"packets per second, all stations together (at most {LIMITS.max_rate:g})")
    p.add_argument("--duration", type=float, required=True, metavar="D",
                   help=f"seconds of sending (at most {LIMITS.max_duration:g}; R×D at most {LIMITS.max_packets})")
    p.add_argument("--operator", required=True, help="the registered operator whose key (in this home) signs")
    p.add_argument("--prefix", default="st-sim", help="station id prefix (default st-sim)")
    p.add_argument("--fingers", type=int, default=2, help="fingers captured per applicant (default 2; the others "
                                                          "are marked unable_to_print)")
    p.add_argument("--data", action="append", metavar="DIR",
                   help="FVC-layout image folder for the fingers (repeatable; default the FVC2002 B sets)")
    p.add_argument("--answer-wait", type=float, default=120, metavar="S",
                   help="seconds to wait for the last answers after sending (default 120)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic applicants (default 0)")
    p.set_defaults(func=run)
