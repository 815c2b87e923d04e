"""Key providers: key-encryption keys (KEK) and the centre's separate secrets.

`KeyProvider` is the one interface the rest of Papilla uses.  It is shaped so
a hardware module can implement it without ever releasing a key: the envelope
asks the provider to *wrap* and *unwrap* data keys under a named KEK, and the
keyed hashes ask it to *mac* under a named secret.  Two implementations:

* `FileKeyProvider` (here): keys in files of private directories, for
  development, tests and one-machine demos.
* `Pkcs11KeyProvider` (`pkcs11_keys`): keys as non-extractable objects on a
  PKCS#11 token (an HSM in production, SoftHSM2 in tests).

`providers.open_key_provider(settings)` picks one from the configuration.

Keys and what each one is for (never one key for two purposes)::

    kek-N               AES-256; wraps data keys (AES-GCM, see `envelope`).
                        Rotated by re-wrapping (`rotation`); old KEKs are kept
                        until nothing is wrapped under them, then retired.
    iin-pepper          HMAC-SHA256 key of the IIN lookup hash (`iin`).  Not a
                        data key and not derived from a KEK: shredding or KEK
                        rotation never changes an IIN hash.
    audit               HMAC-SHA256 key for the audit trail.
    depersonalization   HMAC-SHA256 key of depersonalized ids (Law Art.9 p.1:
                        only the authorised bodies remove depersonalization),
                        kept apart from the others: its own directory (file
                        provider) or its own token object.

`FileKeyProvider(directory, depersonalization_dir=None)` layout::

    directory/            0700
      kek-1.key           0600, 32 random bytes
      kek-2.key           0600  (after one rotation; the highest n is current)
      iin-pepper.key      0600, 32 random bytes
      audit.key           0600, 32 random bytes
    depersonalization_dir/          0700 (default: directory/depersonalization)
      depersonalization.key         0600, 32 random bytes

With ``create=True`` (the default, for one-machine use) a missing key is
created on first use, atomically and race-free between processes (O_EXCL
temporary + no-clobber link, see `_files.create_exclusive`).  With
``create=False`` a missing key is a `MissingKey` error naming the command that
makes it; `initialise()` makes every missing key once.
"""
from __future__ import annotations

import hmac
import os
import re
import secrets
import threading
from hashlib import sha256
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._files import create_exclusive, ensure_private_dir, read_private
from .errors import KeyFileError, KeyProviderError, KeyUnwrapError, MissingKey, UnknownKeyId

KEK_SIZE = 32
SECRET_SIZE = 32
PEPPER_SIZE = SECRET_SIZE
WRAP_NONCE_SIZE = 12

IIN_PEPPER = "iin-pepper"
AUDIT = "audit"
DEPERSONALIZATION = "depersonalization"
PURPOSES = (IIN_PEPPER, AUDIT, DEPERSONALIZATION)
PEPPER_FILE = "iin-pepper.key"

KEK_ID_RE = re.compile(r"kek-([1-9][0-9]{0,8})\Z")
_KEK_FILE_RE = re.compile(r"kek-([1-9][0-9]{0,8})\.key\Z")
INIT_HINT = "run `papilla centre init` at the centre"

__all__ = [
    "KeyProvider", "FileKeyProvider", "KEK_SIZE", "SECRET_SIZE", "PEPPER_SIZE", "PURPOSES",
    "IIN_PEPPER", "AUDIT", "DEPERSONALIZATION", "kek_number", "check_purpose",
    "KeyProviderError", "UnknownKeyId", "KeyFileError", "KeyUnwrapError", "MissingKey",
]


def kek_number(kek_id: str) -> int:
    """``"kek-7"`` → 7; `UnknownKeyId` for anything else."""
    match = KEK_ID_RE.match(kek_id) if isinstance(kek_id, str) else None
    if match is None:
        raise UnknownKeyId("malformed KEK id")
    return int(match.group(1))


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise KeyProviderError(f"unknown secret purpose (expected one of {', '.join(PURPOSES)})")
    return purpose


