"""`papilla station …`: a branch station on its own machine, holding its keys and the centre's public key file.

  papilla station init ST-ID [--label …]   create the station's keys and ST-ID.registration.json for the centre
  papilla station enroll ST-ID --operator OP-ID --iin … --name … (--images DIR | --synthetic SEED) [--wait S]
  papilla station flush ST-ID           re-send packets left in the spool (offline, crash)
  papilla station metrics ST-ID [--textfile PATH]   spool depth for Prometheus (node_exporter textfile)

The operator's key (`papilla principal init OP-ID --role operator`, registered at the centre) is kept on
the station: the operator signs each packet, the station seals it. Registration and revocation happen at
the centre (`papilla centre register-station FILE`, `papilla centre revoke ST-ID`).
"""
from __future__ import annotations

import sys

from papilla.commands import station_simulate
from papilla.commands.party import add_init
from papilla.services.capture.devices import ScannerError
from papilla.shared.config import Settings
from papilla.shared.parties import load_centre_public, load_party


def _station(settings, station_id: str):
    from papilla.services.capture.outbox import Outbox
    from papilla.services.capture.station import QualityGate, Station
    from papilla.shared.broker import BrokerUnreachable, check_broker, rabbitmq_broker

    keys, centre = load_party(settings, station_id), load_centre_public(settings)   # clear errors, never new keys
    try:
        check_broker(settings.broker_url)   # a refused user or vhost is a mistake to report, not an outage
    except BrokerUnreachable:
        pass                                # an outage: packets wait in the spool
    broker = rabbitmq_broker(settings)
    outbox = Outbox(settings.spool_dir / station_id, broker)
    return Station(station_id=station_id, signing_key=keys.signing, centre_public=centre.box, outbox=outbox,
                   gate=QualityGate(min_quality=settings.min_finger_quality)), broker, keys, centre


def scanner_from_args(args):
    if args.scanner:
        # imported here: the U.are.U drivers import numba, which needs writable executable memory (see
        # papilla/commands/scanner.py); every other `papilla` command must run where that is denied
        from papilla.commands import station_scanner

        return station_scanner.device(args)
    if args.synthetic is not None:
        from papilla.services.capture.synthetic.scanner import SyntheticScanner

        return SyntheticScanner(person_seed=args.synthetic, session_seed=args.session)
    from pathlib import Path

    from papilla.services.capture.devices import FolderScanner

    files = {int(f.stem): f.name for f in Path(args.images).iterdir() if f.stem.isdigit() and 1 <= int(f.stem) <= 10}
    if not files:
        raise ValueError(f"{args.images}: expected image files named by finger position (1.png … 10.png)")
    return FolderScanner(args.images, files)


