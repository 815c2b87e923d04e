"""The station's quality gate and the centre's acceptance judge a finger with the same function: a finger
the centre would refuse never passes the station's gate (it did: quality 21 against a gate of 20, then
refused as unusable at the centre, which refused the whole packet)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from papilla.services.capture.workflow import QualityGate
from papilla.services.extract.quality import check_finger, finger_quality
from papilla.services.extract.templating import UnusableFinger, template_from_image
from papilla.shared.formats.images import load_image


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _window(probe: np.ndarray, side: int, shift: int) -> np.ndarray:
    """Only a side x side window of the print is present (a small contact), the rest white."""
    h, w = probe.shape
    img = np.full_like(probe, 255)
    y0, x0 = h // 2 - side // 2, min(w - side, w // 2 - side // 2 + shift)
    img[y0:y0 + side, x0:x0 + side] = probe[y0:y0 + side, x0:x0 + side]
    return img


@pytest.fixture(scope="module")
def probe(data_dir):
    return load_image(data_dir / "samples" / "probe.png").pixels


def test_a_finger_the_centre_refuses_is_below_the_gate_whatever_its_quality(probe):
    # measured: a 100 px window has quality 21, above the default gate of 20, and is unusable (5 minutiae)
    img = _window(probe, 100, 50)
    template, check = check_finger(img, 500)
    assert check.quality >= QualityGate().min_quality and not check.accepted
    assert finger_quality(_png(img), 500) < QualityGate().min_quality
    with pytest.raises(UnusableFinger):
        template_from_image(1, _png(img), 500)


@pytest.mark.parametrize("side", [80, 100, 120, 140, 160, 200])
def test_the_gate_passes_exactly_what_the_centre_accepts(probe, side):
    for shift in (-50, 0, 50):
        png = _png(_window(probe, side, shift))
        passes = finger_quality(png, 500) >= QualityGate().min_quality
        try:
            template_from_image(1, png, 500)
            accepted = True
        except UnusableFinger:
            accepted = False
        _, check = check_finger(_window(probe, side, shift), 500)
        assert passes == (accepted and check.quality >= QualityGate().min_quality), (side, shift)
