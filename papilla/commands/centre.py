"""`papilla centre …`: run on the centre's machine only; the only commands that create or read centre keys.

  papilla centre init                         create the centre's keys once (idempotent)
  papilla centre export-public-key FILE       the file stations and services are configured with
  papilla centre register-station FILE        register a station from its registration request file
  papilla centre register-service FILE --recipient-kind K   … a service, with what it is (public_service, court …)
  papilla centre register-principal FILE      … a person or body with a role (operator, adjudicator, …)
  papilla centre revoke ID --reason "…"       its packets / signatures are refused from now on
  papilla centre parties                      list registered parties
"""
from __future__ import annotations

from pathlib import Path

from papilla.commands.centre_keys import register_kek_commands
from papilla.shared.config import Settings
from papilla.shared.crypto.errors import RegistryError
from papilla.shared.legal.uses import RECIPIENT_KINDS
from papilla.shared.parties import (PartyError, export_centre_public, init_centre, read_registration,
                                    set_recipient_kind)


def _centre():
    from papilla.shared.centre import Centre
    from papilla.shared.results import MemoryResultSink

    return Centre.open(Settings.from_env(), publisher=MemoryResultSink())


def init(args) -> int:
    public, created = init_centre(Settings.from_env())
    print(f"centre keys {'created' if created else 'already present'}; fingerprint {public.fingerprint}")
    return 0


def export_public_key(args) -> int:
    public = export_centre_public(Settings.from_env(), Path(args.file))
    print(f"wrote {args.file}; fingerprint {public.fingerprint} (read it to each branch when they install it)")
    return 0


def _register(args, kind: str) -> int:
    registration = read_registration(Path(args.file))
    if registration.kind != kind:
        raise PartyError(f"{args.file} is a {registration.kind} registration, not a {kind}")
    centre = _centre()
    try:
        centre.senders.register(registration.party_id, kind, registration.signing_key, label=registration.label,
                                box_key=registration.box_key, role=registration.role)
        if kind == "service":      # what the service is, set here by the centre (shared/legal/uses.py)
            set_recipient_kind(centre.store, registration.party_id, args.recipient_kind)
    except RegistryError as exc:
        raise PartyError(str(exc)) from None
    finally:
        centre.close()
    role = f" with role {registration.role}" if registration.role else ""
    role += f" as a {args.recipient_kind}" if kind == "service" else ""
    print(f"{kind} {registration.party_id} registered{role}; fingerprint {registration.fingerprint} "
          "(check it with the party before it sends anything)")
    return 0


def revoke(args) -> int:
    centre = _centre()
    try:
        record = centre.senders.revoke(args.party_id, args.reason)
    except (RegistryError, ValueError) as exc:
        raise PartyError(str(exc)) from None
    finally:
        centre.close()
    print(f"{record.kind} {record.sender_id} revoked")
    return 0


def parties(args) -> int:
    centre = _centre()
    for record in centre.senders.list():
        print(f"{record.sender_id:<32} {record.kind:<10} {record.role or '':<16} {record.status}")
    centre.close()
    return 0


def register(sub) -> None:
    parser = sub.add_parser("centre", help="the processing centre: keys and party registration")
    ce = parser.add_subparsers(dest="centre_command", required=True)
    ce.add_parser("init", help="create the centre's keys once").set_defaults(func=init)
    p = ce.add_parser("export-public-key", help="write the centre's public key file")
    p.add_argument("file")
    p.set_defaults(func=export_public_key)
    for kind in ("station", "service", "principal"):
        p = ce.add_parser(f"register-{kind}", help=f"register a {kind} from its registration request file")
        p.add_argument("file")
        if kind == "service":
            p.add_argument("--recipient-kind", default="public_service", choices=RECIPIENT_KINDS,
                           help="what the service is (default public_service); decides what it may verify, "
                                "identify or receive (docs/legal.md, Purpose limitation)")
        p.set_defaults(func=lambda args, kind=kind: _register(args, kind))
    p = ce.add_parser("revoke", help="revoke a station, service or principal")
    p.add_argument("party_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=revoke)
    ce.add_parser("parties", help="list registered parties").set_defaults(func=parties)
    register_kek_commands(ce)
