"""Deduplication at every gallery size from 0 to 150 (issue 8, defect 1: the 1:N cut FPIR / n fell between
calibrated points and stalled every enrollment from the 12th to the ~100th).

Domain-level, no broker: each enrollment goes through intake → deduplicate → settle. Extraction is not
what is tested here, so `finger_records` is replaced by templates of random minutiae (independent
fingers: impostors to each other) keyed by the image bytes; duplicates are planted as rigidly moved,
jittered copies of an earlier person's minutiae under another IIN.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from papilla.services.admission import intake
from papilla.services.extract.templating import FingerRecord
from papilla.services.lifecycle import enrollments
from papilla.services.match import engine, matching
from papilla.services.match.gallery import Gallery
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.messages import EnrollmentPacket, Finger, encode
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate

from tests.helpers.centre import STATION, signed_by_operator
from tests.helpers.builders import identity

PEOPLE = 150
FINGERS = (2, 7)
DUPLICATE_OF = {40: 3, 77: 11, 120: 60, 149: 100}   # enrollment index -> earlier person it copies


def random_minutiae(seed: int, n: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros(n, MINUTIA_DTYPE)
    m["x"], m["y"] = rng.uniform(30, 270, n), rng.uniform(30, 370, n)
    m["angle"], m["kind"], m["quality"] = rng.uniform(0, 2 * math.pi, n), rng.integers(1, 3, n), 80
    return m


def moved_copy(m: np.ndarray, seed: int) -> np.ndarray:
    """The same finger captured again: rotated 8 degrees, shifted, jittered, a few minutiae missed."""
    rng = np.random.default_rng(seed)
    a = math.radians(8)
    out = m[rng.random(len(m)) > 0.1].copy()
    x, y = out["x"] - 150, out["y"] - 200
    out["x"] = 150 + 12 + x * math.cos(a) - y * math.sin(a) + rng.normal(0, 1.5, len(out))
    out["y"] = 200 - 9 + x * math.sin(a) + y * math.cos(a) + rng.normal(0, 1.5, len(out))
    out["angle"] = np.mod(out["angle"] - a + rng.normal(0, 0.05, len(out)), 2 * math.pi)
    return out


def fake_template_from_image(position: int, image: bytes, dpi_hint: int | None) -> FingerRecord:
    person, copy_of = (int(v) for v in image.decode().split(":"))
    seed = (copy_of if copy_of >= 0 else person) * 10 + position
    minutiae = random_minutiae(seed)
    if copy_of >= 0:
        minutiae = moved_copy(minutiae, person)
    template = FingerTemplate(width=300, height=400, minutiae=minutiae, quality=80)
    return FingerRecord(position, template)


def sealed(centre, index: int, copy_of: int) -> bytes:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=index)
    packet_id = f"{STATION}-g{index:03d}"
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=now,
        **identity(make_test_iin(date(1960, 1, 1) + timedelta(days=97 * index), index % 2 == 0, index),
                   "Growing Gallery", operator_id=centre.operator.party_id, signed_on=now),
        fingers=[Finger(position=p, status="captured", image=f"{index}:{copy_of}".encode(), format="png", dpi=500)
                 if p in FINGERS else Finger(position=p, status="injured") for p in range(1, 11)])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())


def test_150_enrollments_in_sequence_each_reach_a_decision(centre, monkeypatch):
    monkeypatch.setattr(intake, "finger_records", lambda fingers, **_: [
        fake_template_from_image(f.position, f.image, f.dpi) for f in fingers if f.image is not None])
    gallery = Gallery(centre)
    outcomes = {}
    for index in range(PEOPLE):
        accepted = intake.accept_enrollment(centre, sealed(centre, index, DUPLICATE_OF.get(index, -1)))
        candidates, seq = matching.deduplicate(centre, gallery, accepted.enrollment_id)
        outcomes[index] = enrollments.settle(centre, accepted.enrollment_id, candidates, seq).status
    assert {i for i, s in outcomes.items() if s != "ACTIVE"} == set(DUPLICATE_OF)
    assert all(outcomes[i] == "PENDING_REVIEW" for i in DUPLICATE_OF)
    assert centre.store.count("enrollments", {"state": "EXTRACTED"}) == 0
    assert len(gallery.entries) == PEOPLE - len(DUPLICATE_OF)


@pytest.mark.parametrize("gallery_size", [0, 1, 10, 11, 12, 37, 99, 100, 101, 1_000, 12_345, 10**6, 10**7, 2 * 10**8])
def test_one_to_many_cut_has_a_threshold_at_every_gallery_size(gallery_size):
    thresholds = engine.thresholds()
    fmr = matching.one_to_many_fmr(1e-3, 1e-2, gallery_size)
    assert thresholds.fused(fmr) >= thresholds.fused(1e-3) - 1e-9


def test_thresholds_are_continuous_and_monotonic_between_calibrated_points():
    thresholds = engine.thresholds()
    fmrs = np.logspace(-2, -9, 200)
    fused = [thresholds.fused(f) for f in fmrs]
    finger = [thresholds.finger(f) for f in fmrs]
    assert all(b >= a - 1e-12 for a, b in zip(fused, fused[1:]))
    assert all(b >= a - 1e-12 for a, b in zip(finger, finger[1:]))
    assert thresholds.fused(1e-3) == pytest.approx(thresholds.fused_fmr_1e3)
    assert thresholds.fused(1e-4 * (1 + 1e-7)) == pytest.approx(thresholds.fused(1e-4 * (1 - 1e-7)), abs=1e-5)
    assert thresholds.finger(1e-4 * (1 + 1e-7)) == pytest.approx(thresholds.finger(1e-4 * (1 - 1e-7)), abs=1e-4)
    for bad in (0.0, -1e-3, 0.02, float("nan")):
        with pytest.raises(engine.FmrOutOfRange):
            thresholds.fused(bad)


@pytest.mark.parametrize("variable,value", [("PAPILLA_VERIFY_FMR", "0.05"), ("PAPILLA_DEDUP_FMR", "0"),
                                            ("PAPILLA_DEDUP_FPIR", "2"), ("PAPILLA_IDENTIFY_FMR", "often")])
def test_rates_out_of_range_fail_at_start_up_naming_the_variable(monkeypatch, variable, value):
    from papilla.shared.config import ConfigError, Settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env()


def test_start_up_range_matches_the_engine():
    from papilla.shared.config import MAX_FMR

    assert MAX_FMR == engine.MAX_FMR
