"""From an image in a message to the finger template (the one contract with the match stage).

Extract hands match a `FingerTemplate` (minutiae); preparing the matcher's own
form belongs to match (`services/match/templates.py`).

Every captured finger is checked for usable ridge structure and enough
minutiae (`engine.usability`, defaults measured in docs/usable-fingers.md);
a set of fingers (an enrollment, or the probes of a request) also needs
enough minutiae in total. Unusable fingers are refused, all of them named by
position in one `unusable_finger` refusal, so the station retakes them or
records them as unable to print (Rules 406 p.6-7, p.10): the centre sees an
image, not the hand, and never turns a captured finger into a missing one
on its own.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from papilla.services.extract.engine import UsabilityParams
from papilla.services.extract.engine.usability import Usability, check_set
from papilla.services.extract.quality import USABILITY, check_finger
from papilla.shared import metrics
from papilla.shared.errors import Refusal
from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.legal.rules import rule
from papilla.shared.template import FingerTemplate

UNUSABLE_FINGER = "unusable_finger"
TOO_FEW_MINUTIAE_TOTAL = "too_few_minutiae_total"
ENROLLMENT_RULE = "printable_fingers_only"


@dataclass(frozen=True)
class FingerRecord:
    position: int
    template: FingerTemplate


class UnusableFinger(Refusal):
    """One captured finger without usable ridge structure; `position` names it, `usability` says why."""
    code = UNUSABLE_FINGER

    def __init__(self, position: int, usability: Usability):
        super().__init__(f"finger {position}: no usable finger ({usability.describe()})")
        self.position = position
        self.usability = usability


def extract_finger(position: int, image: bytes, dpi_hint: int | None,
                   params: UsabilityParams = USABILITY) -> tuple[FingerRecord, Usability]:
    """Decode, extract and assess one finger; a bad image is a refusal naming the finger position."""
    try:
        decoded = decode_image(image)
    except ImageFormatError as exc:
        raise Refusal(f"finger {position}: {exc}", code="bad_image") from None
    dpi = dpi_hint or decoded.dpi or 500
    started = time.perf_counter()
    template, check = check_finger(decoded.pixels, dpi, params)   # the station's gate calls the same
    metrics.observe_finger(template.quality, len(template.minutiae), time.perf_counter() - started)
    return FingerRecord(position, template), check.usability


def template_from_image(position: int, image: bytes, dpi_hint: int | None,
                        params: UsabilityParams = USABILITY) -> FingerRecord:
    """One usable finger's record, or a refusal naming its position (`bad_image`, `unusable_finger`)."""
    record, usability = extract_finger(position, image, dpi_hint, params)
    if not usability.usable:
        raise UnusableFinger(position, usability)
    return record


def finger_records(fingers: Iterable, *, enrollment: bool, params: UsabilityParams = USABILITY) -> list[FingerRecord]:
    """Records of the captured fingers (`.position`, `.image`, `.dpi`) of an enrollment or a request.

    Refuses with `unusable_finger` naming every unusable position, then with
    `too_few_minutiae_total` when the usable fingers hold too few minutiae
    together. Enrollment refusals cite the rule on fingers that cannot be printed.
    """
    cite = rule(ENROLLMENT_RULE).citation if enrollment else None
    records, unusable = [], []
    for finger in fingers:
        if finger.image is None:
            continue
        try:
            records.append(template_from_image(finger.position, finger.image, finger.dpi, params))
        except UnusableFinger as exc:
            unusable.append(exc)
    if unusable:
        raise Refusal(_unusable_detail(unusable, enrollment, cite), code=UNUSABLE_FINGER, rule=cite)
    if records and not check_set({r.position: len(r.template.minutiae) for r in records}, params):
        positions = ", ".join(str(r.position) for r in records)
        raise Refusal(f"fingers {positions}: too few minutiae over all captured fingers; capture more fingers"
                      + (f" ({cite})" if cite else ""), code=TOO_FEW_MINUTIAE_TOTAL, rule=cite)
    return records


def _unusable_detail(unusable: list[UnusableFinger], enrollment: bool, cite: str | None) -> str:
    parts = "; ".join(str(exc) for exc in unusable)
    if not enrollment:
        return f"{parts}; capture the finger again"
    return (f"{parts}; retake it, or record it as unable to print when it has no papillary pattern "
            f"(injured fingers are skipped, the others taken) ({cite})")
