"""Decode fingerprint images to 8-bit grayscale.

Supported containers: PNG, TIFF, BMP, JPEG (Pillow) and WSQ (the `wsq`
package registers a Pillow plugin on import).  Colour, palette, 16-bit and
alpha images are converted to 8-bit luminance; alpha is composited on white
(scanners never produce it, but converted images sometimes carry it).

Errors are `ImageFormatError` with a short, specific message that never
contains the raw input bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..messages import MAX_IMAGE_BYTES

try:  # registers the WSQ codec with Pillow
    import wsq  # noqa: F401
except ImportError:  # pragma: no cover - wsq is a declared dependency
    wsq = None

MIN_SIDE = 100
MAX_SIDE = 1000
SUPPORTED_FORMATS = frozenset({"PNG", "TIFF", "BMP", "JPEG", "WSQ"})

# Limits checked before any pixel is decoded: bytes (MAX_IMAGE_BYTES, the message schema's limit) first,
# then the dimensions from the header (Image.open reads only the header; Pillow's own decompression-bomb
# check refuses absurd declared sizes there already). A decoded image is at most MAX_SIDE² bytes.


class ImageFormatError(ValueError):
    """The bytes are not a usable fingerprint image."""


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray      # uint8, 2-D (rows, cols)
    dpi: int | None         # resolution from the file header when plausible
    format: str = ""        # Pillow format name ("PNG", "WSQ", ...)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def _header_dpi(img: Image.Image) -> int | None:
    """The resolution stored in the header, or None when absent or implausible.

    Many writers store 72/96 dpi or 1 dpi as a placeholder; fingerprint
    scanners are 250..1000 dpi, so anything outside 250..2000 is ignored.
    """
    dpi = img.info.get("dpi")
    value = None
    if isinstance(dpi, (tuple, list)) and dpi:
        value = dpi[0]
    elif isinstance(dpi, (int, float)):
        value = dpi
    if value is None and "ppi" in img.info:  # WSQ plugin may not set it
        value = img.info.get("ppi")
    try:
        v = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    if v is None or not 250 <= v <= 2000:
        return None
    return int(round(v))


def _to_gray(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("1", "P", "PA", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        if mode in ("P", "PA"):
            img = img.convert("RGBA")
            mode = "RGBA"
        if mode in ("LA", "RGBA"):
            background = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, img.convert("RGBA"))
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if arr.ndim != 2:
            raise ImageFormatError(f"image mode {mode} is not grayscale-convertible")
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16") or (lo >= 0 and hi <= 65535 and hi > 255):
            arr = arr / 257.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    raise ImageFormatError(f"image mode {mode} is not grayscale-convertible")


def decode_image(data: bytes) -> DecodedImage:
    """Decode PNG/TIFF/BMP/JPEG/WSQ bytes to an 8-bit grayscale array."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageFormatError("image data must be bytes")
    if len(data) == 0:
        raise ImageFormatError("unsupported format: empty input")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageFormatError(f"image of {len(data)} bytes is over the {MAX_IMAGE_BYTES}-byte limit")
    try:
        img = Image.open(io.BytesIO(bytes(data)))
    except Image.DecompressionBombError:
        raise ImageFormatError(f"size outside {MIN_SIDE}..{MAX_SIDE} px per side (declared size is huge)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageFormatError("unsupported format: not a PNG, TIFF, BMP, JPEG or WSQ image") from None
    except Exception as exc:  # a decoder plugin failing on hostile bytes (wsq raised UnboundLocalError)
        raise ImageFormatError(f"unreadable image header ({type(exc).__name__})") from None
    with img:
        fmt = (img.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise ImageFormatError(f"unsupported format: {fmt or 'unknown'}")
        w, h = img.size
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
            raise ImageFormatError(
                f"size {w}x{h} outside {MIN_SIDE}..{MAX_SIDE} px per side")
        try:
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            img.load()
            pixels = _to_gray(img)
        except ImageFormatError:
            raise
        except Exception as exc:  # truncated / corrupt payload
            raise ImageFormatError(
                f"corrupt or truncated {fmt} image ({type(exc).__name__})") from None
        dpi = _header_dpi(img)
    if pixels.ndim != 2:
        raise ImageFormatError("image is not grayscale-convertible")
    return DecodedImage(pixels=np.ascontiguousarray(pixels), dpi=dpi, format=fmt)


def load_image(path: str | Path) -> DecodedImage:
    """Read and decode an image file (see `decode_image`)."""
    return decode_image(Path(path).read_bytes())


__all__ = ["DecodedImage", "ImageFormatError", "decode_image", "load_image",
           "MIN_SIDE", "MAX_SIDE", "MAX_IMAGE_BYTES", "SUPPORTED_FORMATS"]
