"""The finger template: what extraction hands to matching.

This is the one contract between `services/extract` and `services/match`.
Coordinates are pixels at 500 dpi (extraction normalizes resolution first),
origin top-left, x to the right, y down.  `angle` is in radians in [0, 2*pi),
measured counter-clockwise from the +x axis as seen on screen (ISO/IEC
19794-2 convention), i.e. `angle = atan2(-dy, dx)` in image coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MINUTIA_DTYPE = np.dtype([
    ("x", np.float32),
    ("y", np.float32),
    ("angle", np.float32),
    ("kind", np.uint8),      # see MinutiaKind
    ("quality", np.uint8),   # 0-100
])


class MinutiaKind:
    OTHER = 0
    ENDING = 1
    BIFURCATION = 2


def empty_minutiae() -> np.ndarray:
    return np.zeros(0, dtype=MINUTIA_DTYPE)


@dataclass(frozen=True)
class FingerTemplate:
    """Minutiae of one finger impression, resolution-normalized to 500 dpi."""

    width: int
    height: int
    minutiae: np.ndarray = field(default_factory=empty_minutiae)  # MINUTIA_DTYPE, shape (N,)
    quality: int = 0          # finger quality 0-100
    dpi: int = 500
    extractor: str = ""       # version of the extractor that made it ("" when not known, e.g. an ISO record)

    def __post_init__(self) -> None:
        if self.minutiae.dtype != MINUTIA_DTYPE:
            raise ValueError("minutiae must use MINUTIA_DTYPE")
        if not 0 <= self.quality <= 100:
            raise ValueError("quality must be within 0..100")


_HEADER = np.dtype([("width", "<u2"), ("height", "<u2"), ("quality", "u1"), ("dpi", "<u2"), ("count", "<u2")])


_VERSION_TAG = b"XV"   # trailer: tag, one length byte, the extractor version (ASCII); absent in older records


def template_to_bytes(template: FingerTemplate) -> bytes:
    """The stored form of a FingerTemplate (what extract writes and match reads)."""
    head = np.array([(template.width, template.height, template.quality, template.dpi, len(template.minutiae))],
                    _HEADER)
    body = head.tobytes() + np.ascontiguousarray(template.minutiae, MINUTIA_DTYPE).tobytes()
    if template.extractor:
        v = template.extractor.encode("ascii")
        body += _VERSION_TAG + bytes([len(v)]) + v
    return body


def template_from_bytes(data: bytes) -> FingerTemplate:
    if len(data) < _HEADER.itemsize:
        raise ValueError("finger template truncated")
    head = np.frombuffer(data, _HEADER, 1)[0]
    need = _HEADER.itemsize + int(head["count"]) * MINUTIA_DTYPE.itemsize
    extractor = ""
    if len(data) > need + 3 and data[need:need + 2] == _VERSION_TAG and len(data) == need + 3 + data[need + 2]:
        extractor = data[need + 3:].decode("ascii", errors="replace")
    elif len(data) != need:
        raise ValueError(f"finger template is {len(data)} bytes, expected {need}")
    minutiae = np.frombuffer(data, MINUTIA_DTYPE, int(head["count"]), _HEADER.itemsize).copy()
    return FingerTemplate(width=int(head["width"]), height=int(head["height"]), minutiae=minutiae,
                          quality=int(head["quality"]), dpi=int(head["dpi"]), extractor=extractor)
