"""Depersonalized subjects keep their rights (issue 19): the person who applies with their IIN at a branch is
found through the pseudonym the centre's depersonalization key gives; the access report says what is held and
under which basis (Rules 395 p.15), destruction and withdrawal are carried out or refused with a rule, never
answered NOT_ENROLLED."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.lifecycle import access
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.principals import sign

from tests.helpers.legal_records import desk, enrolled_under

PS_PERSON, ID_PERSON = make_test_iin(date(1981, 7, 7), False, 61), make_test_iin(date(1983, 8, 8), True, 62)


@pytest.fixture
def branch(centre, fvc_dir):
    enrolled_under(centre, fvc_dir, "st-unit-01-dp-ps", PS_PERSON, {1: "106_1"})
    enrolled_under(centre, fvc_dir, "st-unit-01-dp-id", ID_PERSON, {1: "107_1"}, basis="id_document")
    branch = desk(centre)
    for rid, iin in (("dp-1", PS_PERSON), ("dp-2", ID_PERSON)):
        assert branch.run("depersonalize", rid, iin=iin, by="body").status == "DEPERSONALIZED"
    return branch


def test_the_access_report_of_a_depersonalized_person_says_what_is_held_and_under_which_basis(branch):
    centre, op = branch.centre, branch.people["op"]
    request = access.AccessRequest(request_id="acc-dp-1", iin=ID_PERSON, principal_id=op.party_id)
    received = access.receive(centre, sign(request, "principal_signature", op.signing))
    assert received["subject_id"] is not None                      # found, not "nothing held"
    decision = access.AccessDecision(request_id="acc-dp-1", decision="answer", principal_id=op.party_id)
    report = access.decide(centre, sign(decision, "principal_signature", op.signing))
    assert report.data_held and report.depersonalized
    (held,) = report.records
    assert held.record_id == "st-unit-01-dp-id" and held.collected_under.endswith("Art.10 p.1")
    assert "Art.15 p.1" in held.term_rule and "depersonalization key" in held.source
    assert "Rules 395, p.15" in report.rule


def test_a_depersonalized_public_service_record_is_destroyed_on_withdrawal(branch):
    done = branch.run("withdraw_consent", "wd-dp", iin=PS_PERSON, on_application_of="subject")
    assert (done.status, done.rule) == ("DESTROYED", "Rules 395, p.6")
    assert branch.centre.store.get("enrollments", "st-unit-01-dp-ps") is None


def test_a_depersonalized_law_record_is_refused_with_its_article_not_answered_not_enrolled(branch):
    done = branch.run("destroy", "ds-dp", iin=ID_PERSON, on_application_of="subject")
    assert (done.status, done.reason) == ("REFUSED", "storage_term_set_by_law") and "Art.15 p.1" in done.rule
    assert branch.centre.store.get("enrollments", "st-unit-01-dp-id") is not None
