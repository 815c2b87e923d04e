"""Parties on their own machines: the centre's keys, every other party's keys, and onboarding by file.

The centre alone holds its private keys: X25519 (packets are sealed to it)
and Ed25519 (it signs the results it seals to each requester). `papilla
centre init` creates them once; `papilla centre export-public-key FILE`
writes the public half that stations and services are configured with
(`PAPILLA_CENTRE_PUBLIC_KEY`, or `centre-public.json` in their home).
Nothing else creates or reads a centre private key: a missing key is a
`PartyError` naming the command that makes it.

A station, a service or a person (principal) makes its own key pair on its
own machine (`papilla station init`, `papilla service init`, `papilla
principal init`): an Ed25519 signing key, and for stations and services an
X25519 key that results are sealed to. It also writes a registration request
file (ids, public keys, a fingerprint to read aloud, a self-signature proving
it holds the key), which an administrator registers at the centre.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .config import ConfigError, Settings
from .crypto import sealing
from .crypto.errors import KeyFileError
from .crypto.providers import open_key_provider
from .crypto.registry import SenderRecord, valid_sender_id
from .legal.roles import ROLES
from .legal.uses import RECIPIENT_KINDS
from .names import SENDERS

CENTRE_ID = "papilla-centre"
CENTRE_BOX_FILE, CENTRE_SIGN_FILE = "centre-x25519.pem", "centre-ed25519.pem"
CENTRE_PUBLIC_FILE = "centre-public.json"
REGISTRATION_SCHEMA, CENTRE_PUBLIC_SCHEMA = "papilla.registration/1", "papilla.centre-public/1"
PARTY_KINDS = ("station", "service", "principal")


class PartyError(ConfigError):
    """A key or registration file that is missing or wrong: one sentence naming the fix."""


def _raw(key) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fingerprint(*raw_keys: bytes) -> str:
    """SHA-256 over the public keys, as 8 groups of 4 hex digits: short enough to read aloud on the phone."""
    digest = hashlib.sha256(b"papilla/fingerprint/v1" + b"".join(raw_keys)).hexdigest()[:32].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 32, 4))


# --- the centre ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CentreKeys:
    box: X25519PrivateKey          # opens packets sealed to the centre
    signing: Ed25519PrivateKey     # signs results sealed to requesters


@dataclass(frozen=True)
class CentrePublic:
    box: X25519PublicKey
    verify: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(_raw(self.box), _raw(self.verify))

    def as_sender(self) -> SenderRecord:
        """The centre as the signer of sealed results (what `open_sealed` looks senders up as)."""
        return SenderRecord(sender_id=CENTRE_ID, kind="service", public_key=self.verify, status="active")


def init_centre(settings: Settings) -> tuple[CentrePublic, bool]:
    """Create the centre's keys once (idempotent). Returns (public half, whether anything was created)."""
    created = False
    for name, make in ((CENTRE_BOX_FILE, X25519PrivateKey.generate), (CENTRE_SIGN_FILE, Ed25519PrivateKey.generate)):
        path = settings.key_dir / name
        if not path.exists():
            try:
                sealing.save_private_key(make(), path)
                created = True
            except FileExistsError:
                pass
    open_key_provider(settings, create=True).initialise()   # the KEK, IIN pepper, audit and depersonalization keys
    keys = load_centre_keys(settings)
    return CentrePublic(keys.box.public_key(), keys.signing.public_key()), created


def load_centre_keys(settings: Settings) -> CentreKeys:
    paths = [settings.key_dir / CENTRE_BOX_FILE, settings.key_dir / CENTRE_SIGN_FILE]
    if not all(p.exists() for p in paths):
        raise PartyError(f"no centre keys in {settings.key_dir}: this is not the centre, or run "
                         "`papilla centre init` there first")
    try:
        return CentreKeys(sealing.load_centre_private_key(paths[0]), sealing.load_signing_key(paths[1]))
    except KeyFileError as exc:
        raise PartyError(f"centre key files in {settings.key_dir} are unreadable: {exc}") from None


