"""From an image in a message to the finger template (the one contract with the match stage).

Extract hands match a `FingerTemplate` (minutiae); preparing the matcher's own
form belongs to match (`services/match/templates.py`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from papilla.services.extract.engine import extract
from papilla.shared import metrics
from papilla.shared.errors import Refusal
from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.template import FingerTemplate


@dataclass(frozen=True)
class FingerRecord:
    position: int
    template: FingerTemplate


def template_from_image(position: int, image: bytes, dpi_hint: int | None) -> FingerRecord:
    """Decode and extract one finger; a bad image is a refusal naming the finger position."""

    try:
        decoded = decode_image(image)
    except ImageFormatError as exc:
        raise Refusal(f"finger {position}: {exc}", code="bad_image") from None
    dpi = dpi_hint or decoded.dpi or 500
    started = time.perf_counter()
    template = extract(decoded.pixels, dpi=dpi)
    metrics.EXTRACT_SECONDS.observe(time.perf_counter() - started)
    return FingerRecord(position, template)
