"""Sealed packets from stations/services to the processing centre.

Wire format, version 1 (all integers big-endian)::

    header  = "PPLS" | version u8 (=1)
            | sender_id_len u8 | sender_id (ASCII, see registry.SENDER_ID_RE)
            | packet_id_len u8 | packet_id (same alphabet)
            | created_at i64 (ms since the Unix epoch, UTC)
            | ephemeral X25519 public key (32) | nonce (12)
    body    = ct_len u32 | ciphertext (AES-256-GCM, tag included; AAD = header)
    trailer = Ed25519 signature (64) over header | body

    key     = HKDF-SHA256(ikm = X25519(ephemeral, centre),
                          salt = none,
                          info = "papilla/seal/v1" | ephemeral public | centre public)

Opening is sign-then-verify-before-decrypt: parse strictly (no trailing
bytes), look the sender up (unknown / revoked refused), verify the signature
over everything before it, and only then derive the key and decrypt.  Any
changed byte therefore fails as `BadSignature` (or `MalformedPacket` when it
breaks the framing, or `UnknownSender` when it lands in the sender id), and
never reaches the decryption step.

No exception message contains payload, ciphertext or key bytes.
"""
from __future__ import annotations

import os
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._files import create_exclusive, read_private
from .errors import (BadSignature, DecryptionFailed, KeyFileError, MalformedPacket, RevokedSender,
                     SealError, UnknownSender)
from .registry import ACTIVE, SenderLookup, valid_sender_id

MAGIC = b"PPLS"
FORMAT_VERSION = 1
SIGNATURE_SIZE = 64
PUBLIC_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
#: Largest payload sealed or opened: a full ten-print packet (10 images of `messages.MAX_IMAGE_BYTES`, base64 in
#: JSON: 26.7 MB) with room for its fields. Sealed and base64'd into a dramatiq message it stays under
#: `shared.wire.MAX_MESSAGE_BYTES` (tests/hostile/test_size_limits.py checks the whole chain).
MAX_PAYLOAD = 28 * 1024 * 1024
#: Largest sealed packet: the payload, its tag, the longest header and the signature.
MAX_SEALED = MAX_PAYLOAD + 1024
_HKDF_INFO = b"papilla/seal/v1"
_FIXED_TAIL = struct.Struct(">q32s12s")  # created_at, ephemeral public, nonce

__all__ = [
    "seal", "peek_header", "open_sealed", "SealHeader", "OpenedPacket",
    "SealError", "MalformedPacket", "UnknownSender", "RevokedSender", "BadSignature", "DecryptionFailed",
    "generate_signing_key", "generate_centre_key", "save_private_key", "save_public_key",
    "load_signing_key", "load_verify_key", "load_centre_private_key", "load_centre_public_key",
]


@dataclass(frozen=True)
class SealHeader:
    """The parsed, UNAUTHENTICATED header: fit for routing and dead-letter records only."""
    version: int
    sender_id: str
    packet_id: str
    created_at: datetime
    ephemeral_public: bytes
    nonce: bytes


@dataclass(frozen=True)
class OpenedPacket:
    sender_id: str
    packet_id: str
    created_at: datetime
    payload: bytes

    def __repr__(self) -> str:  # never print the payload
        return (f"OpenedPacket(sender_id={self.sender_id!r}, packet_id={self.packet_id!r}, "
                f"created_at={self.created_at.isoformat()!r}, payload=<{len(self.payload)} bytes>)")


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _derive(shared: bytes, ephemeral_public: bytes, centre_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_HKDF_INFO + ephemeral_public + centre_public).derive(shared)


def _to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return int(when.timestamp() * 1000)


