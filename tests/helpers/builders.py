"""The applicant's records as a station states them, for tests that build packets or call `Station.enroll`:
the identity document presented and the consent on the Annex form of Rules 406, consistent with the applicant
(the checks of `shared.legal.eligibility` pass unless a test changes one field)."""
from __future__ import annotations

from datetime import date, datetime

from papilla.services.capture.station import ConsentForm, consent_record, default_signer
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin
from papilla.shared.messages import Applicant, Consent, IdentityDocument

#: the birth date written on a document whose IIN does not validate (packets built to be refused)
UNREADABLE_IIN_BIRTH = date(1980, 1, 1)


def document_for(iin: str, *, type: str = "id_card", number: str = "N04412345") -> IdentityDocument:
    try:
        birth = birth_date_from_iin(iin)
    except InvalidIIN:
        birth = UNREADABLE_IIN_BIRTH
    return IdentityDocument(type=type, number=number, birth_date=birth)


def consent_form(signed_on: date | datetime, *, signature_ref: str = "form-406-0001", signed_by: str = "subject",
                 application_ref: str | None = None) -> ConsentForm:
    day = signed_on.date() if isinstance(signed_on, datetime) else signed_on
    return ConsentForm(signature_ref=signature_ref, signed_on=day, conditions_explained=True, signed_by=signed_by,
                       application_ref=application_ref)


def identity(iin: str, full_name: str, *, operator_id: str, signed_on: date | datetime,
             purpose: str = "public_service_authentication", **applicant) -> dict:
    """`applicant=` and `consent=` of an EnrollmentPacket (splat it), the consent signed by whoever
    `default_signer` names for this applicant."""
    who = Applicant(iin=iin, full_name=full_name, document=document_for(iin), **applicant)
    signed_by, application_ref = default_signer(who.legal_capacity, who.present)
    form = consent_form(signed_on, signed_by=signed_by, application_ref=application_ref)
    if iin_is_readable(iin):
        return {"applicant": who, "consent": consent_record(form, who, operator_id, purpose)}
    # an IIN that does not validate: the record a station could not have built (refusal tests)
    return {"applicant": who, "consent": Consent(
        form_version="406-annex-2020", full_name=full_name, birth_date=UNREADABLE_IIN_BIRTH, iin=iin,
        signed_on=form.signed_on, accepted_by=operator_id, signature_ref=form.signature_ref,
        conditions_explained=True, purposes=(purpose,), signed_by=signed_by, application_ref=application_ref)}


def iin_is_readable(iin: str) -> bool:
    try:
        birth_date_from_iin(iin)
        return True
    except InvalidIIN:
        return False


def papers(iin: str, signed_on: date = date(2026, 11, 22), **form) -> dict:
    """`iin=`, `document=` and `consent=` of `Station.enroll` for this applicant (splat it)."""
    return {"iin": iin, "document": document_for(iin), "consent": consent_form(signed_on, **form)}


def enroll_flags(iin: str, *, consent_ref: str = "form-406-0001", number: str = "N04412345") -> list[str]:
    """The identity-document and consent flags of `papilla station enroll` for this applicant: the document's
    birth date is the IIN's, the form signed today by the applicant, the conditions explained."""
    return ["--document-type", "id_card", "--document-number", number,
            "--document-birth-date", document_for(iin).birth_date.isoformat(), "--consent-ref", consent_ref,
            "--conditions-explained"]
