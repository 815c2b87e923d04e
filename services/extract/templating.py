"""From an image in a message to what the store and the matcher keep."""
from __future__ import annotations

import time
from dataclasses import dataclass

from papilla.shared import metrics
from papilla.shared.errors import Refusal
from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.template import FingerTemplate


@dataclass(frozen=True)
class FingerRecord:
    position: int
    template: FingerTemplate
    prepared: bytes          # the matcher's precomputed form (versioned)
    engine_version: str


def template_from_image(position: int, image: bytes, dpi_hint: int | None) -> FingerRecord:
    """Decode, extract and prepare one finger; a bad image is a refusal naming the finger position."""
    from papilla.services.extract.engine import extract
    from papilla.services.match import engine as matcher

    try:
        decoded = decode_image(image)
    except ImageFormatError as exc:
        raise Refusal(f"finger {position}: {exc}", code="bad_image") from None
    dpi = dpi_hint or decoded.dpi or 500
    started = time.perf_counter()
    template = extract(decoded.pixels, dpi=dpi)
    metrics.observe_finger(template.quality, len(template.minutiae), time.perf_counter() - started)
    prepared = matcher.prepare(template).to_bytes()
    return FingerRecord(position, template, prepared, matcher.ENGINE_VERSION)
