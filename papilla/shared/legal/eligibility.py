"""Identity and consent checks shared by the station and the centre.

Who may be enrolled, under which basis and with which fingers is decided by
`shared.legal.decide.decide` (one decision per application, each with its
rule and citation). This module checks the two records an enrollment carries
besides the fingers, the same way at the station (before sealing) and at the
centre (which never trusts the station):

* the identity document presented (Rules 406 p.3): its date of birth is the
  one the IIN carries;
* the written consent on the Annex form of Rules 406: name, date of birth and
  IIN are the applicant's, it was given before collection, accepted by the
  operator who signs the packet, with the conditions explained, for this
  basis, and signed by someone entitled to sign it.

Every refusal is built by `rules.refuse` (the rule's citation) and names the
check that failed, never the personal data compared.
"""
from __future__ import annotations

from datetime import date

from ..crypto.iin import birth_date_from_iin
from .bases import basis
from .rules import refuse

#: The roles of a person present (`Present.role`) who may sign for the applicant, by the consent's `signed_by`.
SIGNER_ROLES = {"legal_representative": ("legal_representative",), "custodian": ("custodian", "trustee")}


def check_identity(applicant) -> date:
    """The birth date on the presented document equals the IIN's (Rules 406 p.3); returns it.
    The IIN is validated before (an invalid one is its own refusal)."""
    birth = birth_date_from_iin(applicant.iin)
    if applicant.document.birth_date != birth:
        raise refuse("identity_document", "document_birth_date_mismatch",
                     "the date of birth on the identity document differs from the one in the IIN "
                     "(check: document date of birth against the IIN's first six digits)")
    return birth


def consent_required(decision) -> bool:
    """Written consent is the ground of every registration but the mandatory categories, which the Law registers
    by force of law (Art.10 p.2: "shall be subject to mandatory dactyloscopic registration"); Art.10 p.1 and
    Art.11 p.2 (identity documents, children 12-16) and Rules 406 p.3 (public services) require it."""
    return decision.decision != "mandatory"


def check_consent(consent, *, applicant, operator_id: str, purpose: str, collected_on: date,
                  required: bool = True) -> None:
    """The consent record is present (when `required`, see `consent_required`), on the Annex form, the
    applicant's, given in time and by the right person. A consent given where none is required is checked too.

    collected_on: the local calendar date of collection (`decide.local_date` of the capture time)
    """
    if consent is None and not required:
        return
    if consent is None:
        law = basis(purpose).law
        raise refuse("id_document_with_consent" if law else "identity_and_consent", "consent_missing",
                     "no written consent: this basis registers a person only with their consent")
    if not consent.conditions_explained:
        raise refuse("consent_conditions_explained", "consent_conditions_not_explained",
                     "the conditions and grounds for using the biometric data were not explained to the applicant")
    for differs, what, code in (
            (_name(consent.full_name) != _name(applicant.full_name), "full name", "consent_name_mismatch"),
            (consent.iin != applicant.iin, "IIN", "consent_iin_mismatch"),
            (consent.birth_date != birth_date_from_iin(applicant.iin), "date of birth", "consent_birth_date_mismatch")):
        if differs:
            raise refuse("consent_on_annex_form", code,
                         f"the {what} on the consent form differs from the applicant's (check: consent {what})")
    if consent.accepted_by != operator_id:
        raise refuse("consent_on_annex_form", "consent_accepted_by_other",
                     f"the consent was accepted by {consent.accepted_by}, not by the operator {operator_id} "
                     "who signs this enrollment")
    if consent.signed_on > collected_on:
        raise refuse("consent_before_collection", "consent_after_collection",
                     "the consent is dated after the day of collection")
    if purpose not in consent.purposes:
        raise refuse("consent_for_the_purpose", "consent_other_purpose",
                     f"the consent does not cover the basis {purpose}")
    _check_signer(consent, applicant, law=basis(purpose).law)


def _check_signer(consent, applicant, *, law: bool) -> None:
    custodian_rule = "incapacitated_guardian" if law else "incapacitated_custodian"
    if applicant.legal_capacity == "incapacitated" and consent.signed_by != "custodian":
        raise refuse(custodian_rule, "consent_not_by_custodian",
                     "a person found incapacitated does not sign the consent: the custodian (guardian) present "
                     "signs it, with their written application")
    if consent.signed_by == "subject":
        return
    roles = SIGNER_ROLES[consent.signed_by]
    if not any(p.role in roles and p.written_application == consent.application_ref for p in applicant.present):
        rule_id = custodian_rule if consent.signed_by == "custodian" else (
            "child_legal_representative" if law else "consent_on_annex_form")
        signer = consent.signed_by.replace("_", " ")
        raise refuse(rule_id, "consent_signer_not_present",
                     f"the consent is signed by a {signer}, but no {signer} present brought that written application")


def _name(full_name: str) -> str:
    """A name as compared: case and runs of spaces do not matter."""
    return " ".join(full_name.split()).casefold()
