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

    def __post_init__(self) -> None:
        if self.minutiae.dtype != MINUTIA_DTYPE:
            raise ValueError("minutiae must use MINUTIA_DTYPE")
        if not 0 <= self.quality <= 100:
            raise ValueError("quality must be within 0..100")
