"""Domain logic without a broker: intake → deduplicate → settle, driven by hand in any order."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.admission import intake
from papilla.services.lifecycle import enrollments
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal

from tests.helpers.centre import STATION, reenrollment_packet, sealed_packet


def test_two_enrollments_of_one_person_in_flight_together_do_not_both_become_active(centre, fvc_dir):
    a = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-a", make_test_iin(
        date(1980, 1, 1), True, 1), {1: "101_1", 2: "102_1"}))
    b = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-b", make_test_iin(
        date(1985, 1, 1), False, 2), {1: "101_4", 2: "102_4"}))
    gallery = Gallery(centre)
    found_a = matching.deduplicate(centre, gallery, a.enrollment_id)
    found_b = matching.deduplicate(centre, gallery, b.enrollment_id)   # both searched an empty gallery
    assert found_a[0] == [] and found_b[0] == []
    assert enrollments.settle(centre, a.enrollment_id, *found_a).status == "ACTIVE"
    assert enrollments.settle(centre, b.enrollment_id, *found_b) == enrollments.RECHECK
    candidates, seq = matching.deduplicate(centre, gallery, b.enrollment_id)
    assert [c["enrollment_id"] for c in candidates] == [a.enrollment_id]
    result = enrollments.settle(centre, b.enrollment_id, candidates, seq)
    assert result.status == "PENDING_REVIEW" and result.candidates[0].enrollment_id == a.enrollment_id


def test_minor_is_refused_at_the_centre_too_with_ids_for_the_reply(centre, fvc_dir):
    sealed = sealed_packet(centre, fvc_dir, "st-unit-01-minor", make_test_iin(date(2012, 5, 5), True, 3),
                           {1: "103_1"})
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed)
    assert err.value.code == "age_below_18" and "p.4" in err.value.rule
    assert err.value.request_id == "st-unit-01-minor" and err.value.reply_to == STATION
    assert centre.store.count("subjects", {}) == 0


def test_reenrollment_archives_the_previous_record(centre, fvc_dir):
    iin = make_test_iin(date(1970, 3, 3), False, 7)
    first = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-r1", iin, {1: "105_1"}))
    gallery = Gallery(centre)
    assert enrollments.settle(centre, first.enrollment_id,
                              *matching.deduplicate(centre, gallery, first.enrollment_id)).status == "ACTIVE"
    # without a legal reason the same person is not enrolled twice: the centre's store knows them, so they are
    # verified instead (Rules 406 p.8), whatever the station said
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-r2", iin, {1: "105_2"}))
    assert (err.value.code, err.value.rule) == ("already_registered", "Rules 406, p.8")
    damaged = intake.accept_enrollment(centre, reenrollment_packet(centre, fvc_dir, iin))
    result = enrollments.settle(centre, damaged.enrollment_id,
                                *matching.deduplicate(centre, gallery, damaged.enrollment_id))
    assert result.status == "ACTIVE"
    assert centre.store.get("enrollments", first.enrollment_id)["state"] == "ARCHIVED"   # kept, not deleted
    assert not centre.store.get("gallery", first.enrollment_id)["active"]