def seal(payload: bytes, *, sender_id: str, packet_id: str, signing_key: Ed25519PrivateKey,
         centre_public: X25519PublicKey, created_at: datetime | None = None) -> bytes:
    """Encrypt ``payload`` to the centre and sign it as ``sender_id``."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes")
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload too large for a sealed packet")
    if not valid_sender_id(sender_id):
        raise ValueError("sender_id must be 1-128 characters of [A-Za-z0-9._:@-], starting alphanumeric")
    if not valid_sender_id(packet_id):
        raise ValueError("packet_id must be 1-128 characters of [A-Za-z0-9._:@-], starting alphanumeric")
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise TypeError("signing_key must be an Ed25519PrivateKey")
    if not isinstance(centre_public, X25519PublicKey):
        raise TypeError("centre_public must be an X25519PublicKey")
    created_ms = _to_ms(created_at or datetime.now(timezone.utc))

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    key = _derive(ephemeral.exchange(centre_public), ephemeral_public, _raw_public(centre_public))
    nonce = secrets.token_bytes(NONCE_SIZE)
    sid, pid = sender_id.encode("ascii"), packet_id.encode("ascii")
    header = (MAGIC + bytes((FORMAT_VERSION, len(sid))) + sid + bytes((len(pid),)) + pid
              + _FIXED_TAIL.pack(created_ms, ephemeral_public, nonce))
    ct = AESGCM(key).encrypt(nonce, payload, header)
    signed = header + struct.pack(">I", len(ct)) + ct
    return signed + signing_key.sign(signed)


@dataclass(frozen=True)
class _Parsed:
    header: SealHeader
    header_bytes: bytes
    signed: bytes
    ciphertext: bytes
    signature: bytes


def _parse(sealed: bytes) -> _Parsed:
    if not isinstance(sealed, (bytes, bytearray, memoryview)):
        raise MalformedPacket("sealed packet must be bytes")
    if len(sealed) > MAX_SEALED:
        raise MalformedPacket(f"malformed sealed packet: larger than {MAX_SEALED} bytes")
    data = bytes(sealed)
    pos = 0
    ids: dict[str, str] = {}

    def malformed(what: str) -> MalformedPacket:
        return MalformedPacket(f"malformed sealed packet: {what}",
                               sender_id=ids.get("sender_id"), packet_id=ids.get("packet_id"))

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if n < 0 or pos + n > len(data):
            raise malformed(f"truncated at {what}")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    if take(4, "magic") != MAGIC:
        raise malformed("not a papilla sealed packet (bad magic)")
    version = take(1, "version")[0]
    if version != FORMAT_VERSION:
        raise malformed("unsupported format version")
    for name in ("sender_id", "packet_id"):
        raw = take(take(1, f"{name} length")[0], name)
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            raise malformed(f"{name} is not ASCII") from None
        if not valid_sender_id(value):
            raise malformed(f"{name} has invalid characters or length")
        ids[name] = value
    created_ms, ephemeral_public, nonce = _FIXED_TAIL.unpack(take(_FIXED_TAIL.size, "fixed header"))
    header_end = pos
    (ct_len,) = struct.unpack(">I", take(4, "ciphertext length"))
    if not TAG_SIZE <= ct_len <= MAX_PAYLOAD + TAG_SIZE:
        raise malformed("ciphertext length out of range")
    ciphertext = take(ct_len, "ciphertext")
    signature = take(SIGNATURE_SIZE, "signature")
    if pos != len(data):
        raise malformed("trailing bytes after the signature")
    try:
        created_at = datetime.fromtimestamp(created_ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise malformed("created_at out of range") from None
    header = SealHeader(version=version, sender_id=ids["sender_id"], packet_id=ids["packet_id"],
                        created_at=created_at, ephemeral_public=ephemeral_public, nonce=nonce)
    return _Parsed(header=header, header_bytes=data[:header_end], signed=data[:-SIGNATURE_SIZE],
                   ciphertext=ciphertext, signature=signature)


def peek_header(sealed: bytes) -> SealHeader:
    """Parse the header without any verification (routing, dead-letter records)."""
    return _parse(sealed).header


def open_sealed(sealed: bytes, *, senders: SenderLookup, centre_private: X25519PrivateKey) -> OpenedPacket:
    """Verify and decrypt a sealed packet.  Raises a `SealError` subclass."""
    parsed = _parse(sealed)
    h = parsed.header
    ids = {"sender_id": h.sender_id, "packet_id": h.packet_id}
    record = senders.get(h.sender_id)
    if record is None:
        raise UnknownSender(f"sender {h.sender_id!r} is not registered", **ids)
    if record.status != ACTIVE:
        raise RevokedSender(f"sender {h.sender_id!r} is revoked", **ids)
    try:
        record.public_key.verify(parsed.signature, parsed.signed)
    except InvalidSignature:
        raise BadSignature("sealed packet signature does not verify (tampered, or not signed by this sender)",
                           **ids) from None
    try:
        shared = centre_private.exchange(X25519PublicKey.from_public_bytes(h.ephemeral_public))
    except ValueError:  # low-order ephemeral point: all-zero shared secret
        raise DecryptionFailed("sealed packet has an unusable ephemeral key", **ids) from None
    key = _derive(shared, h.ephemeral_public, _raw_public(centre_private.public_key()))
    try:
        payload = AESGCM(key).decrypt(h.nonce, parsed.ciphertext, parsed.header_bytes)
    except InvalidTag:
        raise DecryptionFailed("sealed packet does not decrypt with this centre key", **ids) from None
    return OpenedPacket(sender_id=h.sender_id, packet_id=h.packet_id, created_at=h.created_at, payload=payload)


# --- key files ---------------------------------------------------------------
def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def generate_centre_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey | X25519PrivateKey, path: str | os.PathLike[str], *,
                     password: bytes | None = None) -> None:
    """Write a private key as PKCS#8 PEM, mode 0600, atomically; never overwrites."""
    if not isinstance(key, (Ed25519PrivateKey, X25519PrivateKey)):
        raise TypeError("key must be an Ed25519 or X25519 private key")
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not create_exclusive(path, pem, 0o600):
        raise FileExistsError("refusing to overwrite an existing private key file")


