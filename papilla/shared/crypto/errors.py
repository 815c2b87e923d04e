"""Exceptions of `papilla.shared.crypto`.

Rule for every message here: say *which check* failed, never *what value*
failed it.  No key material, plaintext, ciphertext, IIN digit or payload byte
ever goes into ``str(exc)``.  Identifiers that help operators (collection,
field name, sender id of a packet) may be attached as attributes; subject ids
and document ids are attributes only, never part of the message.
"""
from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by `papilla.shared.crypto`."""


# --- key provider ---------------------------------------------------------
class KeyProviderError(CryptoError):
    """The key provider could not supply or use a key."""


class UnknownKeyId(KeyProviderError):
    """A key id that the provider does not hold (or that is malformed)."""


class KeyFileError(KeyProviderError):
    """A key file is unusable: wrong size, wrong type or too-open permissions."""


class KeyUnwrapError(KeyProviderError):
    """A wrapped key failed authentication under its key-encryption key."""


class MissingKey(KeyProviderError):
    """A key the provider must not create here is missing (the message says which command makes it)."""


class KeyProviderConfigError(KeyProviderError):
    """The key provider is misconfigured (unknown kind, no PKCS#11 module, token or PIN)."""


class RotationError(KeyProviderError):
    """KEK rotation or retirement refused (e.g. data keys still wrapped under the KEK)."""


# --- envelope encryption --------------------------------------------------
class EnvelopeError(CryptoError):
    """Base of envelope-encryption errors."""


class DataKeyDestroyed(EnvelopeError):
    """The subject's data key was shredded (or never existed): data is unreadable."""

    def __init__(self, message: str, *, subject_id: str | None = None) -> None:
        super().__init__(message)
        self.subject_id = subject_id


class IntegrityError(EnvelopeError):
    """A ciphertext (or wrapped key) failed authentication: tampered or misplaced.

    ``collection``, ``field`` and ``doc_id`` say where; the message names the
    collection and field only.
    """

    def __init__(self, message: str, *, collection: str | None = None, field: str | None = None,
                 doc_id: str | None = None, subject_id: str | None = None) -> None:
        super().__init__(message)
        self.collection = collection
        self.field = field
        self.doc_id = doc_id
        self.subject_id = subject_id


class WrappedKeyError(IntegrityError):
    """The stored wrapped data key failed authentication (moved to another record or tampered)."""


# --- IIN ------------------------------------------------------------------
class InvalidIIN(CryptoError, ValueError):
    """Not a valid Kazakhstan IIN.  ``reason`` is one of
    ``"format"``, ``"century"``, ``"date"``, ``"check_digit"``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- sealed packets -------------------------------------------------------
class SealError(CryptoError):
    """A sealed packet was refused.  ``code`` is stable (dead-letter records, metrics).

    ``sender_id`` / ``packet_id`` are copied from the packet header when it
    could be parsed; they are *unauthenticated* unless the error happened after
    signature verification (only ``DecryptionFailed``).
    """

    code = "seal_error"

    def __init__(self, message: str, *, sender_id: str | None = None, packet_id: str | None = None) -> None:
        super().__init__(message)
        self.sender_id = sender_id
        self.packet_id = packet_id


class MalformedPacket(SealError):
    code = "malformed"


class UnknownSender(SealError):
    code = "unknown_sender"


class RevokedSender(SealError):
    code = "revoked_sender"


class BadSignature(SealError):
    code = "bad_signature"


class DecryptionFailed(SealError):
    code = "decryption_failed"


# --- sender registry --------------------------------------------------------
class RegistryError(CryptoError):
    """Base of sender-registry errors; ``code`` is stable."""

    code = "registry_error"


class SenderNotFound(RegistryError, LookupError):
    code = "not_found"


class SenderConflict(RegistryError):
    """Registration refused: the id is taken by another key/kind, or was revoked."""

    code = "conflict"

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code
