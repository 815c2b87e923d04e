"""Consent as a record (the Annex form of Rules 406) and the identity document: each check refuses with its rule's
citation and names the check, never the data compared; the centre checks the record again and stores it encrypted."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from papilla.services.admission import intake
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal.eligibility import check_consent, check_identity, consent_required
from papilla.shared.messages import Consent, EnrollmentPacket, Finger, IdentityDocument, Present, encode

from tests.helpers.builders import identity
from tests.helpers.centre import STATION, signed_by_operator
from tests.helpers.harness import FvcScanner

IIN = make_test_iin(date(1986, 4, 12), False, 61)
OPERATOR = "op-unit-01"
COLLECTED = date(2026, 11, 22)
LAW = "Law on dactyloscopic and genomic registration, "


def records(purpose: str = "public_service_authentication", **applicant) -> tuple:
    made = identity(IIN, "Asel Test", operator_id=OPERATOR, signed_on=COLLECTED, purpose=purpose, **applicant)
    return made["applicant"], made["consent"]


def refusal(consent, applicant, *, purpose="public_service_authentication", operator=OPERATOR) -> Refusal:
    with pytest.raises(Refusal) as err:
        check_consent(consent, applicant=applicant, operator_id=operator, purpose=purpose, collected_on=COLLECTED)
    return err.value


def test_a_consistent_record_passes_both_checks():
    applicant, consent = records()
    assert check_identity(applicant) == date(1986, 4, 12)
    check_consent(consent, applicant=applicant, operator_id=OPERATOR, purpose="public_service_authentication",
                  collected_on=COLLECTED)


@pytest.mark.parametrize("change,code,citation", [
    ({"conditions_explained": False}, "consent_conditions_not_explained", "Rules 406, p.3 para.2"),
    ({"full_name": "Someone Else"}, "consent_name_mismatch", "Rules 406, p.3 para.1; Annex"),
    ({"iin": make_test_iin(date(1986, 4, 12), False, 62)}, "consent_iin_mismatch", "Rules 406, p.3 para.1; Annex"),
    ({"birth_date": date(1986, 4, 13)}, "consent_birth_date_mismatch", "Rules 406, p.3 para.1; Annex"),
    ({"accepted_by": "op-other-02"}, "consent_accepted_by_other", "Rules 406, p.3 para.1; Annex"),
    ({"signed_on": date(2026, 11, 23)}, "consent_after_collection", "Rules 406, p.3 para.1"),
    ({"purposes": ("id_document",)}, "consent_other_purpose", "Rules 395, p.4, p.8"),
])
def test_each_field_of_the_form_is_checked_with_its_citation(change, code, citation):
    applicant, consent = records()
    err = refusal(consent.model_copy(update=change), applicant)
    assert (err.code, err.rule) == (code, citation)
    assert IIN not in str(err) and "1986" not in str(err) and "Someone" not in str(err)


def test_name_comparison_ignores_case_and_spacing_only():
    applicant, consent = records()
    check_consent(consent.model_copy(update={"full_name": "  asel   TEST "}), applicant=applicant,
                  operator_id=OPERATOR, purpose="public_service_authentication", collected_on=COLLECTED)
    assert refusal(consent.model_copy(update={"full_name": "Asel Tes"}), applicant).code == "consent_name_mismatch"


def test_no_consent_is_refused():
    applicant, _ = records()
    err = refusal(None, applicant)
    assert (err.code, err.rule) == ("consent_missing", "Rules 406, p.3; Annex")


def test_no_consent_under_a_voluntary_basis_of_the_law_cites_the_law():
    applicant, _ = records()
    with pytest.raises(Refusal) as refused:
        check_consent(None, applicant=applicant, operator_id=OPERATOR, purpose="id_document", collected_on=COLLECTED)
    assert (refused.value.code, refused.value.rule) == (
        "consent_missing", "Law on dactyloscopic and genomic registration, Art.10 p.1")


@pytest.mark.parametrize("decision,required", [("mandatory", False), ("voluntary", True), ("allowed", True),
                                               ("reenroll", True)])
def test_only_the_mandatory_categories_register_without_consent(decision, required):
    assert consent_required(SimpleNamespace(decision=decision)) is required
    applicant, _ = records()
    if not required:   # nothing to check: the Law is the ground (Art.10 p.2)
        check_consent(None, applicant=applicant, operator_id=OPERATOR, purpose="visa", collected_on=COLLECTED,
                      required=False)


def test_an_incapacitated_person_does_not_sign_their_own_consent():
    custodian = (Present(role="custodian", written_application="app-17"),)
    applicant, consent = records(legal_capacity="incapacitated", present=custodian)
    assert (consent.signed_by, consent.application_ref) == ("custodian", "app-17")
    check_consent(consent, applicant=applicant, operator_id=OPERATOR, purpose="public_service_authentication",
                  collected_on=COLLECTED)
    by_subject = consent.model_copy(update={"signed_by": "subject", "application_ref": None})
    err = refusal(by_subject, applicant)
    assert (err.code, err.rule) == ("consent_not_by_custodian", "Rules 406, p.5; Law Art.11 p.3")
    err = refusal(by_subject.model_copy(update={"purposes": ("id_document",)}), applicant, purpose="id_document")
    assert err.rule == LAW + "Art.11 p.3"


def test_a_signer_must_be_present_with_the_application_the_consent_names():
    custodian = (Present(role="trustee", written_application="app-17"),)
    applicant, consent = records(legal_capacity="incapacitated", present=custodian)
    err = refusal(consent.model_copy(update={"application_ref": "app-99"}), applicant)
    assert (err.code, err.rule) == ("consent_signer_not_present", "Rules 406, p.5; Law Art.11 p.3")
    child = make_test_iin(date(2013, 6, 1), True, 3)
    made = identity(child, "Child Test", operator_id=OPERATOR, signed_on=COLLECTED, purpose="passport_child_12_16")
    by_parent = made["consent"].model_copy(update={"signed_by": "legal_representative", "application_ref": "app-5"})
    with pytest.raises(Refusal) as err:
        check_consent(by_parent, applicant=made["applicant"], operator_id=OPERATOR, purpose="passport_child_12_16",
                      collected_on=COLLECTED)
    assert (err.value.code, err.value.rule) == ("consent_signer_not_present", LAW + "Art.11 p.2")


def test_the_schema_asks_the_signers_application_and_never_assumes_consent():
    _, consent = records()
    fields = consent.model_dump()
    with pytest.raises(ValidationError, match="application_ref"):
        Consent(**{**fields, "signed_by": "custodian", "application_ref": None})
    with pytest.raises(ValidationError, match="subject signed"):
        Consent(**{**fields, "application_ref": "app-1"})
    for required in ("conditions_explained", "signature_ref", "signed_on", "accepted_by", "signed_by"):
        with pytest.raises(ValidationError, match=required):
            Consent(**{k: v for k, v in fields.items() if k != required})


def test_the_document_birth_date_is_checked_against_the_iin_without_echoing_it():
    applicant, _ = records()
    other = applicant.model_copy(update={"document": applicant.document.model_copy(
        update={"birth_date": date(1986, 12, 4)})})
    with pytest.raises(Refusal) as err:
        check_identity(other)
    assert (err.value.code, err.value.rule) == ("document_birth_date_mismatch", "Rules 406, p.3 para.1")
    assert "IIN" in str(err.value) and "1986" not in str(err.value) and "861204" not in str(err.value)


def test_a_document_number_is_letters_and_digits():
    with pytest.raises(ValidationError, match="number"):
        IdentityDocument(type="passport", number="N1;DROP", birth_date=date(1986, 4, 12))


def _packet(centre, fvc_dir, packet_id: str, **changes) -> bytes:
    images = FvcScanner(fvc_dir / "DB1_B", {1: "101_1"}).images()
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    made = identity(IIN, "Asel Test", operator_id=centre.operator.party_id, signed_on=now)
    made["consent"] = made["consent"].model_copy(update=changes.get("consent", {}))
    made["applicant"] = made["applicant"].model_copy(update=changes.get("applicant", {}))
    packet = EnrollmentPacket(packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id,
                              captured_at=now, **made,
                              fingers=[Finger(position=1, status="captured", image=images[1].png, format="png",
                                              dpi=500)] + [Finger(position=p, status="injured") for p in range(2, 11)])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())


def test_the_centre_checks_the_record_again_and_stores_it_encrypted(centre, fvc_dir):
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, _packet(centre, fvc_dir, "st-unit-01-c1",
                                                 consent={"conditions_explained": False}))
    assert (err.value.code, err.value.rule, err.value.request_id) == \
        ("consent_conditions_not_explained", "Rules 406, p.3 para.2", "st-unit-01-c1")
    wrong_birth = IdentityDocument(type="id_card", number="N04412345", birth_date=date(1968, 4, 12))
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, _packet(centre, fvc_dir, "st-unit-01-c2",
                                                 applicant={"document": wrong_birth}))
    assert err.value.code == "document_birth_date_mismatch" and centre.store.count("subjects", {}) == 0

    accepted = intake.accept_enrollment(centre, _packet(centre, fvc_dir, "st-unit-01-c3"))
    doc = centre.store.get("enrollments", accepted.enrollment_id)
    stored = json.dumps(doc, default=str)
    for clear in (IIN, "Asel Test", "N04412345", "form-406-0001"):
        assert clear not in stored
    assert doc["document_hash"] == centre.hasher.hash_document("id_card", "n0441-2345")
    assert doc["document_hash"] != centre.hasher.hash_document("passport", "N04412345")
    personal = json.loads(centre.cipher.decrypt(doc["subject_id"], "enrollments", doc["_id"], "personal",
                                                doc["personal"]))
    assert personal["consent"]["signature_ref"] == "form-406-0001" and personal["consent"]["conditions_explained"]
    assert personal["document"] == {"type": "id_card", "number": "N04412345", "birth_date": "1986-04-12"}