def save_public_key(key: Ed25519PublicKey | X25519PublicKey, path: str | os.PathLike[str]) -> None:
    """Write a public key as SubjectPublicKeyInfo PEM, mode 0644, atomically; never overwrites."""
    if not isinstance(key, (Ed25519PublicKey, X25519PublicKey)):
        raise TypeError("key must be an Ed25519 or X25519 public key")
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not create_exclusive(path, pem, 0o644):
        raise FileExistsError("refusing to overwrite an existing public key file")


def _load_private(path: str | os.PathLike[str], kind: type, password: bytes | None):
    pem = read_private(Path(path), what="private key file")
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError):
        raise KeyFileError("private key file is not a readable PEM private key (or wrong password)") from None
    if not isinstance(key, kind):
        raise KeyFileError(f"private key file does not hold an {kind.__name__.removesuffix('PrivateKey')} key")
    return key


def _load_public(path: str | os.PathLike[str], kind: type):
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except ValueError:
        raise KeyFileError("public key file is not a readable PEM public key") from None
    if not isinstance(key, kind):
        raise KeyFileError(f"public key file does not hold an {kind.__name__.removesuffix('PublicKey')} key")
    return key


def load_signing_key(path: str | os.PathLike[str], *, password: bytes | None = None) -> Ed25519PrivateKey:
    return _load_private(path, Ed25519PrivateKey, password)


def load_centre_private_key(path: str | os.PathLike[str], *, password: bytes | None = None) -> X25519PrivateKey:
    return _load_private(path, X25519PrivateKey, password)


def load_verify_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    return _load_public(path, Ed25519PublicKey)


def load_centre_public_key(path: str | os.PathLike[str]) -> X25519PublicKey:
    return _load_public(path, X25519PublicKey)
