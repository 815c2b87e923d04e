"""`KeyProvider` on a PKCS#11 token (an HSM in production, SoftHSM2 in tests).

Every key is a token object that never leaves the token (``CKA_SENSITIVE``,
not ``CKA_EXTRACTABLE``):

    <prefix>-kek-N               AES-256, ENCRYPT/DECRYPT: wraps data keys with
                                 CKM_AES_GCM (12-byte nonce, associated data as
                                 the envelope gives it, 128-bit tag), so a wrapped
                                 record has the same shape as the file provider's.
    <prefix>-iin-pepper          generic secret, SIGN: CKM_SHA256_HMAC
    <prefix>-audit               generic secret, SIGN
    <prefix>-depersonalization   generic secret, SIGN (its own object; an HSM can
                                 put it under its own policy)

Objects are found by label on every `current_kek_id` / `kek_ids` call, so a
rotation made by another process is seen at once; handles of KEKs are cached
(a handle that went stale because another process retired the KEK is dropped).

Keys are only created by `initialise` and `rotate_kek` (``papilla centre init``
and ``papilla centre rotate-kek``, serialised by a store lease), or on first use
when the provider was made with ``create=True`` (tests).  Two objects with one
label are refused loudly rather than guessed between.

python-pkcs11 initialises the library without OS locking, so every call into
it is serialised by one process-wide lock; a forked child opens its own
library handle and session.
"""
from __future__ import annotations

import fcntl
import hmac
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.mechanisms import GCMParams

from .errors import KeyProviderConfigError, KeyProviderError, KeyUnwrapError, MissingKey, UnknownKeyId
from .keys import INIT_HINT, KEK_SIZE, PURPOSES, SECRET_SIZE, WRAP_NONCE_SIZE, check_purpose, kek_number

__all__ = ["Pkcs11Config", "Pkcs11KeyProvider"]

_LOCK = threading.RLock()            # python-pkcs11 calls C_Initialize(NULL): no concurrent calls
_LIBS: dict[str, tuple[int, pkcs11.lib]] = {}
_LOCK_FDS: dict[str, tuple[int, int]] = {}  # lock file -> (pid, fd)
_SESSIONS: dict[tuple[str, str], tuple[int, bytes, pkcs11.Session]] = {}  # (module, token): pid, PIN digest
_AUTH_FAILED = (p11e.GeneralError, p11e.EncryptedDataInvalid, p11e.EncryptedDataLenRange,
                p11e.DataLenRange, p11e.DataInvalid)
_SESSION_LOST = (p11e.SessionHandleInvalid, p11e.SessionClosed, p11e.DeviceRemoved, p11e.TokenNotPresent,
                 p11e.UserNotLoggedIn)
# A KEK made by another process a moment ago can be seen by label before SoftHSM's
# file store holds all its attributes (measured: MechanismInvalid on the first wrap).
_STALE_HANDLE = (p11e.ObjectHandleInvalid, p11e.KeyHandleInvalid, p11e.MechanismInvalid,
                 p11e.KeyTypeInconsistent)
_FRESH_RETRIES = 5
_PRIVATE = {Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False}


@dataclass(frozen=True)
class Pkcs11Config:
    """Where the keys are.  Defaults match SoftHSM2 as Debian installs it."""

    module: str = "/usr/lib/softhsm/libsofthsm2.so"   # PKCS#11 library (.so) of the HSM
    token_label: str = "papilla"                       # label of the token (slot) holding the keys
    pin: str = field(default="", repr=False)           # user PIN; never logged or shown
    label_prefix: str = "papilla"                      # object labels are <prefix>-kek-N, <prefix>-<purpose>
    lock_file: str = ""                                # if set, every token call holds an flock on this file:
                                                       # for SoftHSM2 shared by several processes (not an HSM)


def _lib(module: str) -> pkcs11.lib:
    pid = os.getpid()
    held = _LIBS.get(module)
    if held is not None and held[0] == pid:
        return held[1]
    try:
        lib = pkcs11.lib(module) if held is None else held[1]
        if held is not None:
            lib.reinitialize()  # forked child: the parent's initialisation is not ours
    except (p11e.PKCS11Error, OSError):
        raise KeyProviderConfigError("the PKCS#11 module cannot be loaded (check PAPILLA_PKCS11_MODULE)") from None
    _LIBS[module] = (pid, lib)
    return lib


def _open_session(config: Pkcs11Config) -> pkcs11.Session:
    pid, pin_digest = os.getpid(), sha256(config.pin.encode()).digest()
    key = (config.module, config.token_label)
    held = _SESSIONS.get(key)
    if held is not None and held[0] == pid:
        if not hmac.compare_digest(held[1], pin_digest):
            raise KeyProviderConfigError("this process is already logged in to the PKCS#11 token with another PIN")
        return held[2]
    lib = _lib(config.module)
    try:
        token = lib.get_token(token_label=config.token_label)
    except (p11e.NoSuchToken, p11e.MultipleTokensReturned):
        raise KeyProviderConfigError("no single PKCS#11 token with the configured label "
                                     "(check PAPILLA_PKCS11_TOKEN)") from None
    try:
        session = token.open(rw=True, user_pin=config.pin)
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange, p11e.ArgumentsBad):
        raise KeyProviderConfigError("the PKCS#11 PIN was refused (check PAPILLA_PKCS11_PIN)") from None
    except p11e.PinLocked:
        raise KeyProviderConfigError("the PKCS#11 user PIN is locked") from None
    _SESSIONS[key] = (pid, pin_digest, session)
    return session