def export_centre_public(settings: Settings, path: Path) -> CentrePublic:
    keys = load_centre_keys(settings)
    public = CentrePublic(keys.box.public_key(), keys.signing.public_key())
    doc = {"schema": CENTRE_PUBLIC_SCHEMA, "box_key": _b64(_raw(public.box)),
           "verify_key": _b64(_raw(public.verify)), "fingerprint": public.fingerprint}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return public


def centre_public_path(settings: Settings) -> Path:
    configured = os.environ.get("PAPILLA_CENTRE_PUBLIC_KEY")
    return Path(configured) if configured else settings.home / CENTRE_PUBLIC_FILE


def load_centre_public(settings: Settings) -> CentrePublic:
    """The centre's public keys from the file it exported; never derived from a private key."""
    return load_centre_public_file(centre_public_path(settings))


def load_centre_public_file(path: Path) -> CentrePublic:
    if not path.is_file():
        raise PartyError(f"no centre public key file at {path}: copy the file the centre exported "
                         "(`papilla centre export-public-key`) there or set PAPILLA_CENTRE_PUBLIC_KEY")
    try:
        doc = json.loads(path.read_text())
        if doc.get("schema") != CENTRE_PUBLIC_SCHEMA:
            raise ValueError
        return CentrePublic(X25519PublicKey.from_public_bytes(base64.b64decode(doc["box_key"])),
                            Ed25519PublicKey.from_public_bytes(base64.b64decode(doc["verify_key"])))
    except (ValueError, KeyError, TypeError):
        raise PartyError(f"{path} is not a centre public key file ({CENTRE_PUBLIC_SCHEMA})") from None


# --- stations, services, principals ---------------------------------------------------------------

@dataclass(frozen=True)
class PartyKeys:
    party_id: str
    signing: Ed25519PrivateKey
    box: X25519PrivateKey | None   # None for principals: nothing is sealed to a person


def _key_paths(settings: Settings, party_id: str) -> tuple[Path, Path]:
    return (settings.station_key_dir / f"{party_id}.ed25519.pem", settings.station_key_dir / f"{party_id}.x25519.pem")


def registration_path(settings: Settings, party_id: str) -> Path:
    return settings.station_key_dir / f"{party_id}.registration.json"


def init_party(settings: Settings, party_id: str, kind: str, *, label: str = "", role: str | None = None) -> dict:
    """Create this party's keys (never replacing existing ones) and its registration request; return it."""
    if not valid_sender_id(party_id) or len(party_id) < 3:
        raise PartyError(f"{party_id!r} is not a valid id (3-128 letters, digits and . _ : @ -)")
    if kind == "principal" and role not in ROLES:
        raise PartyError(f"a principal needs a role, one of: {', '.join(ROLES)}")
    sign_path, box_path = _key_paths(settings, party_id)
    if sign_path.exists():
        raise PartyError(f"{party_id} already has keys in {settings.station_key_dir}; one id is bound to one "
                         "key for good (register a new key under a new id)")
    sealing.save_private_key(Ed25519PrivateKey.generate(), sign_path)
    if kind != "principal":
        sealing.save_private_key(X25519PrivateKey.generate(), box_path)
    request = registration_request(load_party(settings, party_id), kind, label=label, role=role)
    registration_path(settings, party_id).write_text(json.dumps(request, indent=2) + "\n")
    return request


def load_party(settings: Settings, party_id: str) -> PartyKeys:
    sign_path, box_path = _key_paths(settings, party_id)
    if not sign_path.exists():
        raise PartyError(f"no keys for {party_id} in {settings.station_key_dir}: run "
                         f"`papilla station init {party_id}` (or `service init` / `principal init`) first")
    box = sealing.load_centre_private_key(box_path) if box_path.exists() else None
    return PartyKeys(party_id, sealing.load_signing_key(sign_path), box)


