"""`papilla service init` and `papilla principal init`: a party makes its keys on its own machine.

  papilla service init SVC-ID [--label …]           keys + SVC-ID.registration.json for the centre
  papilla principal init P-ID --role ROLE [--label]  a person's or body's signing key + registration file
(`papilla station init ST-ID` does the same for a station.) Send the registration file to the centre's
administrator and read them the fingerprint; they register it with `papilla centre register-…`.
"""
from __future__ import annotations

from papilla.shared.config import Settings
from papilla.shared.legal.roles import ROLES
from papilla.shared.parties import init_party, registration_path


def init(args, kind: str) -> int:
    settings = Settings.from_env()
    request = init_party(settings, args.party_id, kind, label=args.label or "", role=getattr(args, "role", None))
    print(f"{kind} {args.party_id}: keys in {settings.station_key_dir}; registration request "
          f"{registration_path(settings, args.party_id)}; fingerprint {request['fingerprint']}")
    return 0


def add_init(sub, kind: str) -> None:
    p = sub.add_parser("init", help=f"create this {kind}'s keys and its registration request file")
    p.add_argument("party_id")
    p.add_argument("--label", help="e.g. the branch address or the person's post")
    if kind == "principal":
        p.add_argument("--role", required=True, choices=ROLES)
    p.set_defaults(func=lambda args: init(args, kind))


def register(sub) -> None:
    for kind, text in (("service", "a public service asking for verification / identification"),
                       ("principal", "a person or body acting with a role")):
        parser = sub.add_parser(kind, help=text)
        add_init(parser.add_subparsers(dest=f"{kind}_command", required=True), kind)
