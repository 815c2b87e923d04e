"""Kazakhstan IIN (individual identification number): validation, birth date,
keyed lookup hash, and a generator of valid IINs for tests and demos.

Layout of the 12 digits: ``YYMMDD`` birth date, one century/sex digit
(1/2: 1800s, 3/4: 1900s, 5/6: 2000s; odd = male), four serial digits, one
check digit (weights 1..11 mod 11; if that gives 10, weights
3,4,5,6,7,8,9,10,11,1,2 mod 11; if 10 again the number is never issued).

Nothing here puts an IIN, or any digit of one, into an exception message or
a repr.  The lookup hash is HMAC-SHA256 under a secret pepper (the IIN space
is small enough to brute-force an unkeyed hash in minutes).
"""
from __future__ import annotations

import hmac
from datetime import date
from hashlib import sha256
from typing import Any, Callable

from .errors import InvalidIIN
from .keys import IIN_PEPPER

__all__ = ["validate_iin", "birth_date_from_iin", "iin_is_male", "IinHasher", "make_test_iin",
           "InvalidIIN", "check_digit"]

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}
_HASH_DOMAIN = b"papilla/iin-hash/v1\x00"
_DOCUMENT_DOMAIN = b"papilla/document-hash/v1\x00"


def check_digit(first11: str) -> int | None:
    """Check digit of the first 11 digits, or None if no valid IIN has them."""
    digits = [ord(c) - 48 for c in first11]
    result = sum(w * d for w, d in zip(_W1, digits)) % 11
    if result == 10:
        result = sum(w * d for w, d in zip(_W2, digits)) % 11
        if result == 10:
            return None
    return result


def _date(iin: str) -> date:
    year = _CENTURY[ord(iin[6]) - 48] + int(iin[0:2])
    return date(year, int(iin[2:4]), int(iin[4:6]))


def validate_iin(s: str) -> str:
    """Return ``s`` if it is a valid IIN, else raise `InvalidIIN` (``reason``:
    ``format``, ``century``, ``date`` or ``check_digit``).  No normalisation:
    spaces or other characters are a format error, not silently removed."""
    if not isinstance(s, str) or len(s) != 12 or not s.isascii() or not s.isdigit():
        raise InvalidIIN("format", "IIN must be exactly twelve ASCII digits")
    if ord(s[6]) - 48 not in _CENTURY:
        raise InvalidIIN("century", "IIN century/sex digit (the seventh) is impossible")
    try:
        _date(s)
    except ValueError:
        raise InvalidIIN("date", "IIN birth date (first six digits) is not a calendar date") from None
    expected = check_digit(s[:11])
    if expected is None:
        raise InvalidIIN("check_digit", "IIN check digit cannot be computed for this number (never issued)")
    if expected != ord(s[11]) - 48:
        raise InvalidIIN("check_digit", "IIN check digit does not match")
    return s


def birth_date_from_iin(iin: str) -> date:
    """Birth date encoded in a valid IIN (validates it first)."""
    return _date(validate_iin(iin))


def iin_is_male(iin: str) -> bool:
    """Sex encoded in a valid IIN: odd century digit = male (validates it first)."""
    return (ord(validate_iin(iin)[6]) - 48) % 2 == 1


class IinHasher:
    """Keyed lookup hash of an IIN (``subjects.iin_hash``): HMAC-SHA256, hex.

    The IIN is validated first, so two spellings of one person cannot give two
    hashes and junk never reaches the index.  Changing the pepper changes
    every hash: it is not rotatable without rehashing from the encrypted IINs.

    ``IinHasher(pepper_bytes)`` computes the HMAC in process;
    ``IinHasher.from_provider(keys)`` asks the key provider for it (on a
    PKCS#11 token the pepper never leaves the token).  Both give the same
    hash for the same pepper.
    """

    __slots__ = ("_mac",)

    def __init__(self, pepper: bytes | None = None, *, mac: Callable[[bytes], bytes] | None = None) -> None:
        if mac is not None:
            self._mac = mac
            return
        if not isinstance(pepper, (bytes, bytearray)) or len(pepper) < 16:
            raise ValueError("IIN pepper must be at least 16 bytes")
        key = bytes(pepper)
        self._mac = lambda data: hmac.new(key, data, sha256).digest()

    @classmethod
    def from_provider(cls, provider: Any) -> "IinHasher":
        """The hasher whose pepper is the provider's ``iin-pepper`` secret (see `keys`)."""
        return cls(mac=lambda data: provider.mac(IIN_PEPPER, data))

    def __repr__(self) -> str:
        return "IinHasher(<pepper hidden>)"

    def hash(self, iin: str) -> str:
        return self._mac(_HASH_DOMAIN + validate_iin(iin).encode("ascii")).hex()

    def hash_document(self, document_type: str, number: str) -> str:
        """Keyed hash of an identity document (type and number; case, spaces and dashes in the number do
        not matter), under the same pepper and a domain of its own: an IIN and a document number never
        hash alike."""
        canonical = "".join(ch for ch in number.upper() if ch.isalnum())
        return self._mac(_DOCUMENT_DOMAIN + f"{document_type}\x00{canonical}".encode("utf-8")).hex()


def make_test_iin(birth: date, male: bool, serial: int) -> str:
    """A valid IIN for ``birth``/``male`` with serial ``serial`` (0..9999).

    For tests and demos only.  About 1 serial in 120 has no valid check digit
    for a given date and sex; those raise ValueError (pick another serial)
    rather than silently using a neighbour, which would make two serials give
    the same IIN.
    """
    if not isinstance(serial, int) or not 0 <= serial <= 9999:
        raise ValueError("serial must be an int in 0..9999")
    base = {1800: 1, 1900: 3, 2000: 5}.get(birth.year // 100 * 100)
    if base is None:
        raise ValueError("IIN birth year must be between 1800 and 2099")
    first11 = f"{birth.year % 100:02d}{birth.month:02d}{birth.day:02d}{base if male else base + 1}{serial:04d}"
    digit = check_digit(first11)
    if digit is None:
        raise ValueError("this serial has no valid IIN check digit for this date and sex; use another serial")
    return validate_iin(first11 + str(digit))
