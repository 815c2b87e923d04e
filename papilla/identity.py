"""Onboarding in one step, for a demo or a test that plays the centre and a party on one machine.

Real parties onboard across machines: `papilla station init` (or `service` / `principal init`) on the
party's machine writes a registration request file, `papilla centre register-…` at the centre reads it.
`ensure_sender` does exactly those two steps in one home: keys made once, registered from the file.
"""
from __future__ import annotations

from papilla.shared.config import Settings
from papilla.shared.parties import (PartyKeys, init_party, load_party, read_registration, registration_path,
                                    set_recipient_kind)


def ensure_sender(centre, settings: Settings, party_id: str, kind: str, label: str = "",
                  role: str | None = None, recipient_kind: str = "public_service") -> PartyKeys:
    """This party's keys, made and registered at `centre` through its registration request file if new.

    A service is registered with `recipient_kind` (default: a public service), as `papilla centre
    register-service FILE --recipient-kind K` does."""
    path = registration_path(settings, party_id)
    if not path.exists():
        init_party(settings, party_id, kind, label=label, role=role)
    registration = read_registration(path)
    centre.senders.register(party_id, registration.kind, registration.signing_key, label=registration.label,
                            box_key=registration.box_key, role=registration.role)
    if registration.kind == "service":
        set_recipient_kind(centre.store, party_id, recipient_kind)
    return load_party(settings, party_id)
