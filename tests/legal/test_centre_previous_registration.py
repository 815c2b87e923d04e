"""The centre decides "previously registered" from its own store, not from the station's word (Law Art.10 p.3,
Rules 406 p.8-9): an ACTIVE enrollment of the person's IIN (by its keyed hash) makes a new application a
verification (`verify_instead`); a re-collection claimed for a person the centre holds no active record of is
refused under the re-collection rule. Both directions, each asserting the decision and the citation."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.admission import intake
from papilla.services.lifecycle.enrollments import activate
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal

from tests.helpers.legal import LAW, packet_for

FOREIGN = {"citizenship": "foreigner"}


def enrolled_and_active(centre, fvc_dir, packet_id: str, iin: str, basis: str, **applicant) -> None:
    accepted = intake.accept_enrollment(centre, packet_for(centre, fvc_dir, packet_id, iin, basis=basis, **applicant))
    assert activate(centre, centre.store.get("enrollments", accepted.enrollment_id), actor="test") == "ACTIVE"


@pytest.mark.parametrize("basis,applicant,citation", [
    ("id_document", {}, LAW + "Art.10 p.3"),
    ("visa", FOREIGN, LAW + "Art.10 p.3"),
    ("public_service_authentication", {}, "Rules 406, p.8"),
])
def test_station_says_new_but_the_centre_knows_them_verify_instead(centre, fvc_dir, basis, applicant, citation):
    iin = make_test_iin(date(1988, 8, 8), True, 21)
    enrolled_and_active(centre, fvc_dir, "st-unit-01-first", iin, basis, **applicant)
    again = packet_for(centre, fvc_dir, "st-unit-01-again", iin, basis=basis, **applicant)   # no reason: "new"
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, again)
    assert (err.value.decision, err.value.code, err.value.rule) == ("verify_instead", "already_registered", citation)
    assert err.value.request_id == "st-unit-01-again" and centre.store.get("enrollments", "st-unit-01-again") is None


def test_a_record_that_is_not_active_does_not_count_as_a_registration(centre, fvc_dir):
    iin = make_test_iin(date(1988, 8, 8), True, 22)
    intake.accept_enrollment(centre, packet_for(centre, fvc_dir, "st-unit-01-pending", iin, basis="id_document"))
    accepted = intake.accept_enrollment(centre, packet_for(centre, fvc_dir, "st-unit-01-new", iin, basis="id_document"))
    doc = centre.store.get("enrollments", accepted.enrollment_id)
    assert (doc["decision"]["decision"], doc["decision"]["citation"]) == ("allowed", LAW + "Art.10 p.1")


@pytest.mark.parametrize("basis,reason,applicant,citation", [
    ("id_document", "document_replacement", {}, LAW + "Art.10 p.1"),
    ("visa", "irreversible_damage", FOREIGN, LAW + "Art.10 p.3"),
    ("public_service_authentication", "irreversible_damage", {}, "Rules 406, p.8-9"),
    ("public_service_authentication", "document_replacement", {}, "Rules 406, p.8"),
])
def test_station_says_reenrollment_but_the_centre_has_no_record_refused(centre, fvc_dir, basis, reason, applicant,
                                                                        citation):
    iin = make_test_iin(date(1988, 8, 8), True, 23)
    claimed = packet_for(centre, fvc_dir, "st-unit-01-re", iin, basis=basis, reenrollment_reason=reason, **applicant)
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, claimed)
    assert (err.value.decision, err.value.code, err.value.rule) == ("refused", "not_previously_registered", citation)
    assert iin not in str(err.value) and centre.store.count("subjects", {}) == 0


@pytest.mark.parametrize("basis,reason,applicant,citation", [
    ("visa", "irreversible_damage", FOREIGN, LAW + "Art.10 p.3"),
    ("seafarer", "document_replacement", {}, LAW + "Art.10 p.2 sub.1, sub.5; Art.10 p.3"),
])
def test_station_says_reenrollment_and_the_centre_knows_them_reenrolled(centre, fvc_dir, basis, reason, applicant,
                                                                        citation):
    iin = make_test_iin(date(1988, 8, 8), True, 24)
    enrolled_and_active(centre, fvc_dir, "st-unit-01-old", iin, basis, **applicant)
    accepted = intake.accept_enrollment(centre, packet_for(centre, fvc_dir, "st-unit-01-renew", iin, basis=basis,
                                                           reenrollment_reason=reason, **applicant))
    doc = centre.store.get("enrollments", accepted.enrollment_id)
    assert (doc["decision"]["decision"], doc["decision"]["citation"]) == ("reenroll", citation)
    assert activate(centre, doc, actor="test") == "ACTIVE"
    assert centre.store.get("enrollments", "st-unit-01-old")["state"] == "ARCHIVED"


def test_a_replaced_document_alone_does_not_collect_a_public_service_registrant_again(centre, fvc_dir):
    """Issue 19: Rules 406 p.8 re-collects only after irreversible damage; a new ID document is no such ground."""
    iin = make_test_iin(date(1988, 8, 8), True, 25)
    enrolled_and_active(centre, fvc_dir, "st-unit-01-ps-old", iin, "public_service_authentication")
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, packet_for(centre, fvc_dir, "st-unit-01-ps-new", iin,
                                                    basis="public_service_authentication",
                                                    reenrollment_reason="document_replacement"))
    assert (err.value.decision, err.value.code, err.value.rule) == ("verify_instead", "replacement_not_a_ground",
                                                                    "Rules 406, p.8")
    assert "irreversible damage" in err.value.detail
    assert centre.store.get("enrollments", "st-unit-01-ps-old")["state"] == "ACTIVE"   # nothing archived
