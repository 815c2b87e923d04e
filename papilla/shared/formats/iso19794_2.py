"""ISO/IEC 19794-2:2005 finger minutiae record (record format, not card format).

Layout (big-endian):
  header (24 bytes): "FMR\\0", " 20\\0", record length (uint32), capture
  equipment (4-bit compliance + 12-bit id), image width, height (px),
  x and y resolution (px/cm), number of finger views, reserved byte.
  per view: finger position, view number (high nibble) + impression type
  (low nibble), finger quality (0-100), minutiae count, then 6 bytes per
  minutia: type (2 bits: 01 ending, 10 bifurcation, 00 other) + x (14 bits),
  2 reserved bits + y (14 bits), angle (1 byte, 360/256 degrees per unit,
  counter-clockwise from +x as seen on screen), quality (0-100, 0 = not
  reported); then extended data length (uint16) and that many bytes.

Minutiae are returned as `MINUTIA_DTYPE` at the record's own resolution;
`to_finger_template()` rescales to 500 dpi.  500 dpi is stored as 197 px/cm
and a record at 197 px/cm is read back as exactly 500 dpi (no rescaling).
Quantization: positions to whole pixels, angles to 2*pi/256 rad.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate, MinutiaKind, empty_minutiae

MAGIC = b"FMR\x00"
VERSION_2005 = b" 20\x00"
HEADER_SIZE = 24
VIEW_HEADER_SIZE = 4
MINUTIA_SIZE = 6
ANGLE_UNIT = 2.0 * np.pi / 256.0
MAX_MINUTIAE_PER_VIEW = 255

_KIND_TO_ISO = {MinutiaKind.OTHER: 0, MinutiaKind.ENDING: 1, MinutiaKind.BIFURCATION: 2}
_ISO_TO_KIND = {0: MinutiaKind.OTHER, 1: MinutiaKind.ENDING, 2: MinutiaKind.BIFURCATION,
                3: MinutiaKind.OTHER}


class IsoFormatError(ValueError):
    """The bytes are not a valid ISO/IEC 19794-2:2005 record."""


def dpi_to_ppcm(dpi: float) -> int:
    return int(round(dpi / 2.54))


def ppcm_to_dpi(ppcm: int) -> int:
    return int(round(ppcm * 2.54))


@dataclass(frozen=True)
class IsoView:
    minutiae: np.ndarray = field(default_factory=empty_minutiae)   # MINUTIA_DTYPE, record resolution
    finger_position: int = 0        # 0 unknown, 1..10 per ISO/IEC 19794-2 table
    view_number: int = 0            # 0..15
    impression_type: int = 0        # 0 live-scan plain, 1 rolled, ...
    quality: int = 0                # finger quality 0-100
    extended_data: bytes = b""


@dataclass(frozen=True)
class IsoRecord:
    width: int
    height: int
    x_resolution: int               # px/cm
    y_resolution: int               # px/cm
    views: tuple[IsoView, ...] = ()
    capture_equipment_id: int = 0
    compliance: int = 0
    version: str = "20"

    @property
    def dpi(self) -> int:
        return ppcm_to_dpi(self.x_resolution)

    def to_finger_template(self, view: int = 0) -> FingerTemplate:
        """View `view` as a FingerTemplate at 500 dpi (coordinates rescaled if needed)."""
        if not self.views:
            raise IsoFormatError("record has no finger views")
        v = self.views[view]
        sx = 500.0 / ppcm_to_dpi(self.x_resolution) if self.x_resolution else 1.0
        sy = 500.0 / ppcm_to_dpi(self.y_resolution) if self.y_resolution else 1.0
        m = v.minutiae.copy()
        if sx != 1.0 or sy != 1.0:
            m["x"] = m["x"] * sx
            m["y"] = m["y"] * sy
            if sx != sy:  # anisotropic pixels: directions change too
                a = m["angle"].astype(np.float64)
                m["angle"] = np.mod(np.arctan2(np.sin(a) * sy, np.cos(a) * sx), 2 * np.pi)
        return FingerTemplate(width=int(round(self.width * sx)), height=int(round(self.height * sy)),
                              minutiae=m, quality=int(min(max(v.quality, 0), 100)), dpi=500)


def _encode_view(v: IsoView) -> bytes:
    m = v.minutiae
    if m.dtype != MINUTIA_DTYPE:
        raise ValueError("minutiae must use MINUTIA_DTYPE")
    if len(m) > MAX_MINUTIAE_PER_VIEW:  # keep the best-quality ones
        order = np.argsort(-m["quality"].astype(np.int64), kind="stable")[:MAX_MINUTIAE_PER_VIEW]
        m = m[np.sort(order)]
    out = bytearray(struct.pack(">BBBB", v.finger_position & 0xFF,
                                ((v.view_number & 0x0F) << 4) | (v.impression_type & 0x0F),
                                int(min(max(v.quality, 0), 100)), len(m)))
    for r in m:
        x = int(round(float(r["x"])))
        y = int(round(float(r["y"])))
        if not (0 <= x < 1 << 14 and 0 <= y < 1 << 14):
            raise ValueError(f"minutia position ({x}, {y}) outside 0..16383")
        t = _KIND_TO_ISO.get(int(r["kind"]), 0)
        a = int(round(float(r["angle"]) / ANGLE_UNIT)) % 256
        q = int(min(max(int(r["quality"]), 0), 100))
        out += struct.pack(">HHBB", (t << 14) | x, y, a, q)
    out += struct.pack(">H", len(v.extended_data)) + v.extended_data
    return bytes(out)


def write_iso(items: FingerTemplate | IsoView | Sequence[FingerTemplate | IsoView], *,
              width: int | None = None, height: int | None = None, dpi: int = 500,
              finger_positions: Sequence[int] | None = None, capture_equipment_id: int = 0) -> bytes:
    """Encode templates (500 dpi) and/or views as one ISO/IEC 19794-2:2005 record.

    Image size defaults to the largest template size; FingerTemplate
    coordinates are written as they are (they are at 500 dpi = 197 px/cm).
    """
    if isinstance(items, (FingerTemplate, IsoView)):
        items = [items]
    items = list(items)
    if len(items) > 255:
        raise ValueError("at most 255 finger views per record")
    views = []
    ws, hs = [0], [0]
    for i, it in enumerate(items):
        pos = finger_positions[i] if finger_positions is not None else 0
        if isinstance(it, FingerTemplate):
            if it.dpi != 500:
                raise ValueError("FingerTemplate must be at 500 dpi")
            ws.append(it.width)
            hs.append(it.height)
            views.append(IsoView(minutiae=it.minutiae, finger_position=pos, quality=it.quality))
        elif isinstance(it, IsoView):
            views.append(it)
        else:
            raise TypeError("items must be FingerTemplate or IsoView")
    w = width if width is not None else max(ws)
    h = height if height is not None else max(hs)
    body = b"".join(_encode_view(v) for v in views)
    total = HEADER_SIZE + len(body)
    res = dpi_to_ppcm(dpi)
    header = MAGIC + VERSION_2005 + struct.pack(">IHHHHHBB", total, capture_equipment_id & 0x0FFF,
                                                w, h, res, res, len(views), 0)
    return header + body


def read_iso(data: bytes) -> IsoRecord:
    """Parse an ISO/IEC 19794-2:2005 record; raise IsoFormatError with a specific reason."""
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise IsoFormatError(f"record too short ({len(data)} bytes, header needs {HEADER_SIZE})")
    if data[:4] != MAGIC:
        raise IsoFormatError("not a finger minutiae record (missing 'FMR' identifier)")
    if data[4:8] != VERSION_2005:
        raise IsoFormatError("unsupported version (only ISO/IEC 19794-2:2005 ' 20' is read)")
    total, equip, w, h, xres, yres, nviews, _ = struct.unpack(">IHHHHHBB", data[8:HEADER_SIZE])
    if total != len(data):
        if total > len(data):
            raise IsoFormatError(f"truncated record: header says {total} bytes, got {len(data)}")
        # ANSI/INCITS 378 uses a 2/6-byte length here and shares the identifier
        raise IsoFormatError(f"record length {total} does not match data size {len(data)} "
                             "(ANSI/INCITS 378 records are not supported)")
    off = HEADER_SIZE
    views = []
    for vi in range(nviews):
        if off + VIEW_HEADER_SIZE > total:
            raise IsoFormatError(f"truncated finger view {vi}")
        pos, vimp, fq, n = struct.unpack(">BBBB", data[off:off + 4])
        off += 4
        end = off + n * MINUTIA_SIZE
        if end + 2 > total:
            raise IsoFormatError(f"truncated minutiae in finger view {vi}")
        raw = np.frombuffer(data, dtype=">u2,>u2,u1,u1", count=n, offset=off)
        m = np.zeros(n, dtype=MINUTIA_DTYPE)
        xw = raw["f0"].astype(np.int64)
        m["x"] = xw & 0x3FFF
        m["y"] = raw["f1"].astype(np.int64) & 0x3FFF
        m["angle"] = raw["f2"].astype(np.float64) * ANGLE_UNIT
        m["kind"] = [_ISO_TO_KIND[int(t)] for t in (xw >> 14)]
        m["quality"] = np.minimum(raw["f3"], 100)
        off = end
        (ext_len,) = struct.unpack(">H", data[off:off + 2])
        off += 2
        if off + ext_len > total:
            raise IsoFormatError(f"truncated extended data in finger view {vi}")
        ext = data[off:off + ext_len]
        off += ext_len
        views.append(IsoView(minutiae=m, finger_position=pos, view_number=vimp >> 4,
                             impression_type=vimp & 0x0F, quality=fq, extended_data=ext))
    return IsoRecord(width=w, height=h, x_resolution=xres, y_resolution=yres, views=tuple(views),
                     capture_equipment_id=equip & 0x0FFF, compliance=equip >> 12)


__all__ = ["IsoFormatError", "IsoRecord", "IsoView", "read_iso", "write_iso",
           "ANGLE_UNIT", "dpi_to_ppcm", "ppcm_to_dpi"]
