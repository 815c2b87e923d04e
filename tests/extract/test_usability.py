"""The centre's usable-finger check (issue 8 defect 5: a blank 1000x1000 image was enrolled ACTIVE).

Junk (blank, flat, noise, tiny crops, ridges without or with few minutiae) is refused with
`unusable_finger` naming the finger position; real FVC2002 impressions pass.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from papilla.bench.data import discover
from papilla.bench.usability import dislocated_ridges, fvc_crops, junk_images
from papilla.services.capture.devices import encode_png
from papilla.services.extract.engine import UsabilityParams
from papilla.services.extract.engine.usability import TOO_FEW_MINUTIAE
from papilla.services.extract.templating import extract_finger, finger_records
from papilla.shared.errors import Refusal
from papilla.shared.formats.images import load_image


@dataclass
class Captured:
    position: int
    image: bytes | None
    dpi: int | None = 500


def png(pixels: np.ndarray) -> bytes:
    return encode_png(np.ascontiguousarray(pixels, np.uint8), 500)


def fvc_png(fvc_dir, db: str, name: str) -> bytes:
    return (fvc_dir / db / f"{name}.tif").read_bytes()


@pytest.mark.parametrize("name", sorted(junk_images()))
def test_junk_image_is_refused_as_unusable_naming_the_position(name):
    image = png(junk_images()[name])
    with pytest.raises(Refusal) as err:
        finger_records([Captured(4, image)], enrollment=False)
    assert err.value.code == "unusable_finger"
    assert err.value.detail.startswith("finger 4: no usable finger (")
    assert re.findall(r"\d+", err.value.detail) == ["4"]   # the position, never a measured value


def test_tiny_crops_of_real_fingers_are_refused(fvc_dir):
    db = next(d for d in discover(fvc_dir) if d.name == "DB1_B")
    for name, pixels in fvc_crops(db).items():
        _, usability = extract_finger(1, png(pixels), 500)
        assert not usability.usable, name


def test_ridges_with_few_minutiae_are_refused_for_the_count_alone_and_enough_pass():
    params = UsabilityParams()
    _, few = extract_finger(2, png(dislocated_ridges(params.min_minutiae - 2)), 500)
    assert few.reasons == (TOO_FEW_MINUTIAE,) and few.minutiae == params.min_minutiae - 2
    _, enough = extract_finger(2, png(dislocated_ridges(params.min_minutiae + 4)), 500)
    assert enough.usable and enough.minutiae == params.min_minutiae + 4


def test_every_unusable_finger_is_named_in_one_refusal_and_the_enrollment_rule_cited(fvc_dir):
    fingers = [Captured(1, fvc_png(fvc_dir, "DB1_B", "101_1")), Captured(3, png(junk_images()["black_1000"])),
               Captured(6, None), Captured(7, png(junk_images()["uniform_noise"]))]
    with pytest.raises(Refusal) as err:
        finger_records(fingers, enrollment=True)
    assert err.value.code == "unusable_finger"
    assert "finger 3:" in err.value.detail and "finger 7:" in err.value.detail and "finger 1:" not in err.value.detail
    assert "unable to print" in err.value.detail
    assert "Rules 406" in err.value.rule and "p.10" in err.value.rule


def test_too_few_minutiae_over_the_whole_set_is_refused(fvc_dir):
    fingers = [Captured(1, fvc_png(fvc_dir, "DB1_B", "101_1")), Captured(2, fvc_png(fvc_dir, "DB1_B", "102_1"))]
    records = finger_records(fingers, enrollment=False)
    total = sum(len(r.template.minutiae) for r in records)
    again = finger_records(fingers, enrollment=False, params=UsabilityParams(min_total_minutiae=total))
    assert [r.template.minutiae.tobytes() for r in again] == [r.template.minutiae.tobytes() for r in records]
    with pytest.raises(Refusal) as err:
        finger_records(fingers, enrollment=False, params=UsabilityParams(min_total_minutiae=total + 1))
    assert err.value.code == "too_few_minutiae_total" and err.value.rule is None


def test_every_fvc2002_impression_the_other_tests_use_is_usable(fvc_dir):
    """All of DB1_B (the pipeline and admission tests draw from it) and the DB2_B impression others use."""
    db1 = next(d for d in discover(fvc_dir) if d.name == "DB1_B")
    images = [(imp.path.stem, imp.path.read_bytes(), 500) for imp in db1.impressions]
    images.append(("DB2_B/101_1", fvc_png(fvc_dir, "DB2_B", "101_1"), 569))
    assert len(images) == 81
    unusable = {name: u.describe() for name, image, dpi in images
                for _, u in [extract_finger(1, image, dpi)] if not u.usable}
    assert unusable == {}


def test_fvc_image_decoded_the_station_way_is_usable(fvc_dir):
    """A station sends PNGs it encoded itself: the same impression through encode_png passes too."""
    pixels = load_image(fvc_dir / "DB1_B" / "102_5.tif").pixels
    _, usability = extract_finger(2, png(pixels), 500)
    assert usability.usable
