"""Between ANSI/NIST-ITL transactions and Papilla's fingers and templates.

Import: each finger of a transaction becomes a Papilla `Finger` (captured with its image, or amputated /
unable to print) and, when the transaction carries Type-9 minutiae, a `FingerTemplate` at 500 ppi.
Images Papilla's message schema carries as they are (WSQ, PNG, JPEG) stay byte-identical; JPEG 2000 and
uncompressed images are converted to PNG losslessly (same pixels).
Export: an enrollment's fingers (stored images and templates, finger statuses, qualities) as a transaction.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from papilla.shared.messages import Finger, FingerStatus
from papilla.shared.template import FingerTemplate

from .ansi_nist import AnsiNistError, NistFinger, Transaction

try:  # registers the WSQ codec with Pillow (a declared dependency)
    import wsq  # noqa: F401
except ImportError:  # pragma: no cover
    wsq = None

KEPT_AS_IS = {"wsq": "wsq", "png": "png", "jpeg": "jpeg"}
TEMPLATE_PPI = 500


def pixels_of(finger: NistFinger) -> np.ndarray:
    """8-bit grayscale pixels of a finger's image."""
    if finger.compression == "none":
        expected = finger.width * finger.height
        if len(finger.image) != expected:
            raise AnsiNistError(f"finger {finger.position}: raw image of {len(finger.image)} bytes, "
                                f"{finger.width}x{finger.height} expected")
        return np.frombuffer(finger.image, np.uint8).reshape(finger.height, finger.width)
    try:
        with Image.open(io.BytesIO(finger.image)) as img:
            return np.array(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise AnsiNistError(f"finger {finger.position}: the {finger.compression} image cannot be decoded") from None


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def to_finger(finger: NistFinger) -> Finger:
    """The finger as Papilla's message schema carries it."""
    if finger.status != "captured" or finger.image is None:
        status = FingerStatus(finger.status) if finger.status != "captured" else FingerStatus.UNABLE_TO_PRINT
        return Finger(position=finger.position, status=status)
    dpi = min(max(finger.ppi, 250), 1000)
    if finger.compression in KEPT_AS_IS:
        return Finger(position=finger.position, status=FingerStatus.CAPTURED, image=finger.image,
                      format=KEPT_AS_IS[finger.compression], dpi=dpi)
    return Finger(position=finger.position, status=FingerStatus.CAPTURED, image=png_bytes(pixels_of(finger)),
                  format="png", dpi=dpi)


def to_fingers(transaction: Transaction) -> list[Finger]:
    return [to_finger(f) for f in transaction.fingers if 1 <= f.position <= 10]


def to_template(finger: NistFinger) -> FingerTemplate | None:
    """The finger's Type-9 minutiae as a Papilla template at 500 ppi (None without minutiae)."""
    if finger.minutiae is None:
        return None
    scale = TEMPLATE_PPI / finger.minutiae_ppi
    minutiae = finger.minutiae.copy()
    minutiae["x"] *= scale
    minutiae["y"] *= scale
    return FingerTemplate(width=round(finger.width * scale), height=round(finger.height * scale),
                          minutiae=minutiae, quality=finger.quality or 0)


def _image_fields(image: bytes) -> dict:
    """compression, width, height (and the bytes to carry) of a stored Papilla image."""
    with Image.open(io.BytesIO(image)) as img:
        kind = (img.format or "").upper()
        if kind in ("WSQ", "PNG"):
            return {"image": image, "compression": kind.lower(), "width": img.width, "height": img.height}
        gray = np.array(img.convert("L"))
    return {"image": png_bytes(gray), "compression": "png", "width": gray.shape[1], "height": gray.shape[0]}


def from_enrollment(*, tcn: str, date: str, finger_status: dict[str, str], templates: dict[int, FingerTemplate],
                    images: dict[int, bytes] | None = None, dpi: dict[int, int] | None = None,
                    tot: str = "PAPILLA") -> Transaction:
    """An enrollment as a transaction: exceptions from its finger statuses, minutiae from its templates
    (500 ppi), images when given (transfers carry them only when the order asks)."""
    fingers = []
    for position in sorted({int(p) for p in finger_status} | set(templates) | set(images or {})):
        status = finger_status.get(str(position), "captured")
        template = templates.get(position)
        fields = {"position": position, "status": status if status != "captured" else "captured"}
        if template is not None:
            fields.update(minutiae=template.minutiae, minutiae_ppi=template.dpi, quality=int(template.quality),
                          width=template.width, height=template.height)
        if images and position in images:
            fields.update(_image_fields(images[position]), ppi=(dpi or {}).get(position, TEMPLATE_PPI))
        fingers.append(NistFinger(**fields))
    return Transaction(tot=tot, tcn=tcn, date=date, fingers=tuple(fingers))
