"""Scanner devices of a station: what a capture returns, and simple sources.

A real scanner driver (pyusb, `drivers.uru4000`) and the test doubles all
satisfy `Scanner`: `capture(finger_position)` returns one `CapturedImage` for
ISO/ANSI finger position 1..10 (1 right thumb .. 5 right little, 6 left thumb
.. 10 left little).  A capture that fails for a reason the operator can fix
raises a `ScannerError`: one sentence saying what happened and what to do,
and `retryable` telling whether calling `capture` again may succeed
(`capture_retrying` is that loop).
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

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


class ScannerError(Exception):
    """A capture failed; the message is one sentence for the operator, never image data."""

    retryable = True


class ScannerNotFound(ScannerError):
    """No scanner of the expected kind is connected (or it was unplugged and not put back)."""


class ScannerUnplugged(ScannerError):
    """The scanner disappeared from the USB bus during use."""


class ScannerTimeout(ScannerError):
    """The scanner or the person did not do the expected thing in time."""


class FingerNotLifted(ScannerTimeout):
    """The previous finger is still on the glass."""


class EmptyFrame(ScannerError):
    """The scanner sent no image, a truncated one, or a blank one."""


class NoImageForFinger(ScannerError, KeyError):
    """An image-folder device holds no file for the requested finger."""

    retryable = False

    def __str__(self) -> str:           # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnreadableImage(ScannerError):
    """An image-folder device's file for a finger is missing, unreadable or not an image."""

    retryable = False


def capture_retrying(scanner: "Scanner", finger_position: int, *,
                     ask_retry: Callable[[ScannerError], bool], max_attempts: int = 5) -> CapturedImage:
    """Capture, showing each retryable `ScannerError` to the operator (`ask_retry`) and trying again while
    they say so, up to `max_attempts`; the last error (or a non-retryable one) is raised."""
    for attempt in range(1, max_attempts + 1):
        try:
            return scanner.capture(finger_position)
        except ScannerError as exc:
            if not exc.retryable or attempt == max_attempts or not ask_retry(exc):
                raise
    raise AssertionError("unreachable")


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


IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".pgm", ".wsq")
_TAKE_NAME = re.compile(r"^(\d+)(?:_(\d+))?$")     # "3", "03", "3_2" (position, take) or FVC "101_4"


def folder_mapping(folder: str | Path) -> dict[int, list[str]]:
    """Finger position -> image files (first take first) found in `folder`.

    Two namings are accepted: by finger position (`1.png` .. `10.png`, or `3_1.png`, `3_2.png` for
    takes of position 3), and FVC's `<finger>_<impression>.tif` (`101_1.tif` .. `110_8.tif`), whose
    distinct fingers, in numeric order, become positions 1, 2, … and whose impressions become the
    takes.  Raises ValueError (one sentence) when the folder holds neither."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    found: dict[int, dict[int, str]] = {}
    for path in sorted(folder.iterdir()):
        match = _TAKE_NAME.match(path.stem)
        if path.suffix.lower() in IMAGE_SUFFIXES and match:
            found.setdefault(int(match[1]), {})[int(match[2] or 0)] = path.name
    if not found:
        raise ValueError(f"{folder}: no image files named by finger position (1.png … 10.png) "
                         "or by FVC finger and impression (101_1.tif …)")
    numbers = sorted(found)
    if all(1 <= n <= 10 for n in numbers):
        positions = {n: n for n in numbers}
    elif len(numbers) <= 10:
        positions = {n: i for i, n in enumerate(numbers, start=1)}
    else:
        raise ValueError(f"{folder}: images of {len(numbers)} different fingers; "
                         "a folder holds one person's ten at most")
    return {positions[n]: [found[n][k] for k in sorted(found[n])] for n in numbers}


def folder_dpi(folder: str | Path, default: int = 500) -> int:
    """The resolution of an FVC database folder from the `dpi.json` beside it (FVC2002 DB2 is 569 dpi)."""
    folder = Path(folder)
    table = folder.parent / "dpi.json"
    try:
        return int(json.loads(table.read_text()).get(folder.name, default))
    except (OSError, ValueError, AttributeError):
        return default


class FolderScanner:
    """Reads image files per finger position from a folder (demos, replays).

    `mapping` maps finger position to a file name inside `folder`, or to a list
    of names: the n-th capture of a finger (a retake) reads the n-th name,
    cycling.  Any format Pillow reads is converted to 8-bit grayscale.  The
    resolution comes from the file header when it holds a plausible one, else
    `dpi`.  `FolderScanner.from_folder` finds the files by their names.
    """

    def __init__(self, folder: str | Path, mapping: Mapping[int, str | Sequence[str]], dpi: int = 500):
        self.folder = Path(folder)
        self.takes = {int(k): [v] if isinstance(v, str) else [str(n) for n in v] for k, v in mapping.items()}
        self.mapping = {k: v[0] for k, v in self.takes.items()}
        self.dpi = int(dpi)
        self._count: dict[int, int] = {}

    @classmethod
    def from_folder(cls, folder: str | Path, dpi: int | None = None) -> "FolderScanner":
        """By file names (`folder_mapping`); the resolution from `dpi`, else FVC's dpi.json, else 500."""
        return cls(folder, folder_mapping(folder), dpi=dpi if dpi is not None else folder_dpi(folder))

    def capture(self, finger_position: int) -> CapturedImage:
        check_position(finger_position)
        names = self.takes.get(finger_position)
        if not names:
            raise NoImageForFinger(f"the image folder holds no image for finger position {finger_position}")
        take = self._count.get(finger_position, 0)
        self._count[finger_position] = take + 1
        name = names[take % len(names)]
        try:
            with Image.open(self.folder / name) as img:
                header = img.info.get("dpi")
                pixels = np.asarray(img.convert("L"), dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):   # UnidentifiedImageError is an OSError
            raise UnreadableImage(f"{self.folder / name}: the image for finger position {finger_position} cannot "
                                  "be read (not an image, damaged, or unreadable)") from None
        dpi = self.dpi
        if isinstance(header, (tuple, list)) and header and 250 <= float(header[0]) <= 2000:
            dpi = int(round(float(header[0])))
        return captured_from_pixels(finger_position, pixels, dpi)