def _canonical(request: dict) -> bytes:
    return json.dumps({k: v for k, v in request.items() if k != "self_signature"}, sort_keys=True,
                      separators=(",", ":")).encode()


def registration_request(keys: PartyKeys, kind: str, *, label: str = "", role: str | None = None) -> dict:
    raws = [_raw(keys.signing.public_key())] + ([_raw(keys.box.public_key())] if keys.box else [])
    request = {"schema": REGISTRATION_SCHEMA, "id": keys.party_id, "kind": kind, "label": label, "role": role,
               "signing_key": _b64(raws[0]), "box_key": _b64(raws[1]) if keys.box else None,
               "fingerprint": fingerprint(*raws)}
    request["self_signature"] = _b64(keys.signing.sign(_canonical(request)))
    return request


@dataclass(frozen=True)
class Registration:
    party_id: str
    kind: str
    label: str
    role: str | None
    signing_key: Ed25519PublicKey
    box_key: X25519PublicKey | None
    fingerprint: str


def read_registration(path: Path) -> Registration:
    """Parse and check a registration request file (schema, keys, fingerprint, proof of possession)."""
    try:
        request = json.loads(Path(path).read_text())
        if request.get("schema") != REGISTRATION_SCHEMA or request.get("kind") not in PARTY_KINDS:
            raise ValueError
        signing = Ed25519PublicKey.from_public_bytes(base64.b64decode(request["signing_key"]))
        box = X25519PublicKey.from_public_bytes(base64.b64decode(request["box_key"])) if request["box_key"] else None
        raws = [_raw(signing)] + ([_raw(box)] if box else [])
        signing.verify(base64.b64decode(request["self_signature"]), _canonical(request))
    except FileNotFoundError:
        raise PartyError(f"no registration file at {path}") from None
    except InvalidSignature:
        raise PartyError(f"{path}: the self-signature does not match its signing key (altered file)") from None
    except (ValueError, KeyError, TypeError):
        raise PartyError(f"{path} is not a registration request ({REGISTRATION_SCHEMA})") from None
    if request["fingerprint"] != fingerprint(*raws):
        raise PartyError(f"{path}: the fingerprint does not match its keys (altered file)")
    if (request["kind"] == "principal") != (box is None) or (request["kind"] == "principal"
                                                            and request.get("role") not in ROLES):
        raise PartyError(f"{path}: keys or role do not fit a {request['kind']}")
    return Registration(request["id"], request["kind"], request.get("label") or "", request.get("role"),
                        signing, box, request["fingerprint"])


# --- what a service is, as the centre registered it (purpose limitation, shared/legal/uses.py) ----------------

RECIPIENT_KIND = "recipient_kind"


def set_recipient_kind(store, party_id: str, kind: str) -> None:
    """Record, at registration, what kind of requester the service is (public service, registering authority,
    court, prosecutor, police …). Set by the centre's administrator, never by the service; set once: a service
    that changes kind is registered again under a new id, so every past use stays attributable."""
    if kind not in RECIPIENT_KINDS:
        raise PartyError(f"unknown recipient kind {kind!r} (one of: {', '.join(RECIPIENT_KINDS)})")
    doc = store.get(SENDERS, party_id)
    if doc is None or doc.get("kind") != "service":
        raise PartyError(f"{party_id} is not a registered service: only services have a recipient kind")
    if doc.get(RECIPIENT_KIND) not in (None, kind):
        raise PartyError(f"service {party_id} is registered as {doc[RECIPIENT_KIND]}; register a new id for "
                         "another kind")
    store.update(SENDERS, {"_id": party_id}, set={RECIPIENT_KIND: kind})


def recipient_kind(store, party_id: str | None) -> str | None:
    """The kind the centre registered for this service (None: none registered, or not a service)."""
    doc = store.get(SENDERS, party_id) if party_id else None
    return doc.get(RECIPIENT_KIND) if doc and doc.get("kind") == "service" else None
