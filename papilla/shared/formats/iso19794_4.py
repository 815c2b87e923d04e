"""ISO/IEC 19794-4:2011 finger image records ("FIR\\0" "020\\0"): read and write.

The record MOSIP carries in a CBEFF BDB (Format Organization "Mosip", Type 7): a 16-byte general header, then
per finger a representation header and the compressed image. Papilla reads every representation and keeps the
fields a matcher needs (position, resolution in pixels per inch, compression, image bytes, quality); it writes
one representation per record, which is what MOSIP's registration client produces.

Layout (all integers big-endian), ISO/IEC 19794-4:2011 clause 8:
  general header: "FIR\\0", "020\\0", record length u32, representations u16, certification flag u8,
                  distinct positions u8
  representation: length u32, capture date-time 9 bytes (year u16, month, day, hour, minute, second u8,
                  millisecond u16), device technology u8, vendor u16, type u16, quality block count u8
                  (5 bytes each: score u8, algorithm vendor u16, algorithm id u16), [certification blocks
                  when the flag is set: count u8, 3 bytes each], position u8, representation number u8,
                  scale units u8 (1 ppi, 2 ppcm), capture h/v sampling u16 u16, image h/v sampling u16 u16,
                  bit depth u8, compression u8, impression type u8, width u16, height u16, data length u32,
                  image data
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC, VERSION = b"FIR\x00", b"020\x00"
GENERAL_HEADER = struct.Struct(">4s4sIHBB")
#: from the position byte to the image data length (fixed part after quality / certification blocks)
IMAGE_HEADER = struct.Struct(">BBBHHHHBBBHHI")
#: compression codes of clause 8.3.22 and the names Papilla decodes them by
COMPRESSION = {0: "raw", 1: "raw_packed", 2: "wsq", 3: "jpeg", 4: "jpeg2000", 5: "jpeg2000", 6: "png"}
COMPRESSION_CODES = {"raw": 0, "wsq": 2, "jpeg": 3, "jpeg2000_lossy": 4, "jpeg2000": 5, "png": 6}
PPCM_TO_PPI = 2.54
MAX_RECORD_BYTES = 4_000_000


class Iso19794_4Error(ValueError):
    """Not a readable ISO/IEC 19794-4:2011 record (the message names the field, never the bytes)."""


@dataclass(frozen=True)
class FingerImage:
    position: int            # 0 unknown, 1-10 fingers (ISO/ANSI numbering), 11-15 plain / multi-finger
    ppi: int                 # image sampling rate in pixels per inch
    compression: str         # "wsq", "jpeg2000", "png", "jpeg", "raw"
    width: int
    height: int
    data: bytes              # the compressed image as stored
    quality: int | None = None   # the first quality block's score (0-100), None when none or 255
    impression: int = 0      # 0 live-scan plain, 1 live-scan rolled, 2 non-live plain, 3 non-live rolled


def _ppi(units: int, rate: int) -> int:
    if units == 2:
        return round(rate * PPCM_TO_PPI)
    if units == 1:
        return rate
    raise Iso19794_4Error(f"scale units must be 1 (inch) or 2 (cm), got {units}")


def read_record(data: bytes) -> list[FingerImage]:
    """Every finger representation of one record, or Iso19794_4Error."""
    if len(data) > MAX_RECORD_BYTES:
        raise Iso19794_4Error(f"record of {len(data)} bytes is over {MAX_RECORD_BYTES}")
    if len(data) < GENERAL_HEADER.size:
        raise Iso19794_4Error("record shorter than its general header")
    magic, version, length, count, certified, _ = GENERAL_HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise Iso19794_4Error("not a finger image record (format identifier is not FIR)")
    if version != VERSION:
        raise Iso19794_4Error(f"version {version[:3].decode('ascii', 'replace')!r} is not 020 (19794-4:2011)")
    if length != len(data):
        raise Iso19794_4Error(f"record length field says {length} bytes, the record has {len(data)}")
    images, offset = [], GENERAL_HEADER.size
    for _ in range(count):
        image, offset = _read_representation(data, offset, bool(certified))
        images.append(image)
    return images


def _read_representation(data: bytes, offset: int, certified: bool) -> tuple[FingerImage, int]:
    try:
        (rep_length,) = struct.unpack_from(">I", data, offset)
        end = offset + rep_length
        if end > len(data):
            raise Iso19794_4Error("a representation runs past the end of the record")
        at = offset + 4 + 9 + 1 + 2 + 2
        blocks = data[at]
        at += 1
        quality = data[at] if blocks else None
        at += 5 * blocks
        if certified:
            at += 1 + 3 * data[at]
        (position, _number, units, _cap_h, _cap_v, rate_h, _rate_v, _depth, compression, impression,
         width, height, size) = IMAGE_HEADER.unpack_from(data, at)
        at += IMAGE_HEADER.size
    except (struct.error, IndexError):
        raise Iso19794_4Error("representation header truncated") from None
    if compression not in COMPRESSION:
        raise Iso19794_4Error(f"image compression code {compression} is not one of 19794-4:2011")
    if at + size > end:
        raise Iso19794_4Error("image data runs past its representation")
    return FingerImage(position=position, ppi=_ppi(units, rate_h), compression=COMPRESSION[compression],
                       width=width, height=height, data=bytes(data[at:at + size]),
                       quality=None if quality in (None, 255) else quality, impression=impression), end


def write_record(image: FingerImage) -> bytes:
    """A one-representation record (capture time unset, no certification, the quality block when known)."""
    code = COMPRESSION_CODES[image.compression]
    quality = b"" if image.quality is None else struct.pack(">BHH", image.quality, 0, 0)
    header = (struct.pack(">H5BH", 0, 0, 0, 0, 0, 0, 0) + struct.pack(">BHH", 0, 0, 0)
              + struct.pack(">B", 1 if quality else 0) + quality)
    fixed = IMAGE_HEADER.pack(image.position, 0, 1, image.ppi, image.ppi, image.ppi, image.ppi, 8, code,
                              image.impression, image.width, image.height, len(image.data))
    body = header + fixed + image.data
    representation = struct.pack(">I", 4 + len(body)) + body
    general = GENERAL_HEADER.pack(MAGIC, VERSION, GENERAL_HEADER.size + len(representation), 1, 0, 1)
    return general + representation
