"""Key-encryption keys (KEK) and the IIN pepper.

`KeyProvider` is the interface the envelope cipher needs.  It is shaped so a
KMS/HSM provider can implement it without ever releasing a KEK: the envelope
asks the provider to *wrap* and *unwrap* data keys under a named KEK; only the
file provider happens to hold KEKs in process memory.

`FileKeyProvider(directory)` layout::

    directory/           0700
      kek-1.key          0600, 32 random bytes
      kek-2.key          0600  (after one rotation; the highest n is current)
      iin-pepper.key     0600, 32 random bytes (HMAC key of the IIN lookup hash)

Files are created on first use, atomically and race-free between processes
(O_EXCL temporary + no-clobber link, see `_files.create_exclusive`).  Old KEKs
are kept so data keys wrapped under them stay readable; `EnvelopeCipher.rewrap`
moves a subject's data key to the current KEK.  Retiring (deleting) an old KEK
file once nothing is wrapped under it is an operator action, on purpose not
automated here.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._files import create_exclusive, ensure_private_dir, read_private
from .errors import KeyFileError, KeyProviderError, KeyUnwrapError, UnknownKeyId

KEK_SIZE = 32
PEPPER_SIZE = 32
WRAP_NONCE_SIZE = 12
PEPPER_FILE = "iin-pepper.key"

_KEK_ID_RE = re.compile(r"kek-([1-9][0-9]{0,8})\Z")
_KEK_FILE_RE = re.compile(r"kek-([1-9][0-9]{0,8})\.key\Z")

__all__ = [
    "KeyProvider", "FileKeyProvider", "KEK_SIZE", "PEPPER_SIZE",
    "KeyProviderError", "UnknownKeyId", "KeyFileError", "KeyUnwrapError",
]


@runtime_checkable
class KeyProvider(Protocol):
    """What `EnvelopeCipher` and `IinHasher` users need from a key source."""

    def current_kek_id(self) -> str:
        """Id of the KEK new data keys are wrapped under (created on first use)."""

    def kek_ids(self) -> list[str]:
        """All KEK ids held, oldest first."""

    def rotate_kek(self) -> str:
        """Make a new current KEK; old ones stay usable for unwrapping.  Returns its id."""

    def wrap_key(self, kek_id: str, key: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-256-GCM-wrap ``key`` under KEK ``kek_id`` with associated data ``aad``.
        Returns ``(nonce, wrapped)``."""

    def unwrap_key(self, kek_id: str, nonce: bytes, wrapped: bytes, aad: bytes) -> bytes:
        """Inverse of `wrap_key`.  Raises `KeyUnwrapError` if authentication fails,
        `UnknownKeyId` if the KEK is not held."""

    def iin_pepper(self) -> bytes:
        """The secret HMAC key of the IIN lookup hash (created on first use)."""


class FileKeyProvider:
    """KEKs and the IIN pepper in files of one private directory.

    KEK bytes are cached in memory once read (KEK files are immutable; this
    does not affect crypto-shredding, which destroys *data* keys).  The current
    KEK id is re-read from the directory on every call, so a rotation made by
    another process is seen at once.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)
        self._cache: dict[str, bytes] = {}
        self._pepper: bytes | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileKeyProvider({str(self._dir)!r})"

    @property
    def directory(self) -> Path:
        return self._dir

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

    def _create_kek(self, n: int) -> bool:
        return create_exclusive(self._dir / f"kek-{n}.key", secrets.token_bytes(KEK_SIZE))

    def _kek(self, kek_id: str) -> bytes:
        key = self._cache.get(kek_id)
        if key is not None:
            return key
        if not isinstance(kek_id, str) or not _KEK_ID_RE.match(kek_id):
            raise UnknownKeyId("malformed KEK id")
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

    # -- pepper -------------------------------------------------------------
    def iin_pepper(self) -> bytes:
        if self._pepper is not None:
            return self._pepper
        path = self._dir / PEPPER_FILE
        try:
            pepper = read_private(path, what="IIN pepper file")
        except FileNotFoundError:
            ensure_private_dir(self._dir)
            create_exclusive(path, secrets.token_bytes(PEPPER_SIZE))
            pepper = read_private(path, what="IIN pepper file")
        if len(pepper) != PEPPER_SIZE:
            raise KeyFileError("IIN pepper file has the wrong size")
        self._pepper = pepper
        return pepper
