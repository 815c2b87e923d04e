"""Destruction depends on the legal basis (issue 19): the same-day destruction on application (Rules 406 p.11)
and the withdrawal of consent (Rules 395 p.6) end only records kept for public-service authentication; records
kept under the Law on dactyloscopic and genomic registration keep their Art.15 terms and go only on Art.17
grounds, so those applications are refused with the articles that keep them. Sent as a branch sends them."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.shared.crypto.iin import make_test_iin

from tests.helpers.legal_records import desk, record

FOREIGNER, CITIZEN, BOTH = (make_test_iin(date(1990, 4, 4), True, 41), make_test_iin(date(1985, 5, 5), False, 42),
                            make_test_iin(date(1975, 6, 6), True, 43))


@pytest.fixture
def branch(centre):
    return desk(centre)


@pytest.mark.parametrize("action", ["destroy", "withdraw_consent"])
def test_a_residence_permit_record_is_not_destroyed_on_application_and_the_refusal_names_art_15_and_17(
        branch, action):
    record(branch.centre, "enr-rp-1", FOREIGNER, "residence_permit")
    done = branch.run(action, f"req-{action}-rp", iin=FOREIGNER, on_application_of="subject")
    assert (done.status, done.reason) == ("REFUSED", "storage_term_set_by_law")
    assert "Art.15" in done.rule and "Art.17 p.2-3" in done.rule
    assert "Art.10 p.2 sub.2" in done.detail and "Art.17" in done.detail     # the basis it was collected under
    assert branch.centre.store.get("enrollments", "enr-rp-1")["state"] == "ACTIVE"
    entry = branch.centre.store.find_one("audit", {"action": "destruction_refused"})
    assert entry["details"]["kept"] == ["enr-rp-1"] and "Art.15" in entry["details"]["rule"]


def test_an_identity_document_record_keeps_its_term_when_consent_is_withdrawn(branch):
    record(branch.centre, "enr-id-1", CITIZEN, "id_document")
    done = branch.run("withdraw_consent", "req-wd-id", iin=CITIZEN, on_application_of="subject")
    assert done.status == "REFUSED" and "Art.15 p.1" in done.rule and "Art.10 p.1" in done.detail
    assert branch.centre.store.get("enrollments", "enr-id-1") is not None
    assert branch.centre.store.find_one("audit", {"action": "consent_withdrawn"}) is not None   # still recorded


def test_a_public_service_record_is_destroyed_the_day_the_application_is_received(branch):
    record(branch.centre, "enr-ps-1", CITIZEN, "public_service_authentication")
    done = branch.run("destroy", "req-ps-1", iin=CITIZEN, on_application_of="subject")
    assert (done.status, done.rule) == ("DESTROYED", "Rules 406, p.11")
    assert branch.centre.store.count("enrollments", {}) == 0 and branch.centre.store.count("subjects", {}) == 0


def test_with_records_of_both_kinds_the_public_service_one_goes_and_the_law_one_stays(branch):
    record(branch.centre, "enr-both-ps", BOTH, "public_service_authentication")
    record(branch.centre, "enr-both-id", BOTH, "id_document", state="ARCHIVED")
    done = branch.run("destroy", "req-both", iin=BOTH, on_application_of="subject")
    assert (done.status, done.reason) == ("PARTLY_DESTROYED", "storage_term_set_by_law")
    assert done.rule.startswith("Rules 406, p.11; ") and "Art.15 p.1" in done.rule
    store = branch.centre.store
    assert store.get("enrollments", "enr-both-ps") is None and store.count("biometrics", {"enrollment_id":
                                                                                          "enr-both-ps"}) == 0
    assert store.get("enrollments", "enr-both-id") is not None and not store.get("gallery", "enr-both-ps")["active"]
