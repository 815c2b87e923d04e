"""Writing ANSI/NIST-ITL transactions (the layout `ansi_nist` reads; see its docstring for the fields).

One image record per captured finger (Type-14 unless the finger asks for Type-4, which only carries 500 ppi
or the native rate of 1.011), one Type-9 INCITS 378 block per finger with minutiae, the finger exceptions in
Type-2 field 2.084 AMP (and 14.018 on the image record of a finger that has one).
"""
from __future__ import annotations

import math

import nistitl

from .ansi_nist import CGA_4_OUT, CGA_14_OUT, EXCEPTIONS_OUT, MINIMUM_PPI, TYPE4_HEADER, NistFinger, Transaction

PAPILLA_VENDOR = "FFFF"      # 14.024 FQM / 9.126 CBI: no registered vendor id (Papilla's own quality measure)


def _type1(transaction: Transaction, native_ppi: int) -> nistitl.Message:
    message = nistitl.Message()
    message.TOT = transaction.tot
    header = message[0]
    header.DAT = transaction.date
    header.DAI = transaction.dai or "PAPILLA"
    header.ORI = transaction.ori or "PAPILLA"
    header.TCN = transaction.tcn
    header.NSR = f"{native_ppi / 25.4:05.2f}"
    header.NTR = f"{native_ppi / 25.4:05.2f}"
    return message


def _type2(transaction: Transaction, idc: int) -> nistitl.AsciiRecord:
    record = nistitl.AsciiRecord(2)
    record.IDC = idc
    for tag, text in sorted(transaction.descriptive.items()):
        record += nistitl.Field(2, tag, text)
    exceptions = [[f"{f.position:02d}", EXCEPTIONS_OUT[f.status]] for f in transaction.fingers
                  if f.status in EXCEPTIONS_OUT]
    if exceptions:
        record += nistitl.Field(2, 84, exceptions)
    return record


def _type4(finger: NistFinger, idc: int) -> nistitl.BinaryRecord:
    if finger.compression not in CGA_4_OUT:
        raise ValueError(f"Type-4 cannot carry {finger.compression} images")
    record = nistitl.BinaryRecord(4)
    record.IDC = idc
    record.pack(TYPE4_HEADER, finger.impression, bytes([finger.position, 255, 255, 255, 255, 255]),
                0 if finger.ppi == MINIMUM_PPI else 1, finger.width, finger.height, CGA_4_OUT[finger.compression],
                finger.image)
    return record


def _type14(finger: NistFinger, idc: int, date: str) -> nistitl.AsciiRecord:
    record = nistitl.AsciiRecord(14)
    record.IDC = idc
    fields = {3: str(finger.impression), 4: "PAPILLA", 5: date, 6: str(finger.width), 7: str(finger.height),
              8: "1", 9: str(finger.ppi), 10: str(finger.ppi), 11: CGA_14_OUT[finger.compression], 12: "8",
              13: str(finger.position)}
    for tag, value in fields.items():
        record += nistitl.Field(14, tag, value)
    if finger.nfiq is not None:
        record += nistitl.Field(14, 22, [[str(finger.position), str(finger.nfiq)]])
    if finger.quality is not None:
        record += nistitl.Field(14, 24, [[str(finger.position), str(finger.quality), PAPILLA_VENDOR, "1"]])
    record += nistitl.BinaryField(14, 999, finger.image)
    return record


def _type9(finger: NistFinger, idc: int) -> nistitl.AsciiRecord:
    record = nistitl.AsciiRecord(9)
    record.IDC = idc
    rows = [[str(i + 1), str(int(round(float(m["x"])))), str(int(round(float(m["y"])))),
             str(int(round(math.degrees(float(m["angle"]) % (2 * math.pi)) / 2)) % 180),
             str(int(m["quality"])), str(int(m["kind"]))] for i, m in enumerate(finger.minutiae)]
    fields = {3: str(finger.impression), 4: "U", 126: [[PAPILLA_VENDOR, "1"]], 128: str(finger.width),
              129: str(finger.height), 130: "1", 131: str(finger.minutiae_ppi), 132: str(finger.minutiae_ppi),
              134: str(finger.position),
              135: [[str(finger.quality if finger.quality is not None else 0), PAPILLA_VENDOR, "1"]],
              136: str(len(rows))}
    for tag, value in fields.items():
        record += nistitl.Field(9, tag, value)
    if rows:
        record += nistitl.Field(9, 137, rows)
    return record


def write_transaction(transaction: Transaction) -> bytes:
    """The transaction's bytes: Type-1, Type-2, then per finger its image record and its minutiae."""
    native = max([f.ppi for f in transaction.fingers if f.image is not None] or [MINIMUM_PPI])
    message = _type1(transaction, native)
    idc = 0
    message += _type2(transaction, idc)
    for finger in transaction.fingers:
        if finger.image is not None:
            idc += 1
            message += _type4(finger, idc) if finger.image_type == 4 else _type14(finger, idc, transaction.date)
        if finger.minutiae is not None:
            idc += 1
            message += _type9(finger, idc)
    return message.NIST
