"""ANSI/NIST-ITL 1-2011 transactions (the traditional binary encoding): read and write, with `nistitl`.

What Papilla reads and writes, per record type:
  Type-1   transaction information: TOT (1.004), DAT (1.005), DAI (1.007), ORI (1.008), TCN (1.009),
           NSR / NTR (1.011 / 1.012, native scanning / transmitting resolution in px/mm)
  Type-2   user-defined descriptive text: kept as tag -> text; 2.084 AMP (EBTS: finger position, XX
           amputated / UP unable to print) carries the finger exceptions
  Type-4   legacy grayscale fingerprint image (binary): IMP, FGP, ISR (0: 500 ppi, 1: the native rate of
           1.011), HLL, VLL, CGA (0 none, 1 WSQ, 4 JPEG 2000, 5 JPEG 2000 lossless, 6 PNG), image
  Type-14  variable-resolution fingerprint image: IMP 14.003, SRC 14.004, FCD 14.005, HLL / VLL 14.006-7,
           SLC 14.008 (1: px/inch, 2: px/cm), THPS / TVPS 14.009-10, CGA 14.011 (NONE, WSQ20, JP2, JP2L, PNG),
           BPX 14.012, FGP 14.013, AMP 14.018 (FGP, XX / UP), NQM 14.022 (FGP, NFIQ 1-5, 254 not computed,
           255 failed), FQM 14.024 (FGP, quality 0-100, algorithm vendor, product), DATA 14.999
  Type-9   minutiae, the INCITS 378 block: IMP 9.003, FMT 9.004 (U), CBI 9.126 (format owner, type),
           HLL / VLL 9.128-9.129, SLC / THPS / TVPS 9.130-9.132, FGP 9.134, FQD 9.135 (quality), NOM 9.136,
           FMD 9.137: one subfield per minutia (index, x px, y px, angle in units of 2 degrees counter-clockwise
           from the x axis, quality 0-100, type 0 other / 1 ridge ending / 2 bifurcation). The legacy FBI
           fields (9.005-9.012) are not read: a record with them alone yields no minutiae.

Papilla's own meaning is kept apart from the standard's: `NistFinger.status` is a Papilla finger status
("captured", "amputated", "unable_to_print"); XX maps to amputated, UP to unable to print, and a finger
Papilla records as temporarily injured is written as UP (the standard has no separate code).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import nistitl
import numpy as np

from papilla.shared.template import MINUTIA_DTYPE

#: Type-14 compression names and the short names Papilla uses; Type-4's numeric codes
CGA_14 = {"NONE": "none", "WSQ20": "wsq", "WSQ": "wsq", "JPEGB": "jpeg", "JPEGL": "jpeg", "JP2": "jpeg2000",
          "JP2L": "jpeg2000_lossless", "PNG": "png"}
CGA_14_OUT = {"none": "NONE", "wsq": "WSQ20", "jpeg": "JPEGB", "jpeg2000": "JP2", "jpeg2000_lossless": "JP2L",
              "png": "PNG"}
CGA_4 = {0: "none", 1: "wsq", 2: "jpeg", 3: "jpeg", 4: "jpeg2000", 5: "jpeg2000_lossless", 6: "png"}
CGA_4_OUT = {v: k for k, v in CGA_4.items() if k != 3}
EXCEPTIONS_IN = {"XX": "amputated", "UP": "unable_to_print"}
EXCEPTIONS_OUT = {"amputated": "XX", "unable_to_print": "UP", "injured": "UP"}
TYPE4_HEADER = "!B6sBHHB"        # IMP, FGP (6 bytes), ISR, HLL, VLL, CGA
MINIMUM_PPI = 500                # Type-4 ISR 0: the minimum scanning resolution, 19.69 px/mm
MAX_TRANSACTION_BYTES = 64_000_000


class AnsiNistError(ValueError):
    """A transaction Papilla cannot read (the message names the record and field, never their content)."""


@dataclass(frozen=True)
class NistFinger:
    """One finger of a transaction: its image (as stored, compressed), minutiae and qualities, or an exception."""

    position: int                                   # FGP 1-10
    status: str = "captured"                        # captured | amputated | unable_to_print (Papilla's words)
    image: bytes | None = None
    compression: str = "none"                       # none | wsq | jpeg | jpeg2000 | jpeg2000_lossless | png
    width: int = 0
    height: int = 0
    ppi: int = 500
    impression: int = 0                             # IMP: 0 live-scan plain, 1 live-scan rolled, …
    nfiq: int | None = None                         # 14.022 NQM
    quality: int | None = None                      # 14.024 FQM / 9.135 FQD, 0-100
    minutiae: np.ndarray | None = None              # MINUTIA_DTYPE in pixels at `minutiae_ppi` (Type-9)
    minutiae_ppi: int = 500
    image_type: int = 14                            # 4 or 14


@dataclass(frozen=True)
class Transaction:
    tot: str                                        # type of transaction, e.g. "CAR" (EBTS) or "PAPILLA"
    tcn: str                                        # transaction control number
    date: str = "19700101"                          # YYYYMMDD
    dai: str = ""                                   # destination agency
    ori: str = ""                                   # originating agency
    descriptive: dict[int, str] = field(default_factory=dict)    # Type-2 fields other than LEN, IDC, AMP
    fingers: tuple[NistFinger, ...] = ()

    def finger(self, position: int) -> NistFinger | None:
        return next((f for f in self.fingers if f.position == position), None)


# ---------------------------------------------------------------- reading

def _value(record, tag: int):
    found = record[tag]
    return None if found is None else found.value


def _text(record, tag: int) -> str:
    value = _value(record, tag)
    if isinstance(value, list):
        return "\x1e".join("\x1f".join(str(i) for i in (s if isinstance(s, list) else [s])) for s in value)
    return "" if value is None else str(value)


def _subfields(record, tag: int) -> list[list[str]]:
    value = _value(record, tag)
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        return [[str(value)]]
    return [[str(i) for i in s] if isinstance(s, list) else [str(s)] for s in value]


def _int(text: str, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise AnsiNistError(f"{what} is not a number") from None


def _ppi(units: str, rate: str, what: str) -> int:
    value = _int(rate, what)
    return round(value * 2.54) if str(units).strip() == "2" else value


def _nsr_ppi(message) -> int:
    try:
        return round(float(_text(message[0], 11)) * 25.4) or MINIMUM_PPI
    except ValueError:
        return MINIMUM_PPI


def _type4(record, native_ppi: int) -> NistFinger:
    imp, fgp, isr, hll, vll, cga, data = record.unpack(TYPE4_HEADER)
    if cga not in CGA_4:
        raise AnsiNistError(f"Type-4 record {record.IDC}: compression code {cga} unknown")
    return NistFinger(position=fgp[0], image=data, compression=CGA_4[cga], width=hll, height=vll,
                      ppi=MINIMUM_PPI if isr == 0 else native_ppi, impression=imp, image_type=4)


def _per_finger(record, tag: int, index: int) -> dict[int, str]:
    return {_int(s[0], f"{record.type}.{tag:03d} finger position"): s[index] for s in _subfields(record, tag)
            if len(s) > index}


def _type14(record) -> NistFinger:
    position = _int(_text(record, 13).split("\x1e")[0].split("\x1f")[0], "14.013 FGP")
    cga = _text(record, 11).strip().upper() or "NONE"
    if cga not in CGA_14:
        raise AnsiNistError(f"Type-14 record {record.IDC}: compression {cga!r} unknown")
    data = record[999]
    nqm = _per_finger(record, 22, 1).get(position)
    fqm = _per_finger(record, 24, 1).get(position)
    status = EXCEPTIONS_IN.get(_per_finger(record, 18, 1).get(position, "").strip(), "captured")
    return NistFinger(position=position, status=status, image=None if data is None else bytes(data.value),
                      compression=CGA_14[cga], width=_int(_text(record, 6), "14.006 HLL"),
                      height=_int(_text(record, 7), "14.007 VLL"),
                      ppi=_ppi(_text(record, 8), _text(record, 9), "14.009 THPS"),
                      impression=_int(_text(record, 3) or "0", "14.003 IMP"),
                      nfiq=None if nqm is None else _int(nqm, "14.022 NQM"),
                      quality=None if fqm is None else _int(fqm, "14.024 FQM"))


def _type9(record) -> tuple[int, np.ndarray, int, int | None]:
    """(position, minutiae in pixels, their ppi, quality) of an INCITS 378 block."""
    position = _int(_text(record, 134).split("\x1e")[0].split("\x1f")[0] or "0", "9.134 FGP")
    rows = _subfields(record, 137)
    minutiae = np.zeros(len(rows), dtype=MINUTIA_DTYPE)
    for i, row in enumerate(rows):
        if len(row) < 6:
            raise AnsiNistError(f"Type-9 record {record.IDC}: 9.137 minutia {i + 1} has {len(row)} of 6 items")
        minutiae[i] = (_int(row[1], "9.137 x"), _int(row[2], "9.137 y"),
                       math.radians(2 * _int(row[3], "9.137 angle")), _int(row[5], "9.137 type") % 3,
                       min(_int(row[4], "9.137 quality"), 100))
    ppi = _ppi(_text(record, 130) or "1", _text(record, 131) or "500", "9.131 THPS")
    quality = (_subfields(record, 135) or [[""]])[0][0]     # items: quality value, vendor, product
    return position, minutiae, ppi, (_int(quality, "9.135 FQD") if quality else None)


def read_transaction(data: bytes) -> Transaction:
    """Parse a transaction (AnsiNistError when it is not one Papilla can read)."""
    if len(data) > MAX_TRANSACTION_BYTES:
        raise AnsiNistError(f"transaction of {len(data)} bytes is over {MAX_TRANSACTION_BYTES}")
    message = nistitl.Message()
    try:
        message.parse(data)
    except (nistitl.NistException, ValueError, IndexError, KeyError) as exc:
        raise AnsiNistError(f"not an ANSI/NIST-ITL transaction ({type(exc).__name__})") from None
    fingers: dict[int, NistFinger] = {}
    minutiae: dict[int, tuple] = {}
    exceptions: dict[int, str] = {}
    descriptive: dict[int, str] = {}
    for record in message:
        if record.type == 2:
            descriptive.update({tag: _text(record, tag) for tag in _tags(record) if tag not in (1, 2, 84)})
            exceptions.update({p: EXCEPTIONS_IN[c.strip()] for p, c in _per_finger(record, 84, 1).items()
                               if c.strip() in EXCEPTIONS_IN})
        elif record.type == 4:
            finger = _type4(record, _nsr_ppi(message))
            fingers.setdefault(finger.position, finger)
        elif record.type == 14:
            finger = _type14(record)
            fingers.setdefault(finger.position, finger)
        elif record.type == 9 and record[137] is not None:
            position, found, ppi, quality = _type9(record)
            minutiae[position] = (found, ppi, quality)
    return Transaction(tot=str(message.TOT), tcn=_text(message[0], 9), date=_text(message[0], 5),
                       dai=_text(message[0], 7), ori=_text(message[0], 8), descriptive=descriptive,
                       fingers=_merged(fingers, minutiae, exceptions))


def _tags(record) -> list[int]:
    return [tag for tag in range(3, 1000) if record[tag] is not None]


def _merged(fingers: dict, minutiae: dict, exceptions: dict) -> tuple[NistFinger, ...]:
    out = []
    for position in sorted(set(fingers) | set(minutiae) | set(exceptions)):
        base = fingers.get(position) or NistFinger(position=position, status=exceptions.get(position, "captured"))
        if position in exceptions and base.image is None:
            base = _replace(base, status=exceptions[position])
        if position in minutiae:
            found, ppi, quality = minutiae[position]
            base = _replace(base, minutiae=found, minutiae_ppi=ppi,
                            quality=base.quality if base.quality is not None else quality)
        out.append(base)
    return tuple(out)


def _replace(finger: NistFinger, **changes) -> NistFinger:
    return NistFinger(**{**finger.__dict__, **changes})
