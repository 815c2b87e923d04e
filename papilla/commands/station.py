"""`papilla station …`: a branch station on one machine.

  papilla station init ST-ID            create the station's signing key, register it at the centre
  papilla station revoke ST-ID --reason  revoke a station (its packets are refused from now on)
  papilla station enroll ST-ID --iin … --name … (--images DIR | --synthetic SEED) [--wait S]
  papilla station flush ST-ID           re-send packets left in the spool (offline, crash)
  papilla station metrics ST-ID [--textfile PATH]   spool depth for Prometheus (node_exporter textfile)
"""
from __future__ import annotations

import sys


def _centre():
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings
    from papilla.shared.results import MemoryResultSink

    return Centre.open(Settings.from_env(), publisher=MemoryResultSink())


def init(args) -> int:
    from papilla.identity import ensure_sender
    from papilla.shared.config import Settings

    centre = _centre()
    ensure_sender(centre, Settings.from_env(), args.station_id, args.kind, label=args.label or "")
    print(f"{args.kind} {args.station_id} registered")
    return 0


def revoke(args) -> int:
    centre = _centre()
    centre.senders.revoke(args.station_id, args.reason)
    print(f"{args.station_id} revoked")
    return 0


def _station(settings, station_id: str):
    from papilla.identity import load_or_create_sender_key
    from papilla.services.capture.outbox import Outbox
    from papilla.services.capture.station import QualityGate, Station
    from papilla.shared.broker import rabbitmq_broker
    from papilla.shared.centre import centre_public_key

    broker = rabbitmq_broker(settings)
    outbox = Outbox(settings.spool_dir / station_id, broker)
    return Station(station_id=station_id, signing_key=load_or_create_sender_key(settings, station_id),
                   centre_public=centre_public_key(settings), outbox=outbox,
                   gate=QualityGate(min_quality=settings.min_finger_quality)), broker


def scanner_from_args(args):
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
    from papilla.client import RabbitResultWaiter
    from papilla.shared.config import Settings
    from papilla.shared.errors import Refusal

    settings = Settings.from_env()
    station, broker = _station(settings, args.station_id)
    waiter = RabbitResultWaiter(settings.broker_url, args.station_id) if args.wait else None
    try:
        report = station.enroll(iin=args.iin, full_name=args.name, scanner=scanner_from_args(args),
                                operator_id=args.operator, consent_ref=args.consent_ref,
                                reenrollment_reason=args.reenrollment)
    except (Refusal, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"packet {report.packet_id}: {'sent' if report.confirmed else 'spooled (broker unavailable)'}; "
          f"finger quality {report.qualities}")
    if waiter and report.confirmed:
        result = waiter.wait(report.packet_id, args.wait)
        print(f"enrollment {result.status}" + (f" ({result.reason})" if result.reason else "")
              + (f", {len(result.candidates)} candidate(s)" if result.candidates else ""))
    broker.close()
    return 0


def flush(args) -> int:
    from papilla.shared.config import Settings

    station, broker = _station(Settings.from_env(), args.station_id)
    sent = station.outbox.flush()
    left = len(station.outbox.pending())
    print(f"sent {sent}, {left} still spooled")
    broker.close()
    return 0 if left == 0 else 1


def metrics(args) -> int:
    import os

    from prometheus_client import generate_latest, write_to_textfile

    from papilla.shared.config import Settings
    from papilla.shared.metrics import station_registry

    registry = station_registry(args.station_id, Settings.from_env().spool_dir)
    if args.textfile:
        write_to_textfile(args.textfile, registry)   # atomic: temp file + rename
        os.chmod(args.textfile, 0o644)               # node_exporter runs as its own user
    else:
        sys.stdout.write(generate_latest(registry).decode())
    return 0


def register(sub) -> None:
    parser = sub.add_parser("station", help="branch station: keys, enrollment, spool")
    st = parser.add_subparsers(dest="station_command", required=True)
    p = st.add_parser("init", help="create a sender key and register it at the centre")
    p.add_argument("station_id")
    p.add_argument("--kind", choices=("station", "service"), default="station")
    p.add_argument("--label")
    p.set_defaults(func=init)
    p = st.add_parser("revoke", help="revoke a station or service")
    p.add_argument("station_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=revoke)
    p = st.add_parser("enroll", help="capture, seal and send one enrollment")
    p.add_argument("station_id")
    p.add_argument("--iin", required=True)
    p.add_argument("--name", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder with one image per finger position, named 1.png … 10.png")
    src.add_argument("--synthetic", type=int, metavar="SEED", help="synthetic person seed")
    p.add_argument("--session", type=int, default=0, help="synthetic capture session seed")
    p.add_argument("--operator", default="operator-1")
    p.add_argument("--consent-ref", default="consent-form-on-file")
    p.add_argument("--reenrollment", choices=("irreversible_damage", "document_replacement"))
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for the decision")
    p.set_defaults(func=enroll)
    p = st.add_parser("flush", help="re-send spooled packets")
    p.add_argument("station_id")
    p.set_defaults(func=flush)
    p = st.add_parser("metrics", help="spool depth in Prometheus text format (stdout or a textfile)")
    p.add_argument("station_id")
    p.add_argument("--textfile", help="write here atomically (node_exporter's textfile directory, *.prom)")
    p.set_defaults(func=metrics)
