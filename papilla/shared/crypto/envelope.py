"""Envelope encryption of sensitive fields, one data key per subject.

Data key record (collection ``data_keys``, ``_id`` = subject id)::

    {"_id": subject_id, "state": "active", "kek_id": "kek-1", "key_version": 1,
     "nonce": <12 bytes>, "wrapped": <48 bytes>, "created_at": "<ISO-8601 UTC>"}

A *transient* key (a request's probes, a dead letter's body; never a person's)
may also carry ``expire_at`` (an expiry stamp, shared/store/expiry.py): the key
vault's TTL index deletes it then, which crypto-shreds what it encrypted.

The data key (AES-256) is wrapped with AES-256-GCM under a KEK of the key
provider, associated data = (subject id, key version, KEK id): a wrapped key
copied onto another subject's record does not unwrap.

Field ciphertexts are store-safe dicts ``{"v": 1, "kv": key_version,
"n": <12-byte nonce>, "ct": <ciphertext+tag>}`` with associated data =
(subject id, collection, document id, field, format version, key version):
a ciphertext copied to another document, field or subject fails with
`IntegrityError`.

Crypto-shredding: `shred` turns the record into a tombstone
``{"_id", "state": "destroyed", "key_version", "created_at", "destroyed_at"}``
(key material unset in one atomic update).  Afterwards `decrypt` raises
`DataKeyDestroyed` in every process at once: data keys are never cached
beyond one call.  The tombstone also stops a redelivered message from
silently creating a fresh key for a destroyed subject (`encrypt` raises
`DataKeyDestroyed` too).  Subject ids must therefore never be reused.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from papilla.shared import names

from ._store import DuplicateKeyError
from .errors import DataKeyDestroyed, IntegrityError, KeyUnwrapError, UnknownKeyId, WrappedKeyError
from .keys import KeyProvider

FORMAT_VERSION = 1
DATA_KEYS = names.DATA_KEYS
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
ACTIVE = "active"
DESTROYED = "destroyed"

_WRAP_LABEL = "papilla/data-key-wrap/v1"
_FIELD_LABEL = "papilla/field"

__all__ = ["EnvelopeCipher", "DataKeyDestroyed", "IntegrityError", "WrappedKeyError",
           "FORMAT_VERSION", "DATA_KEYS"]


def _encode(*parts: str | int) -> bytes:
    """Unambiguous encoding: 4-byte big-endian length + UTF-8 of each part."""
    out = bytearray()
    for part in parts:
        raw = str(part).encode("utf-8")
        out += len(raw).to_bytes(4, "big")
        out += raw
    return bytes(out)


def wrap_aad(subject_id: str, key_version: int, kek_id: str) -> bytes:
    return _encode(_WRAP_LABEL, subject_id, key_version, kek_id)


def field_aad(subject_id: str, collection: str, doc_id: str, field: str, version: int,
              key_version: int) -> bytes:
    return _encode(_FIELD_LABEL, subject_id, collection, doc_id, field, version, key_version)


def _require_str(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str")


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray, memoryview)):  # bson Binary is a bytes subclass
        return bytes(value)
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class EnvelopeCipher:
    """Encrypt/decrypt fields under per-subject data keys kept in ``data_keys``.

    Stateless apart from its store and key provider: safe to use from many
    threads and processes at once.
    """

    def __init__(self, store: Any, key_provider: KeyProvider, *, collection: str = DATA_KEYS) -> None:
        self._store = store
        self._keys = key_provider
        self._collection = collection

    # -- data keys ----------------------------------------------------------
    def _record(self, subject_id: str) -> dict | None:
        return self._store.get(self._collection, subject_id)

    def _unwrap(self, subject_id: str, record: dict) -> tuple[bytes, int]:
        """Data key and key version from an active record (raises if destroyed/bad)."""
        if record.get("state") != ACTIVE or record.get("wrapped") is None:
            raise DataKeyDestroyed("the subject's data key has been destroyed", subject_id=subject_id)
        key_version = record.get("key_version")
        kek_id = record.get("kek_id")
        nonce = _as_bytes(record.get("nonce"))
        wrapped = _as_bytes(record.get("wrapped"))
        if (not isinstance(key_version, int) or isinstance(key_version, bool) or not isinstance(kek_id, str)
                or nonce is None or wrapped is None):
            raise WrappedKeyError("data key record is malformed", collection=self._collection,
                                  field="wrapped", subject_id=subject_id)
        try:
            key = self._keys.unwrap_key(kek_id, nonce, wrapped, wrap_aad(subject_id, key_version, kek_id))
        except KeyUnwrapError:
            raise WrappedKeyError(
                "wrapped data key failed authentication (moved from another subject record or tampered)",
                collection=self._collection, field="wrapped", subject_id=subject_id) from None
        except UnknownKeyId:
            raise  # a missing KEK is an operational fault, not tampering: keep it distinct
        if len(key) != DATA_KEY_SIZE:
            raise WrappedKeyError("unwrapped data key has the wrong size", collection=self._collection,
                                  field="wrapped", subject_id=subject_id)
        return key, key_version

    def _wrapped_record(self, subject_id: str, key: bytes, key_version: int) -> dict:
        kek_id = self._keys.current_kek_id()
        nonce, wrapped = self._keys.wrap_key(kek_id, key, wrap_aad(subject_id, key_version, kek_id))
        return {"_id": subject_id, "state": ACTIVE, "kek_id": kek_id, "key_version": key_version,
                "nonce": nonce, "wrapped": wrapped, "created_at": _now()}

    def _get_or_create(self, subject_id: str, expire_at: str | None = None) -> tuple[bytes, int]:
        record = self._record(subject_id)
        if record is not None:
            return self._unwrap(subject_id, record)
        key = AESGCM.generate_key(bit_length=256)
        new = self._wrapped_record(subject_id, key, 1)
        if expire_at is not None:
            new["expire_at"] = expire_at
        try:
            self._store.insert(self._collection, new)
        except DuplicateKeyError:
            # another thread/process created it first: use the stored one
            record = self._record(subject_id)
            if record is None:  # created and shredded in between
                raise DataKeyDestroyed("the subject's data key has been destroyed",
                                       subject_id=subject_id) from None
            return self._unwrap(subject_id, record)
        return key, 1

    # -- public API -----------------------------------------------------------
    def encrypt(self, subject_id: str, collection: str, doc_id: str, field: str,
                plaintext: bytes, *, key_expire_at: str | None = None) -> dict:
        """Encrypt ``plaintext`` for ``collection/doc_id/field`` of ``subject_id``.

        Creates the subject's data key on first use, expiring at ``key_expire_at``
        (an expiry stamp) when given: only for transient keys, never a person's.
        Raises `DataKeyDestroyed` if the subject was shredded.
        """
        for name, value in (("subject_id", subject_id), ("collection", collection),
                            ("doc_id", doc_id), ("field", field)):
            _require_str(name, value)
        data = _as_bytes(plaintext)
        if data is None:
            raise TypeError("plaintext must be bytes")
        key, key_version = self._get_or_create(subject_id, key_expire_at)
        nonce = secrets.token_bytes(NONCE_SIZE)
        ct = AESGCM(key).encrypt(
            nonce, data, field_aad(subject_id, collection, doc_id, field, FORMAT_VERSION, key_version))
        return {"v": FORMAT_VERSION, "kv": key_version, "n": nonce, "ct": ct}

    def decrypt(self, subject_id: str, collection: str, doc_id: str, field: str, blob: dict) -> bytes:
        """Decrypt a blob made by `encrypt` for exactly the same location.

        Raises `DataKeyDestroyed` (shredded), `IntegrityError` (tampered,
        malformed, or moved from another subject/document/field).
        """
        for name, value in (("subject_id", subject_id), ("collection", collection),
                            ("doc_id", doc_id), ("field", field)):
            _require_str(name, value)

        def fail(what: str) -> IntegrityError:
            return IntegrityError(f"{what} for field {field!r} of a document in {collection!r}",
                                  collection=collection, field=field, doc_id=doc_id, subject_id=subject_id)

        if not isinstance(blob, dict):
            raise fail("ciphertext is not an encrypted-field object")
        version, key_version = blob.get("v"), blob.get("kv")
        nonce, ct = _as_bytes(blob.get("n")), _as_bytes(blob.get("ct"))
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise fail("unsupported ciphertext format version")
        if not isinstance(key_version, int) or isinstance(key_version, bool):
            raise fail("ciphertext key version is malformed")
        if nonce is None or len(nonce) != NONCE_SIZE or ct is None or len(ct) < TAG_SIZE:
            raise fail("ciphertext is malformed")
        record = self._record(subject_id)
        if record is None:
            raise DataKeyDestroyed("no data key for the subject (destroyed, or never created)",
                                   subject_id=subject_id)
        key, current_version = self._unwrap(subject_id, record)
        if key_version != current_version:
            raise fail("ciphertext key version does not match the subject's data key")
        try:
            return AESGCM(key).decrypt(
                nonce, ct, field_aad(subject_id, collection, doc_id, field, version, key_version))
        except InvalidTag:
            raise fail("integrity check failed (tampered, or moved from another subject/document/field)") from None

    def shred(self, subject_id: str) -> bool:
        """Destroy the subject's data key (crypto-shredding) and leave a tombstone.

        Returns True if key material was destroyed, False if there was none
        (already shredded or never created; a tombstone is written anyway so
        no key can be created for this subject afterwards).

        ``state: "destroyed"`` is absorbing: nothing ever sets it back to
        active (only `insert` of a missing record creates an active key), and
        every reader refuses a record in that state even if key bytes were
        (re)written into it by a racing `rewrap`.
        """
        _require_str("subject_id", subject_id)
        while True:
            record = self._record(subject_id)
            if record is not None:
                had_key = record.get("wrapped") is not None
                if not had_key and record.get("state") == DESTROYED:
                    return False
                if self._store.update(self._collection, {"_id": subject_id},
                                      set={"state": DESTROYED, "destroyed_at": _now()},
                                      unset=["kek_id", "nonce", "wrapped"]):
                    return had_key
                continue  # deleted underneath us: go round
            try:
                self._store.insert(self._collection, {"_id": subject_id, "state": DESTROYED,
                                                      "key_version": 1, "destroyed_at": _now()})
                return False
            except DuplicateKeyError:
                continue  # a key was created concurrently: wipe it

    def forget(self, subject_id: str) -> bool:
        """Destroy a *transient* key (e.g. a request's probe key) without leaving a tombstone.

        For keys whose owner id is never reused meaningfully; data keys of
        people are destroyed with `shred`, whose tombstone stops re-creation.
        """
        _require_str("subject_id", subject_id)
        return self._store.delete(self._collection, {"_id": subject_id}) > 0

    def rewrap(self, subject_id: str) -> bool:
        """Re-wrap the subject's data key under the provider's current KEK.

        Returns True if it was re-wrapped, False if already under the current
        KEK.  Raises `DataKeyDestroyed` if there is no live key.

        The store's compare-and-set may only filter on ``_id`` for
        ``data_keys`` (no other indexed field), so a `shred` racing this call
        is handled by the absorbing ``state``: rewrap never writes ``state``;
        if a shred landed between our read and our write, the record is
        ``destroyed`` with key bytes in it, which no reader accepts, and we
        wipe those bytes again before returning.
        """
        _require_str("subject_id", subject_id)
        record = self._record(subject_id)
        if record is None:
            raise DataKeyDestroyed("no data key for the subject (destroyed, or never created)",
                                   subject_id=subject_id)
        key, key_version = self._unwrap(subject_id, record)
        if record["kek_id"] == self._keys.current_kek_id():
            return False
        new = self._wrapped_record(subject_id, key, key_version)
        changes = {k: new[k] for k in ("kek_id", "nonce", "wrapped")}
        changes["rewrapped_at"] = _now()
        matched = self._store.update(self._collection, {"_id": subject_id}, set=changes)
        after = self._record(subject_id)
        if not matched or after is None or after.get("state") != ACTIVE:
            if after is not None and after.get("wrapped") is not None:
                self.shred(subject_id)  # undo the bytes we wrote over a tombstone
            raise DataKeyDestroyed("the subject's data key was destroyed during re-wrap",
                                   subject_id=subject_id)
        return True

    def key_state(self, subject_id: str) -> str:
        """``"none"``, ``"active"`` or ``"destroyed"`` (no key material is read)."""
        record = self._record(subject_id)
        if record is None:
            return "none"
        return ACTIVE if record.get("state") == ACTIVE and record.get("wrapped") is not None else DESTROYED
