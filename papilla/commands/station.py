"""`papilla station …`: a branch station on its own machine, holding its keys and the centre's public key file.

  papilla station init ST-ID [--label …]   create the station's keys and ST-ID.registration.json for the centre
  papilla station enroll ST-ID --operator OP-ID --iin … --name … --document-type … --document-number …
      --document-birth-date … --consent-ref … --conditions-explained (--images DIR | --synthetic SEED) [--wait S]
  papilla station flush ST-ID           re-send packets left in the spool (offline, crash)
  papilla station status ST-ID [--json]  the spool: packets waiting, the oldest, the last send error
  papilla station metrics ST-ID [--textfile PATH]   the same facts for Prometheus (node_exporter textfile)

The operator's key (`papilla principal init OP-ID --role operator`, registered at the centre) is kept on
the station: the operator signs each packet, the station seals it. Registration and revocation happen at
the centre (`papilla centre register-station FILE`, `papilla centre revoke ST-ID`).

Exit codes of `enroll`: 0 sent or spooled (a spooled packet is sent by `flush`: do not enroll again),
1 aborted by the operator (nothing sent), 2 a mistake or a refusal (one sentence on stderr), 3 no decision
within --wait.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import json
import sys

from pydantic import ValidationError

from papilla.commands import station_answers, station_simulate
from papilla.commands.party import add_init
from papilla.commands.station_console import (add_enroll_flags, consent_from_args, decisions_from_args,
                                              document_from_args)
from papilla.services.capture.devices import ScannerError
from papilla.services.capture.spool import spool_facts
from papilla.services.capture.workflow import EnrollmentAborted
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import InvalidIIN
from papilla.shared.errors import Refusal
from papilla.shared.parties import load_centre_public, load_party


def _station(settings, station_id: str, gate=None):
    from papilla.services.capture.outbox import Outbox
    from papilla.services.capture.station import QualityGate, Station
    from papilla.shared.broker import BrokerUnreachable, check_broker, rabbitmq_broker

    keys, centre = load_party(settings, station_id), load_centre_public(settings)   # clear errors, never new keys
    try:
        check_broker(settings.broker_url)   # a refused user or vhost is a mistake to report, not an outage
        station_answers.keep_answers(settings.broker_url, station_id)   # answers to what leaves now wait there
    except BrokerUnreachable:
        pass                                # an outage: packets wait in the spool
    broker = rabbitmq_broker(settings)
    outbox = Outbox(settings.spool_dir / station_id, broker)
    return Station(station_id=station_id, signing_key=keys.signing, centre_public=centre.box, outbox=outbox,
                   gate=gate or QualityGate(min_quality=settings.min_finger_quality)), broker, keys, centre


def scanner_from_args(args):
    if args.scanner:
        # imported here: the U.are.U drivers import numba, which needs writable executable memory (see
        # papilla/commands/scanner.py); every other `papilla` command must run where that is denied
        from papilla.commands import station_scanner

        return station_scanner.device(args)
    if getattr(args, "ansi_nist", None):
        from papilla.services.capture.ansi_nist_scanner import AnsiNistScanner

        return AnsiNistScanner(args.ansi_nist)
    if args.synthetic is not None:
        from papilla.services.capture.synthetic.scanner import SyntheticScanner

        return SyntheticScanner(person_seed=args.synthetic, session_seed=args.session)
    from papilla.services.capture.devices import FolderScanner

    return FolderScanner.from_folder(args.images)     # ValueError: no folder, no images named by finger


def finger_statuses(scanner, absent: str | None) -> dict[int, str]:
    """Each position with an image is captured; the others need --absent (why they are missing), unless the
    source declares them itself (an ANSI/NIST-ITL transaction's amputation / unprintable codes)."""
    declared = getattr(scanner, "exceptions", {})
    positions = set(getattr(scanner, "mapping", range(1, 11)))
    if len(positions | set(declared)) < 10 and not absent:
        missing = sorted(set(range(1, 11)) - positions - set(declared))
        raise ValueError(f"no image for finger position(s) {', '.join(map(str, missing))}: say why they are missing "
                         "with --absent amputated|unable_to_print|injured")
    return {p: "captured" if p in positions else declared.get(p, absent) for p in range(1, 11)}


def enroll(args) -> int:
    from papilla.services.capture.workflow import QualityGate

    settings = Settings.from_env()
    if args.attempts < 1:
        return _mistake("--attempts must be 1 or more")
    operator = load_party(settings, args.operator)      # PartyError: one sentence (cli.main)
    gate = QualityGate(min_quality=settings.min_finger_quality, max_attempts=args.attempts,
                       max_total_attempts=3 * args.attempts)
    station, broker, keys, centre = _station(settings, args.station_id, gate)
    if args.check_centre > 0:
        refused = _check_with_centre(settings, args, keys, centre, broker, operator)
        if refused is not None:
            broker.close()
            return refused
    waiter = _result_waiter(settings, args, keys, centre) if args.wait else None   # bound before the packet leaves
    try:
        try:
            receipt = _enroll(args, station, operator)
        finally:
            broker.close()
        if isinstance(receipt, int):
            return receipt
        print(json.dumps(receipt.as_dict()) if args.json else "\n".join(receipt.lines()))
        return _await_decision(args, waiter, receipt) if waiter and receipt.confirmed else 0
    finally:
        if waiter:
            waiter.close()


def _enroll(args, station, operator):
    """The receipt, or the exit code after one sentence on stderr."""
    try:
        legal = legal_args(args)
        scanner = scanner_from_args(args)
        return station.enroll(iin=args.iin, full_name=args.name, document=document_from_args(args),
                              consent=consent_from_args(args, legal["legal_capacity"], legal["present"]),
                              scanner=scanner, operator=operator, decisions=decisions_from_args(args),
                              finger_status=finger_statuses(scanner, args.absent),
                              reenrollment_reason=args.reenrollment, **legal)
    except InvalidIIN as exc:
        return _mistake(f"--iin is not a valid IIN: {exc} (check: {exc.reason.replace('_', ' ')})")
    except Refusal as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except EnrollmentAborted as exc:
        print(f"aborted: {exc}", file=sys.stderr)
        return 1
    except ScannerError as exc:
        print(f"scanner: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        return _mistake(_validation_sentence(exc))
    except ValueError as exc:              # an inconsistent application (ApplicationError), a missing folder …
        return _mistake(str(exc))


def _check_with_centre(settings, args, keys, centre, broker, operator) -> int | None:
    """None to go on (the centre said yes, or could not be asked: then a note); 2 after the centre's refusal."""
    from papilla.services.capture import centre_status

    waiter = _result_waiter(settings, args, keys, centre)
    if waiter is None:
        print("note: the centre could not be asked before capture (broker unreachable); the packet will wait in "
              "the spool and be checked on arrival", file=sys.stderr)
        return None
    try:
        centre_status.ask_centre(station_id=args.station_id, signing_key=keys.signing, centre_public=centre.box,
                                 operator=operator, broker=broker, wait=waiter.wait, timeout_s=args.check_centre)
    except Refusal as exc:
        print(f"refused before capture: {exc.detail}" + (f" ({exc.rule})" if exc.rule else ""), file=sys.stderr)
        return 2
    except centre_status.StatusNotChecked as exc:
        print(f"note: {exc}; the packet will be checked on arrival", file=sys.stderr)
    finally:
        waiter.close()
    return None


def _result_waiter(settings, args, keys, centre):
    """The station's result queue, declared and bound before the packet is sent (a refusal can come back before
    the receipt is printed). None when the broker is unreachable: the packet will wait in the spool."""
    import pika

    from papilla.client import RabbitResultWaiter, ResultOpener

    try:
        return RabbitResultWaiter(settings.broker_url, args.station_id, ResultOpener(keys, centre))
    except pika.exceptions.AMQPError:
        return None


def _await_decision(args, waiter, receipt) -> int:
    from papilla.client import ResultTimeout

    try:
        result = waiter.wait(receipt.packet_id, args.wait)
    except ResultTimeout:
        print(f"no decision within {args.wait:.0f} s; the packet is at the centre: "
              f"`papilla station answers {args.station_id}` shows its decision later", file=sys.stderr)
        return 3
    if result.status == "REFUSED":
        print(station_answers.describe(result), file=sys.stderr)
        return 2
    print(station_answers.describe(result))
    return 0


def _mistake(sentence: str) -> int:
    print(f"papilla: {sentence}", file=sys.stderr)
    return 2


def _validation_sentence(exc: ValidationError) -> str:
    """One sentence from a schema error (pydantic hides the input: hide_input_in_errors)."""
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_context=False)]
    return f"{exc.title}: " + "; ".join(problems)


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
    from papilla.services.capture.outbox import ResendBackoff

    if args.retry_for < 0:
        return _mistake("--retry-for must be 0 or more seconds")
    station, broker, _, _ = _station(Settings.from_env(), args.station_id)
    sent = station.outbox.drain(args.retry_for, ResendBackoff()) if args.retry_for else station.outbox.flush()
    left = len(station.outbox.pending())
    print(f"sent {sent}, {left} still spooled")
    error = spool_facts(args.station_id, station.outbox.spool_dir).last_error
    if left and error:
        print(f"last send error: {error.kind}: {error.detail}", file=sys.stderr)
    broker.close()
    return 0 if left == 0 else 1


