"""Scanner devices of a station: what a capture returns, and simple sources.

A real scanner driver (pyusb) and the test doubles all satisfy `Scanner`:
`capture(finger_position)` returns one `CapturedImage` for ISO/ANSI finger
position 1..10 (1 right thumb .. 5 right little, 6 left thumb .. 10 left
little).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, runtime_checkable

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CapturedImage:
    """One scan: PNG-encoded 8-bit grayscale."""

    finger_position: int
    png: bytes
    dpi: int
    width: int
    height: int


@runtime_checkable
class Scanner(Protocol):
    def capture(self, finger_position: int) -> CapturedImage: ...


def check_position(finger_position: int) -> int:
    if not isinstance(finger_position, int) or not 1 <= finger_position <= 10:
        raise ValueError(f"finger position must be an int 1..10, got {finger_position!r}")
    return finger_position


def encode_png(pixels: np.ndarray, dpi: int) -> bytes:
    """8-bit grayscale PNG with the resolution in its pHYs chunk."""
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise ValueError("expected a 2-D uint8 image")
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def captured_from_pixels(finger_position: int, pixels: np.ndarray, dpi: int) -> CapturedImage:
    return CapturedImage(finger_position=finger_position, png=encode_png(pixels, dpi), dpi=dpi,
                         width=int(pixels.shape[1]), height=int(pixels.shape[0]))


class FolderScanner:
    """Reads one image file per finger position from a folder (demos, replays).

    `mapping` maps finger position to a file name inside `folder`; any format
    Pillow reads is converted to 8-bit grayscale.  The resolution comes from
    the file header when it holds a plausible one, else `dpi`.
    """

    def __init__(self, folder: str | Path, mapping: Mapping[int, str], dpi: int = 500):
        self.folder = Path(folder)
        self.mapping = {int(k): str(v) for k, v in mapping.items()}
        self.dpi = int(dpi)

    def capture(self, finger_position: int) -> CapturedImage:
        check_position(finger_position)
        name = self.mapping.get(finger_position)
        if name is None:
            raise KeyError(f"no image for finger position {finger_position}")
        with Image.open(self.folder / name) as img:
            header = img.info.get("dpi")
            pixels = np.asarray(img.convert("L"), dtype=np.uint8)
        dpi = self.dpi
        if isinstance(header, (tuple, list)) and header and 250 <= float(header[0]) <= 2000:
            dpi = int(round(float(header[0])))
        return captured_from_pixels(finger_position, pixels, dpi)