@contextmanager
def _interprocess(lock_file: str):
    """Hold an exclusive flock on ``lock_file`` (if configured) for one token call.

    SoftHSM2's file store is not safe when processes use one token at once: a
    login rewrites the token file and a search racing another process's key
    creation can miss or garble objects (SoftHSMv2 #358, #573, #757; measured
    here: a new KEK invisible to the process that made it, MechanismInvalid on
    a half-read KEK).  Real HSMs serialise internally and need no lock."""
    if not lock_file:
        yield
        return
    pid = os.getpid()
    held = _LOCK_FDS.get(lock_file)
    if held is None or held[0] != pid:
        held = (pid, os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600))
        _LOCK_FDS[lock_file] = held
    fcntl.flock(held[1], fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(held[1], fcntl.LOCK_UN)


def _forget_session(config: Pkcs11Config) -> None:
    _SESSIONS.pop((config.module, config.token_label), None)


class Pkcs11KeyProvider:
    """KEKs and secrets as non-extractable objects on one PKCS#11 token."""

    kind = "pkcs11"

    def __init__(self, config: Pkcs11Config, *, create: bool = False) -> None:
        if not config.pin:
            raise KeyProviderConfigError("no PKCS#11 PIN configured (PAPILLA_PKCS11_PIN or PAPILLA_PKCS11_PIN_FILE)")
        self._config = config
        self._create = create
        self._kek_re = re.compile(re.escape(config.label_prefix) + r"-(kek-[1-9][0-9]{0,8})\Z")
        self._handles: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"Pkcs11KeyProvider(token={self._config.token_label!r})"

    def describe(self) -> dict[str, str]:
        return {"provider": "pkcs11", "module": self._config.module, "token": self._config.token_label,
                "label_prefix": self._config.label_prefix}

    # -- token access -----------------------------------------------------------
    def _call(self, fn, *, passthrough: bool = False):
        """Run ``fn(session)`` under the process lock; reopen a lost session once.

        With ``passthrough``, stale-handle and authentication failures reach the
        caller as they are; every other token error becomes a `KeyProviderError`
        naming its class (never a value).
        """
        with _LOCK, _interprocess(self._config.lock_file):
            for attempt in (1, 2):
                session = _open_session(self._config)
                try:
                    return fn(session)
                except _SESSION_LOST:
                    _forget_session(self._config)
                    self._handles.clear()
                    if attempt == 2:
                        raise KeyProviderError("the PKCS#11 session was lost twice in a row") from None
                except p11e.PKCS11Error as exc:
                    if passthrough and isinstance(exc, (*_STALE_HANDLE, *_AUTH_FAILED)):
                        raise
                    raise KeyProviderError(f"the PKCS#11 token refused an operation ({type(exc).__name__})") from None

    def _label(self, name: str) -> str:
        return f"{self._config.label_prefix}-{name}"

    def _labelled(self, session, label: str | None = None) -> list[tuple[str, object]]:
        """(label, object) of the token's secret keys, optionally one label only.

        Searched again when an object vanishes or is half-written while we read it
        (another process creating or destroying keys)."""
        attrs = {Attribute.CLASS: ObjectClass.SECRET_KEY}
        if label is not None:
            attrs[Attribute.LABEL] = label
        for attempt in range(_FRESH_RETRIES + 1):
            try:
                return [(obj.label or "", obj) for obj in session.get_objects(attrs)]
            except _STALE_HANDLE:
                if attempt == _FRESH_RETRIES:
                    raise KeyProviderError("the PKCS#11 token's objects kept changing during a search") from None
                time.sleep(0.01 * (attempt + 1))
        return []

    def _objects(self, session, label: str) -> list:
        return [obj for _, obj in self._labelled(session, label)]

    def _kek_objects(self, session) -> dict[int, list]:
        found: dict[int, list] = {}
        for label, obj in self._labelled(session):
            match = self._kek_re.match(label)
            if match:
                found.setdefault(kek_number(match.group(1)), []).append(obj)
        return found

    def _one(self, objects: list, name: str):
        if len(objects) > 1:
            raise KeyProviderError(f"the token holds {len(objects)} objects labelled {self._label(name)}; "
                                   "remove the duplicate")
        return objects[0] if objects else None

    # -- KEKs ---------------------------------------------------------------------
    def kek_ids(self) -> list[str]:
        return [f"kek-{n}" for n in sorted(self._call(self._kek_objects))]

    def current_kek_id(self) -> str:
        numbers = sorted(self._call(self._kek_objects))
        if not numbers:
            if not self._create:
                raise MissingKey(f"no key-encryption key on the PKCS#11 token; {INIT_HINT}")
            return self._call(lambda s: self._generate_kek(s, 1))
        return f"kek-{numbers[-1]}"

    def _generate_kek(self, session, n: int) -> str:
        kek_id = f"kek-{n}"
        session.generate_key(KeyType.AES, KEK_SIZE * 8, label=self._label(kek_id), id=kek_id.encode(),
                             store=True, capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                             template=dict(_PRIVATE))
        return kek_id

    def rotate_kek(self) -> str:
        def rotate(session):
            numbers = sorted(self._kek_objects(session))
            return self._generate_kek(session, (numbers[-1] if numbers else 0) + 1)
        return self._call(rotate)

    def retire_kek(self, kek_id: str) -> None:
        kek_number(kek_id)
        if kek_id == self.current_kek_id():
            raise KeyProviderError("the current KEK cannot be retired; rotate first")

        def destroy(session):
            objects = self._objects(session, self._label(kek_id))
            if not objects:
                raise UnknownKeyId(f"KEK {kek_id} is not held by this provider")
            for obj in objects:
                obj.destroy()
        self._call(destroy)
        self._handles.pop(kek_id, None)

    def _kek(self, session, kek_id: str):
        handle = self._handles.get(kek_id)
        if handle is None:
            kek_number(kek_id)
            handle = self._one(self._objects(session, self._label(kek_id)), kek_id)
            if handle is None:
                raise UnknownKeyId(f"KEK {kek_id} is not held by this provider")
            self._handles[kek_id] = handle
        return handle

    def _with_kek(self, kek_id: str, op):
        """``op(kek_handle)``; a handle that is stale (KEK retired elsewhere) or still being
        written by the process that made it is looked up again, a few times."""
        for attempt in range(_FRESH_RETRIES + 1):
            try:
                return self._call(lambda session: op(self._kek(session, kek_id)), passthrough=True)
            except _STALE_HANDLE as exc:
                self._handles.pop(kek_id, None)
                if attempt == _FRESH_RETRIES:
                    raise KeyProviderError(f"the PKCS#11 KEK {kek_id} stayed unusable ({type(exc).__name__})") from None
                time.sleep(0.01 * (attempt + 1))

    def wrap_key(self, kek_id: str, key: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = secrets.token_bytes(WRAP_NONCE_SIZE)
        params = GCMParams(nonce, bytes(aad), 128)
        try:
            wrapped = self._with_kek(kek_id, lambda k: k.encrypt(bytes(key), mechanism=Mechanism.AES_GCM,
                                                                mechanism_param=params))
        except p11e.PKCS11Error as exc:
            raise KeyProviderError(f"the PKCS#11 token refused to wrap ({type(exc).__name__})") from None
        return nonce, bytes(wrapped)

    def unwrap_key(self, kek_id: str, nonce: bytes, wrapped: bytes, aad: bytes) -> bytes:
        if len(nonce) != WRAP_NONCE_SIZE:
            raise KeyUnwrapError("wrapped key has a malformed nonce")
        params = GCMParams(bytes(nonce), bytes(aad), 128)
        try:
            return bytes(self._with_kek(kek_id, lambda k: k.decrypt(bytes(wrapped), mechanism=Mechanism.AES_GCM,
                                                                   mechanism_param=params)))
        except _AUTH_FAILED:
            raise KeyUnwrapError("wrapped key failed authentication under its KEK") from None
        except p11e.PKCS11Error as exc:
            raise KeyProviderError(f"the PKCS#11 token refused to unwrap ({type(exc).__name__})") from None

    # -- secrets ------------------------------------------------------------------
    def _generate_secret(self, session, purpose: str):
        return session.generate_key(KeyType.GENERIC_SECRET, SECRET_SIZE * 8, label=self._label(purpose),
                                    id=purpose.encode(), store=True,
                                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                                    template=dict(_PRIVATE))

    def _secret(self, session, purpose: str):
        handle = self._handles.get(purpose)
        if handle is None:
            handle = self._one(self._objects(session, self._label(purpose)), purpose)
            if handle is None:
                if not self._create:
                    raise MissingKey(f"the {purpose} key is missing on the PKCS#11 token; {INIT_HINT}")
                handle = self._generate_secret(session, purpose)
            self._handles[purpose] = handle
        return handle

    def mac(self, purpose: str, data: bytes) -> bytes:
        check_purpose(purpose)
        try:
            return bytes(self._call(lambda s: self._secret(s, purpose).sign(bytes(data),
                                                                          mechanism=Mechanism.SHA256_HMAC),
                                    passthrough=True))
        except p11e.PKCS11Error as exc:
            self._handles.pop(purpose, None)  # a stale handle is looked up again next time
            raise KeyProviderError(f"the PKCS#11 token refused the {purpose} MAC ({type(exc).__name__})") from None

    def initialise(self) -> list[str]:
        def init(session):
            created = []
            if not self._kek_objects(session):
                created.append(self._generate_kek(session, 1))
            for purpose in PURPOSES:
                if self._one(self._objects(session, self._label(purpose)), purpose) is None:
                    self._generate_secret(session, purpose)
                    created.append(purpose)
            return created
        return self._call(init)
