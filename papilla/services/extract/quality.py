"""The engine's declared entry point for judging one captured finger: the station's gate and the centre's
acceptance both call `check_finger` here, with the same usability parameters (`USABILITY`).

The station measures quality with this module and nothing else of the extractor, so capture depends on
one name here, not on the extraction pipeline's internals (tests/architecture holds it). The figure the
station's gate compares with its minimum (`finger_quality`) is the finger's quality when the centre would
accept the finger and 0 when it would refuse it (no usable ridge structure or too few minutiae): a finger
the centre refuses never passes the station's gate, whatever its quality (it was possible before: quality
21 against a gate of 20, refused at the centre as unusable, which refused the whole packet).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papilla.services.extract.engine import Intermediates, UsabilityParams, extract_with_intermediates
from papilla.services.extract.engine.usability import Usability, assess
from papilla.shared.formats.images import decode_image
from papilla.shared.template import FingerTemplate

#: The centre's usability parameters; the station's gate applies the same (defaults: docs/usable-fingers.md).
USABILITY = UsabilityParams()


@dataclass(frozen=True)
class FingerCheck:
    """One finger's quality (0-100) and the centre's usability verdict on it."""
    quality: int
    usability: Usability

    @property
    def accepted(self) -> bool:
        """Whether the centre takes this finger (usable ridge structure and enough minutiae)."""
        return self.usability.usable

    @property
    def gate_quality(self) -> int:
        """What the station's gate compares with its minimum: the quality, or 0 for a finger the centre refuses."""
        return self.quality if self.accepted else 0


def check_extracted(template: FingerTemplate, inter: Intermediates,
                    params: UsabilityParams = USABILITY) -> FingerCheck:
    return FingerCheck(int(template.quality), assess(inter, params))


def check_finger(pixels: np.ndarray, dpi: int,
                 params: UsabilityParams = USABILITY) -> tuple[FingerTemplate, FingerCheck]:
    """Extract one finger image and judge it as the centre does."""
    template, inter = extract_with_intermediates(pixels, dpi=dpi)
    return template, check_extracted(template, inter, params)


def finger_quality(png: bytes, dpi: int) -> int:
    """The station gate's figure for one captured image (PNG or any format `decode_image` reads) at `dpi`:
    its quality when the centre would accept it, else 0."""
    return check_finger(decode_image(png).pixels, dpi)[1].gate_quality
