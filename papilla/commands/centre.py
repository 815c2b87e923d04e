"""`papilla centre …`: run on the centre's machine only; the only commands that create or read centre keys.

  papilla centre init                         create the centre's keys once (idempotent)
  papilla centre export-public-key FILE       the file stations and services are configured with
  papilla centre register-station FILE        register a station from its registration request file
  papilla centre register-service FILE --recipient-kind K   … a service, with what it is (public_service, court …)
  papilla centre register-principal FILE      … a person or body with a role (operator, adjudicator, …)
  papilla centre broker-user ID [--vhost V]    the party's results queue at the broker, and the rabbitmqctl
                                              lines that create its user with least permissions
  papilla centre revoke ID --reason "…"       its packets / signatures are refused from now on
  papilla centre parties                      list registered parties
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.
import sys
from pathlib import Path

import pika

from papilla.commands.centre_keys import register_kek_commands
from papilla.shared.broker_users import party_permissions, rabbitmqctl_lines
from papilla.shared.config import Settings, mask_secrets
from papilla.shared.crypto.errors import RegistryError
from papilla.shared.legal.uses import RECIPIENT_KINDS
from papilla.shared.parties import PartyError, export_centre_public, init_centre, read_registration, set_recipient_kind
from papilla.shared.results import prepare_party_results


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
    if kind in ("station", "service"):
        _prepare_results(registration.party_id)
    return 0


def _prepare_results(party_id: str) -> bool:
    """Declare the party's results queue and its binding at the centre's broker; say so either way."""
    url = Settings.from_env().broker_url
    try:
        queue = prepare_party_results(url, party_id)
    except pika.exceptions.AMQPError as exc:
        print(f"note: results queue of {party_id} not declared: RabbitMQ at {mask_secrets(url)} "
              f"({type(exc).__name__}); run `papilla centre broker-user {party_id}` when it is reachable",
              file=sys.stderr)
        return False
    print(f"results queue {queue} declared and bound to routing key {party_id}")
    return True


def broker_user(args) -> int:
    centre = _centre()
    try:
        record = centre.senders.get(args.party_id)
    finally:
        centre.close()
    if record is None:
        raise PartyError(f"{args.party_id} is not registered: register it first (`papilla centre register-…`)")
    if record.status != "active":
        raise PartyError(f"{args.party_id} was revoked: remove its broker user instead "
                         f"(rabbitmqctl delete_user {args.party_id})")
    try:
        permissions = party_permissions(record.sender_id, record.kind)
    except ValueError as exc:
        raise PartyError(str(exc)) from None
    declared = _prepare_results(record.sender_id)
    print("# on the broker's host, as root (the password is read from standard input):")
    for line in rabbitmqctl_lines(permissions, args.vhost):
        print(line)
    return 0 if declared else 3


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
    p = ce.add_parser("broker-user", help="a station's or service's results queue and its least-permission "
                                          "RabbitMQ user (prints the rabbitmqctl lines)")
    p.add_argument("party_id")
    p.add_argument("--vhost", default="papilla", help="the RabbitMQ virtual host (default: papilla)")
    p.set_defaults(func=broker_user)
    p = ce.add_parser("revoke", help="revoke a station, service or principal")
    p.add_argument("party_id")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=revoke)
    ce.add_parser("parties", help="list registered parties").set_defaults(func=parties)
    register_kek_commands(ce)
