"""`papilla legal decide`: what Papilla would decide for an application, and why, without enrolling anyone.

  papilla legal decide --basis visa --birth 1990-05-17 --citizenship foreigner [--applied 2026-11-23T10:00+05:00]
                       [--capacity full|limited|incapacitated] [--present custodian=APP-REF …]
                       [--exemption diplomatic_passport] [--e-visa] [--finger 3=injured …] [--all-fingers amputated]
                       [--previously-registered [--reason irreversible_damage]] [--zone Asia/Almaty] [--json]
  papilla legal bases        the legal bases, their rules and storage terms
  papilla legal states       the enrollment and subject state machines, each transition with its rule (Markdown)

The same decision function the station and the centre call (`shared/legal/decide.py`; table in docs/legal.md).
Exit 0 with the decision whatever it is; 2 with one sentence when an input is wrong.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime

from papilla.shared import clock
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin
from papilla.shared.legal import states
from papilla.shared.legal.bases import BASES, EXEMPTIONS, UnknownBasis
from papilla.shared.legal.decide import (ATTENDEE_ROLES, CAPACITIES, CITIZENSHIPS, FINGER_STATUSES, REASONS,
                                         ApplicationError, Application, Attendee, Policy, decide)


def one_sentence_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A usage mistake prints one sentence and exits 2 (no usage dump, no traceback)."""
    def error(message: str):
        print(f"{parser.prog}: {message}", file=sys.stderr)
        sys.exit(2)
    parser.error = error   # type: ignore[method-assign]
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 1990-05-17") from None


def _applied(text: str) -> datetime | date:
    """A local calendar date (2026-11-23) or an instant with its offset (2026-11-23T02:00+05:00)."""
    if "T" not in text:
        return _date(text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or an instant with its offset, "
                                         "like 2026-11-23T02:00+05:00")
    return value


def _present(text: str) -> Attendee:
    role, _, ref = text.partition("=")
    if role not in ATTENDEE_ROLES:
        raise argparse.ArgumentTypeError(f"{role!r} is not one of {', '.join(ATTENDEE_ROLES)} "
                                         "(write ROLE=APPLICATION-REF, or ROLE alone when no written application)")
    return Attendee(role, ref)


def _finger(text: str) -> tuple[int, str]:
    position, _, status = text.partition("=")
    if not position.isdigit() or not 1 <= int(position) <= 10 or status not in FINGER_STATUSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not POSITION=STATUS with position 1-10 and status one of "
                                         f"{', '.join(FINGER_STATUSES)}")
    return int(position), status


def _birth(args) -> date:
    if (args.birth is None) == (args.iin is None):
        raise ApplicationError("give the date of birth with --birth or --iin (one of them)")
    if args.birth is not None:
        return args.birth
    try:
        return birth_date_from_iin(args.iin)
    except InvalidIIN as exc:
        raise ApplicationError(f"--iin: {exc}") from None


def decide_command(args) -> int:
    fingers = {p: args.all_fingers for p in range(1, 11)}
    fingers.update(dict(args.finger))
    try:
        application = Application(basis=args.basis, birth=_birth(args), applied_at=args.applied or clock.now(),
                                  citizenship=args.citizenship, capacity=args.capacity, present=tuple(args.present),
                                  exemption=args.exemption, e_visa=args.e_visa, fingers=fingers,
                                  previously_registered=args.previously_registered or args.reason is not None,
                                  reason=args.reason)
        decision = decide(application, Policy(zone=args.zone) if args.zone else Policy.from_env())
    except (ApplicationError, UnknownBasis) as exc:
        print(f"papilla legal decide: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(decision.as_dict(), ensure_ascii=False))
        return 0
    print(f"{decision.decision}: {decision.detail} ({decision.citation})")
    print(f"  rule {decision.rule}; basis {decision.basis}; age {decision.age} on the local date of application")
    for rule_id, citation in decision.also:
        print(f"  also applied: {rule_id} ({citation})")
    return 0


def bases_command(args) -> int:
    for b in BASES.values():
        print(f"{b.id}: {b.summary}; {b.kind}, from {b.min_age}; {b.collected_under}; term {b.term.kind} "
              f"({b.term.citation})")
    return 0


def states_command(args) -> int:
    """The transition tables as docs/legal.md shows them (paste them there when the table changes)."""
    for machine in (states.ENROLLMENT, states.SUBJECT):
        print(f"### {machine.capitalize()}s\n\n{states.markdown_table(machine)}\n")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("legal", help="ask the legal decision for an application (no enrollment)")
    legal = parser.add_subparsers(dest="legal_command", required=True)
    p = one_sentence_errors(legal.add_parser("decide", help="the decision, its rule and citation"))
    p.add_argument("--basis", required=True, help=f"legal basis: {', '.join(BASES)}")
    p.add_argument("--birth", type=_date, help="date of birth on the document (YYYY-MM-DD)")
    p.add_argument("--iin", help="take the date of birth from this IIN instead")
    p.add_argument("--applied", type=_applied, help="local date of application, or an instant with offset "
                                                    "(default: now)")
    p.add_argument("--zone", help="the applicant's time zone for the age (default Asia/Almaty or $PAPILLA_LEGAL_TZ)")
    p.add_argument("--citizenship", choices=CITIZENSHIPS, default="citizen")
    p.add_argument("--capacity", choices=CAPACITIES, default="full", help="legal capacity established by a court")
    p.add_argument("--present", type=_present, action="append", default=[], metavar="ROLE=APPLICATION-REF",
                   help=f"a person present ({', '.join(ATTENDEE_ROLES)}) and their written application; repeat")
    p.add_argument("--exemption", choices=tuple(EXEMPTIONS), help="an exemption of Law Art.10-1 claimed")
    p.add_argument("--e-visa", action="store_true", help="an electronic visa issued without visiting a consulate")
    p.add_argument("--all-fingers", choices=FINGER_STATUSES, default="captured",
                   help="status of every finger not given by --finger (default captured)")
    p.add_argument("--finger", type=_finger, action="append", default=[], metavar="POSITION=STATUS")
    p.add_argument("--previously-registered", action="store_true", help="the person already has a record")
    p.add_argument("--reason", choices=REASONS, help="why a registered person is collected again")
    p.add_argument("--json", action="store_true", help="print decision, rule, citation, code, detail as JSON")
    p.set_defaults(func=decide_command)
    p = one_sentence_errors(legal.add_parser("bases", help="the legal bases with their rules and terms"))
    p.set_defaults(func=bases_command)
    p = one_sentence_errors(legal.add_parser("states", help="the state machines, each transition with its rule"))
    p.set_defaults(func=states_command)