def enroll(args) -> int:
    from papilla.client import RabbitResultWaiter, ResultOpener, ResultTimeout
    from papilla.shared.errors import Refusal

    settings = Settings.from_env()
    operator = load_party(settings, args.operator)
    station, broker, keys, centre = _station(settings, args.station_id)
    waiter = RabbitResultWaiter(settings.broker_url, args.station_id, ResultOpener(keys, centre)) if args.wait else None
    try:
        scanner = scanner_from_args(args)
        positions = set(getattr(scanner, "mapping", range(1, 11)))
        if len(positions) < 10 and not args.absent:
            raise ValueError(f"images for fingers {sorted(positions)} only: say why the others are missing "
                             "with --absent amputated|unable_to_print|injured")
        statuses = {p: "captured" if p in positions else args.absent for p in range(1, 11)}
        report = station.enroll(iin=args.iin, full_name=args.name, scanner=scanner, finger_status=statuses,
                                operator=operator, consent_ref=args.consent_ref,
                                reenrollment_reason=args.reenrollment, **legal_args(args))
    except (Refusal, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except ScannerError as exc:
        print(f"scanner: {exc}", file=sys.stderr)
        return 2
    finally:
        broker.close()
    print(f"packet {report.packet_id}: {'sent' if report.confirmed else 'spooled (broker unavailable)'}; "
          f"finger quality {report.qualities}")
    print(f"{report.decision.decision} under {report.decision.rule} ({report.decision.citation})")
    if not (waiter and report.confirmed):
        return 0
    try:
        result = waiter.wait(report.packet_id, args.wait)
    except ResultTimeout:
        print(f"no decision within {args.wait:.0f} s; the packet is at the centre, ask again later", file=sys.stderr)
        return 3
    finally:
        waiter.close()
    if result.status == "REFUSED":
        print(f"refused: {result.detail or result.reason}" + (f" ({result.rule})" if result.rule else ""),
              file=sys.stderr)
        return 2
    print(f"enrollment {result.status}" + (f" ({result.reason})" if result.reason else "")
          + (f", {len(result.candidates)} candidate(s)" if result.candidates else ""))
    return 0


def legal_args(args) -> dict:
    """The application's legal facts (shared/legal/decide.py): basis, citizenship, capacity, who is present."""
    from papilla.shared.messages import Present

    present = []
    for item in args.present:
        role, _, ref = item.partition("=")
        if role not in ("legal_representative", "custodian", "trustee"):
            raise ValueError(f"--present {role}: the role is legal_representative, custodian or trustee")
        if not ref:
            raise ValueError(f"--present {role}: give the written application's reference as ROLE=REF")
        present.append(Present(role=role, written_application=ref))
    return {"basis": args.basis, "citizenship": args.citizenship, "legal_capacity": args.capacity,
            "present": tuple(present)}


def flush(args) -> int:
    station, broker, _, _ = _station(Settings.from_env(), args.station_id)
    sent = station.outbox.flush()
    left = len(station.outbox.pending())
    print(f"sent {sent}, {left} still spooled")
    broker.close()
    return 0 if left == 0 else 1


def metrics(args) -> int:
    import os

    from prometheus_client import generate_latest, write_to_textfile

    from papilla.shared.metrics import station_registry

    # the same directory the station's outbox spools to (`_station`)
    registry = station_registry(args.station_id, Settings.from_env().spool_dir / args.station_id)
    if args.textfile:
        write_to_textfile(args.textfile, registry)   # atomic: temp file + rename
        os.chmod(args.textfile, 0o644)               # node_exporter runs as its own user
    else:
        sys.stdout.write(generate_latest(registry).decode())
    return 0


def register(sub) -> None:
    parser = sub.add_parser("station", help="branch station: keys, enrollment, spool")
    st = parser.add_subparsers(dest="station_command", required=True)
    add_init(st, "station")
    p = st.add_parser("enroll", help="capture, seal and send one enrollment")
    p.add_argument("station_id")
    p.add_argument("--iin", required=True)
    p.add_argument("--name", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder with one image per finger position, named 1.png … 10.png")
    src.add_argument("--synthetic", type=int, metavar="SEED", help="synthetic person seed")
    src.add_argument("--scanner", choices=("uru4000",), help="capture from a DigitalPersona U.are.U 4000B")
    p.add_argument("--session", type=int, default=0, help="synthetic capture session seed")
    p.add_argument("--operator", required=True, help="the registered operator whose key (on this station) signs")
    p.add_argument("--consent-ref", default="consent-form-on-file")
    p.add_argument("--reenrollment", choices=("irreversible_damage", "document_replacement"))
    p.add_argument("--basis", default="public_service_authentication", help="legal basis (papilla legal bases)")
    p.add_argument("--citizenship", choices=("citizen", "foreigner", "stateless"), default="citizen")
    p.add_argument("--capacity", choices=("full", "limited", "incapacitated"), default="full")
    p.add_argument("--present", action="append", default=[], metavar="ROLE=APPLICATION-REF",
                   help="legal_representative, custodian or trustee present, with their written application")
    p.add_argument("--absent", choices=("amputated", "unable_to_print", "injured"),
                   help="status of the fingers with no image (Rules 406 p.6-7, p.10)")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for the decision")
    p.set_defaults(func=enroll)
    p = st.add_parser("flush", help="re-send spooled packets")
    p.add_argument("station_id")
    p.set_defaults(func=flush)
    station_simulate.register(st)
    p = st.add_parser("metrics", help="spool depth in Prometheus text format (stdout or a textfile)")
    p.add_argument("station_id")
    p.add_argument("--textfile", help="write here atomically (node_exporter's textfile directory, *.prom)")
    p.set_defaults(func=metrics)
