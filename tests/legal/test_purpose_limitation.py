"""Purpose limitation (issue 19; Rules 395 p.18, Rules 406 p.1, p.4, Law Art.16, Art.9 p.4): each use checks the
record's legal basis and the requester's kind as the centre registered it; every verify and identify is in the
audit trail with the requester and its purpose."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.lifecycle import transfers
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.messages import TransferOrder

from tests.helpers.legal_records import answer, desk, enrolled_under, probe, service

PS_PERSON, ID_PERSON = make_test_iin(date(1984, 3, 3), False, 51), make_test_iin(date(1986, 4, 4), True, 52)
PUBLIC, POLICE, COURT = "svc-egov-01", "svc-police-01", "svc-court-02"


@pytest.fixture
def parties(centre, fvc_dir):
    enrolled_under(centre, fvc_dir, "st-unit-01-ps", PS_PERSON, {1: "101_1", 2: "102_1"})
    enrolled_under(centre, fvc_dir, "st-unit-01-id", ID_PERSON, {1: "104_1", 2: "105_1"}, basis="id_document")
    return {"public": service(centre, PUBLIC, "public_service"), "police": service(centre, POLICE, "law_enforcement"),
            "court": service(centre, COURT, "court"), "desk": desk(centre)}


def test_a_public_service_record_is_a_candidate_for_a_public_service_and_never_for_the_police(centre, fvc_dir,
                                                                                                parties):
    probe(centre, fvc_dir, PUBLIC, parties["public"], "q-ps-pub", {1: "101_2", 2: "102_2"})
    probe(centre, fvc_dir, POLICE, parties["police"], "q-ps-pol", {1: "101_2", 2: "102_2"})
    assert [c.enrollment_id for c in answer(centre, "q-ps-pub").candidates] == ["st-unit-01-ps"]
    assert answer(centre, "q-ps-pol").status == "NO_CANDIDATES"       # kept for public services only
    probe(centre, fvc_dir, POLICE, parties["police"], "q-id-pol", {1: "104_2", 2: "105_2"})
    probe(centre, fvc_dir, PUBLIC, parties["public"], "q-id-pub", {1: "104_2", 2: "105_2"})
    assert [c.enrollment_id for c in answer(centre, "q-id-pol").candidates] == ["st-unit-01-id"]   # Law Art.16
    assert answer(centre, "q-id-pub").status == "NO_CANDIDATES"


def test_verify_checks_the_record_basis_against_the_requester_kind(centre, fvc_dir, parties):
    probe(centre, fvc_dir, PUBLIC, parties["public"], "v-id-pub", {1: "104_2"}, iin=ID_PERSON)
    refused = answer(centre, "v-id-pub")
    assert (refused.status, refused.reason) == ("REFUSED", "purpose_not_permitted")
    assert "Rules 395, p.18" in refused.rule and "Art.16" in refused.rule and refused.score is None
    probe(centre, fvc_dir, PUBLIC, parties["public"], "v-ps-pub", {1: "101_2"}, iin=PS_PERSON)
    assert answer(centre, "v-ps-pub").status == "MATCH"
    with pytest.raises(Refusal) as err:      # a court verifies nothing: refused at the centre's door
        probe(centre, fvc_dir, COURT, parties["court"], "v-court", {1: "101_2"}, iin=PS_PERSON)
    assert err.value.code == "purpose_not_permitted" and err.value.rule == "Rules 395, p.18"
    assert err.value.reply_to == COURT


def test_every_verify_and_identify_is_audited_with_the_requester_and_its_purpose(centre, fvc_dir, parties):
    probe(centre, fvc_dir, PUBLIC, parties["public"], "v-audit", {1: "101_2"}, iin=PS_PERSON)
    probe(centre, fvc_dir, POLICE, parties["police"], "q-audit", {1: "104_2"})
    answer(centre, "v-audit"), answer(centre, "q-audit")
    verified = centre.store.find_one("audit", {"action": "verified"})
    assert verified["actor"] == PUBLIC and verified["details"]["requester_kind"] == "public_service"
    assert "Rules 406, p.1, p.4" in verified["details"]["purpose"] and verified["details"]["status"] == "MATCH"
    assert verified["subject_id"] and verified["rule"].endswith("Art.8 p.2, p.4")
    identified = centre.store.find_one("audit", {"action": "identified"})
    assert identified["actor"] == POLICE and identified["details"]["requester_kind"] == "law_enforcement"
    assert "Art.16" in identified["details"]["purpose"] and identified["details"]["candidates"] == ["st-unit-01-id"]


def _transfer(parties, rid, iin, recipient, kind=None):
    order = TransferOrder(recipient_id=recipient, recipient_kind=kind, legal_basis="court ruling 2-7/2026")
    return parties["desk"].run("transfer", rid, iin=iin, by="body", approver="head", transfer=order)


def test_a_public_service_record_is_not_transferred_to_a_court_or_the_police(parties):
    for rid, recipient in (("t-ps-court", COURT), ("t-ps-police", POLICE)):
        refused = _transfer(parties, rid, PS_PERSON, recipient)
        assert (refused.status, refused.reason, refused.rule) == ("REFUSED", "purpose_not_permitted",
                                                                  "Rules 395, p.18")


def test_the_recipient_kind_is_the_one_the_centre_registered_not_the_one_the_order_declares(centre, parties):
    forged = _transfer(parties, "t-id-forged", ID_PERSON, PUBLIC, kind="court")   # a public service posing as a court
    assert (forged.status, forged.reason) == ("REFUSED", "recipient_kind_mismatch")
    assert forged.rule == "Rules 395, p.17-21"
    refused = _transfer(parties, "t-id-public", ID_PERSON, PUBLIC)
    assert (refused.status, refused.reason) == ("REFUSED", "purpose_not_permitted")
    done = _transfer(parties, "t-id-court", ID_PERSON, COURT)
    assert done.status == "TRANSFERRED" and "Art.9 p.4" in done.rule
    assert centre.store.find_one("audit", {"action": "transferred"})["details"]["recipient_kind"] == "court"
    assert transfers.sealed_export(centre, "t-id-court")    # export checks the registered kind again
    centre.senders.revoke(COURT, "court merged")
    with pytest.raises(Refusal) as err:
        transfers.sealed_export(centre, "t-id-court")
    assert err.value.code == "unknown_recipient"
