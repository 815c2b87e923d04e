"""Signing in with a principal's key kept on the console's machine (`papilla principal init`).

The console proves it holds the private key by signing a fresh challenge and checking it against the public
key the principal was registered with: at the station, the registration request file made with the key; at
the centre, the party registry (which also says whether the principal was revoked, and their role)."""
from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from papilla.shared.config import Settings
from papilla.shared.crypto.registry import SenderRegistry
from papilla.shared.errors import Refusal
from papilla.shared.parties import PartyError, PartyKeys, load_party, read_registration, registration_path

CHALLENGE_DOMAIN = b"papilla.console-signin/1\x00"


def prove_possession(keys: PartyKeys, public: Ed25519PublicKey) -> None:
    challenge = CHALLENGE_DOMAIN + secrets.token_bytes(32)
    try:
        public.verify(keys.signing.sign(challenge), challenge)
    except InvalidSignature:
        raise Refusal(f"the key of {keys.party_id} on this machine is not the one registered for it",
                      code="bad_principal_signature") from None


def station_principal(settings: Settings, principal_id: str) -> tuple[PartyKeys, str]:
    """(keys, role) of a principal whose key is on this station, as its registration file records them."""
    try:
        keys = load_party(settings, principal_id)
        registration = read_registration(registration_path(settings, principal_id))
    except PartyError as exc:
        raise Refusal(str(exc), code="unknown_principal") from None
    if registration.kind != "principal":
        raise Refusal(f"{principal_id} is a {registration.kind}, not a person who signs", code="unknown_principal")
    prove_possession(keys, registration.signing_key)
    return keys, registration.role


def centre_principal(settings: Settings, senders: SenderRegistry, principal_id: str) -> tuple[PartyKeys, str]:
    """(keys, role) of a principal registered and active at the centre whose key is on this machine."""
    record = senders.get(principal_id)
    if record is None or record.kind != "principal":
        raise Refusal(f"principal {principal_id} is not registered at the centre", code="unknown_principal")
    if not record.active:
        raise Refusal(f"principal {principal_id} was revoked", code="principal_revoked")
    try:
        keys = load_party(settings, principal_id)
    except PartyError as exc:
        raise Refusal(str(exc), code="unknown_principal") from None
    prove_possession(keys, record.public_key)
    return keys, record.role