@runtime_checkable
class KeyProvider(Protocol):
    """What `EnvelopeCipher`, the keyed hashes and KEK rotation need from a key source."""

    def current_kek_id(self) -> str:
        """Id of the KEK new data keys are wrapped under."""

    def kek_ids(self) -> list[str]:
        """All KEK ids held, oldest first."""

    def rotate_kek(self) -> str:
        """Make a new current KEK; old ones stay usable for unwrapping.  Returns its id."""

    def retire_kek(self, kek_id: str) -> None:
        """Destroy an old KEK (never the current one).  The caller checks that
        nothing is wrapped under it any more (`rotation.retire`)."""

    def wrap_key(self, kek_id: str, key: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-256-GCM-wrap ``key`` under KEK ``kek_id`` with associated data ``aad``.
        Returns ``(nonce, wrapped)`` (``wrapped`` = ciphertext + 16-byte tag)."""

    def unwrap_key(self, kek_id: str, nonce: bytes, wrapped: bytes, aad: bytes) -> bytes:
        """Inverse of `wrap_key`.  Raises `KeyUnwrapError` if authentication fails,
        `UnknownKeyId` if the KEK is not held."""

    def mac(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under the secret of ``purpose`` (one of `PURPOSES`)."""

    def initialise(self) -> list[str]:
        """Create every missing key (KEK-1 and each purpose's secret); names of those created."""

    def describe(self) -> dict[str, str]:
        """Kind and location of the provider, for operators (never key material)."""


class FileKeyProvider:
    """KEKs and secrets in files of private directories.

    Key bytes are cached in memory once read (key files are immutable; this
    does not affect crypto-shredding, which destroys *data* keys); a cached KEK
    whose file was retired by another process is dropped on its next use.  The current
    KEK id is re-read from the directory on every call, so a rotation made by
    another process is seen at once.
    """

    kind = "file"

    def __init__(self, directory: str | os.PathLike[str], *, create: bool = True,
                 depersonalization_dir: str | os.PathLike[str] | None = None) -> None:
        self._dir = Path(directory)
        self._depers_dir = Path(depersonalization_dir) if depersonalization_dir else self._dir / DEPERSONALIZATION
        self._create = create
        self._cache: dict[str, bytes] = {}
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileKeyProvider({str(self._dir)!r})"

    @property
    def directory(self) -> Path:
        return self._dir

    def describe(self) -> dict[str, str]:
        return {"provider": "file", "directory": str(self._dir),
                "depersonalization_directory": str(self._depers_dir)}

    # -- KEK ids -------------------------------------------------------------
    def _numbers(self) -> list[int]:
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for m in map(_KEK_FILE_RE.match, names) if m)

    def kek_ids(self) -> list[str]:
        return [f"kek-{n}" for n in self._numbers()]

    def current_kek_id(self) -> str:
        numbers = self._numbers()
        if not numbers:
            if not self._create:
                raise MissingKey(f"no key-encryption key in the key directory; {INIT_HINT}")
            ensure_private_dir(self._dir)
            self._create_kek(1)  # losing the race to another process is fine
            numbers = self._numbers()
        return f"kek-{numbers[-1]}"

    def rotate_kek(self) -> str:
        ensure_private_dir(self._dir)
        while True:
            numbers = self._numbers()
            n = (numbers[-1] if numbers else 0) + 1
            if self._create_kek(n):
                return f"kek-{n}"
            # another process created kek-n concurrently: that one is new too,
            # but this call promised a fresh KEK, so try the next number.

    def retire_kek(self, kek_id: str) -> None:
        kek_number(kek_id)
        if kek_id == self.current_kek_id():
            raise KeyProviderError("the current KEK cannot be retired; rotate first")
        try:
            os.unlink(self._dir / f"{kek_id}.key")
        except FileNotFoundError:
            raise UnknownKeyId(f"KEK {kek_id} is not held by this provider") from None
        with self._lock:
            self._cache.pop(kek_id, None)

    def _create_kek(self, n: int) -> bool:
        return create_exclusive(self._dir / f"kek-{n}.key", secrets.token_bytes(KEK_SIZE))

    def _kek(self, kek_id: str) -> bytes:
        key = self._cache.get(kek_id)
        if key is not None:
            if os.path.exists(self._dir / f"{kek_id}.key"):
                return key
            with self._lock:  # retired by another process: forget it here too
                self._cache.pop(kek_id, None)
        kek_number(kek_id)
        try:
            key = read_private(self._dir / f"{kek_id}.key", what="KEK file")
        except FileNotFoundError:
            raise UnknownKeyId(f"KEK {kek_id} is not held by this provider") from None
        if len(key) != KEK_SIZE:
            raise KeyFileError(f"KEK file {kek_id} has the wrong size")
        with self._lock:
            self._cache[kek_id] = key
        return key

    # -- wrap / unwrap ------------------------------------------------------
    def wrap_key(self, kek_id: str, key: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = secrets.token_bytes(WRAP_NONCE_SIZE)
        return nonce, AESGCM(self._kek(kek_id)).encrypt(nonce, bytes(key), aad)

    def unwrap_key(self, kek_id: str, nonce: bytes, wrapped: bytes, aad: bytes) -> bytes:
        kek = self._kek(kek_id)
        if len(nonce) != WRAP_NONCE_SIZE:
            raise KeyUnwrapError("wrapped key has a malformed nonce")
        try:
            return AESGCM(kek).decrypt(bytes(nonce), bytes(wrapped), aad)
        except InvalidTag:
            raise KeyUnwrapError("wrapped key failed authentication under its KEK") from None

    # -- secrets --------------------------------------------------------------
    def _secret_path(self, purpose: str) -> Path:
        folder = self._depers_dir if purpose == DEPERSONALIZATION else self._dir
        return folder / f"{purpose}.key"

    def _secret(self, purpose: str) -> bytes:
        cached = self._secrets.get(purpose)
        if cached is not None:
            return cached
        path, what = self._secret_path(check_purpose(purpose)), f"{purpose} key file"
        try:
            value = read_private(path, what=what)
        except FileNotFoundError:
            if not self._create:
                raise MissingKey(f"the {purpose} key is missing; {INIT_HINT}") from None
            ensure_private_dir(path.parent)
            create_exclusive(path, secrets.token_bytes(SECRET_SIZE))
            value = read_private(path, what=what)
        if len(value) != SECRET_SIZE:
            raise KeyFileError(f"{what} has the wrong size")
        self._secrets[purpose] = value
        return value

    def mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret(purpose), bytes(data), sha256).digest()

    def iin_pepper(self) -> bytes:
        """The IIN pepper's bytes (file provider only; `IinHasher.from_provider` uses `mac`)."""
        return self._secret(IIN_PEPPER)

    def initialise(self) -> list[str]:
        created = []
        ensure_private_dir(self._dir)
        if not self._numbers() and self._create_kek(1):
            created.append("kek-1")
        for purpose in PURPOSES:
            path = self._secret_path(purpose)
            ensure_private_dir(path.parent)
            if create_exclusive(path, secrets.token_bytes(SECRET_SIZE)):
                created.append(purpose)
        return created
