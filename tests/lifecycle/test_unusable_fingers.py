"""Issue 8 defect 5 at the centre's door: an enrollment or a request with an unusable finger is refused.

The refusal carries the ids for the REFUSED reply, names the finger position, and nothing is stored.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from papilla.bench.usability import junk_images
from papilla.identity import ensure_sender
from papilla.services.capture.devices import encode_png
from papilla.services.admission import intake
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.messages import EnrollmentPacket, Finger, IdentifyRequest, encode

from tests.helpers.centre import STATION, signed_by_operator
from tests.helpers.builders import identity

BLACK = encode_png(np.zeros((1000, 1000), np.uint8), 500)


def sealed(centre, packet_id: str, images: dict[int, bytes]) -> bytes:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=now,
        **identity(make_test_iin(date(1975, 3, 3), True, 8), "Unit Person", operator_id=centre.operator.party_id,
                   signed_on=now),
        fingers=[Finger(position=p, status="captured", image=images[p], format="png", dpi=500) if p in images
                 else Finger(position=p, status="unable_to_print") for p in range(1, 11)])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())


def test_blank_black_1000_image_enrollment_is_refused_not_enrolled(centre):
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed(centre, "st-unit-01-black", {1: BLACK}))
    refusal = err.value
    assert refusal.code == "unusable_finger" and refusal.detail.startswith("finger 1: no usable finger")
    assert "p.6-7, p.10" in refusal.rule
    assert (refusal.request_id, refusal.reply_to, refusal.kind) == ("st-unit-01-black", STATION, "enrollment")
    assert centre.store.count("enrollments", {}) == 0 and centre.store.count("biometrics", {}) == 0
    assert centre.store.count("subjects", {}) == 0


def test_one_unusable_finger_among_good_ones_refuses_the_enrollment(centre, fvc_dir):
    good = (fvc_dir / "DB1_B" / "101_1.tif").read_bytes()
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed(centre, "st-unit-01-mixed", {1: good, 2: BLACK}))
    assert err.value.code == "unusable_finger" and "finger 2:" in err.value.detail
    assert "finger 1:" not in err.value.detail
    assert centre.store.count("enrollments", {}) == 0
    # the operator records the finger as unable to print: the same person is accepted
    accepted = intake.accept_enrollment(centre, sealed(centre, "st-unit-01-mixed-2", {1: good}))
    assert accepted.state == "EXTRACTED"


def test_identify_request_with_a_noise_probe_is_refused_as_identify_and_no_job_is_kept(centre, fvc_dir):
    service_key = ensure_sender(centre, centre.settings, "svc-unit-01", "service")
    good = (fvc_dir / "DB1_B" / "103_2.tif").read_bytes()
    noise = encode_png(junk_images()["gaussian_noise"], 500)
    request = IdentifyRequest(request_id="svc-unit-01-q1", reply_to="svc-unit-01", fingers=[
        Finger(position=2, status="captured", image=good, format="tiff", dpi=500),
        Finger(position=7, status="captured", image=noise, format="png", dpi=500)])
    packet = sealing.seal(encode(request), sender_id="svc-unit-01", packet_id=request.request_id,
                          signing_key=service_key.signing, centre_public=centre.keys.box.public_key())
    with pytest.raises(Refusal) as err:
        intake.accept_request(centre, packet)
    refusal = err.value
    assert refusal.code == "unusable_finger" and refusal.detail.startswith("finger 7: no usable finger")
    assert "finger 2" not in refusal.detail and refusal.rule is None
    assert (refusal.request_id, refusal.reply_to, refusal.kind) == ("svc-unit-01-q1", "svc-unit-01", "identify")
    assert centre.store.count("jobs", {}) == 0