def status(args) -> int:
    settings = Settings.from_env()
    spool_dir = settings.spool_dir / args.station_id
    if not spool_dir.is_dir():
        load_party(settings, args.station_id)    # a station id with no keys here is a typo: say so, not "0 packets"
    facts = spool_facts(args.station_id, spool_dir)
    print(json.dumps(facts.as_dict()) if args.json else "\n".join(facts.lines()))
    return 0


def metrics(args) -> int:
    import os

    from prometheus_client import generate_latest, write_to_textfile

    from papilla.shared.metrics import station_registry

    # the same directory the station's outbox spools to (`_station`), read as `status` reads it
    facts = spool_facts(args.station_id, Settings.from_env().spool_dir / args.station_id)
    registry = station_registry(facts.station_id, facts.packets, facts.oldest_age_seconds)
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
    src.add_argument("--images", help="folder with one image per finger position, named 1.png … 10.png "
                     "(or FVC's 101_1.tif …)")
    src.add_argument("--synthetic", type=int, metavar="SEED", help="synthetic person seed")
    src.add_argument("--scanner", choices=("uru4000",), help="capture from a DigitalPersona U.are.U 4000B")
    src.add_argument("--ansi-nist", metavar="FILE", help="the finger images (and amputation / unprintable codes) "
                     "of an ANSI/NIST-ITL transaction (docs/interop.md)")
    p.add_argument("--session", type=int, default=0, help="synthetic capture session seed")
    p.add_argument("--operator", required=True, help="the registered operator whose key (on this station) signs")
    p.add_argument("--reenrollment", choices=("irreversible_damage", "document_replacement"))
    p.add_argument("--basis", default="public_service_authentication", help="legal basis (papilla legal bases)")
    p.add_argument("--citizenship", choices=("citizen", "foreigner", "stateless"), default="citizen")
    p.add_argument("--capacity", choices=("full", "limited", "incapacitated"), default="full")
    p.add_argument("--present", action="append", default=[], metavar="ROLE=APPLICATION-REF",
                   help="legal_representative, custodian or trustee present, with their written application")
    p.add_argument("--absent", choices=("amputated", "unable_to_print", "injured"),
                   help="status of the fingers with no image (Rules 406 p.6-7, p.10)")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for the decision")
    p.add_argument("--check-centre", type=float, default=0, metavar="S",
                   help="before capture, ask the centre (waiting up to S seconds) whether this station and the "
                        "operator may enroll; refused: nothing is captured (the console always asks)")
    p.add_argument("--json", action="store_true", help="print the receipt as JSON")
    add_enroll_flags(p)
    p.set_defaults(func=enroll)
    p = st.add_parser("flush", help="re-send spooled packets")
    p.add_argument("station_id")
    p.add_argument("--retry-for", type=float, default=0, metavar="S",
                   help="while the broker is out of reach, try again with growing pauses for up to S seconds")
    p.set_defaults(func=flush)
    p = st.add_parser("status", help="the spool: packets waiting, the oldest, the last send error")
    p.add_argument("station_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)
    station_simulate.register(st)
    station_answers.register(st)
    p = st.add_parser("metrics", help="spool depth in Prometheus text format (stdout or a textfile)")
    p.add_argument("station_id")
    p.add_argument("--textfile", help="write here atomically (node_exporter's textfile directory, *.prom)")
    p.set_defaults(func=metrics)
