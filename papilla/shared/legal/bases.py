"""Legal bases of an enrollment and the storage term each one sets, as data (one place).

An enrollment records the basis it was collected under (`legal_basis`); its
term follows from the basis alone, computed at enrollment
(`services.lifecycle.retention`). Three shapes of term exist in the texts:

* ``fixed``: N years from the date of registration, then M years in the
  archive, then destruction (Law Art.15 p.1 third para., p.2; Art.17 p.2);
* ``until_age_after_event``: no term while the person lives as a citizen;
  once death, missing status, a court's declaration of death or loss /
  renunciation of citizenship is recorded, until the date they would have
  turned 100 (Law Art.15 p.1 second para.);
* ``until_application``: public-service authentication (Rules 406) sets no
  term; the data go on the person's application or withdrawal of consent
  (Rules 406 p.11, Rules 395 p.6), handled by `destroy`, never by the sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .dates import add_years  # noqa: F401  (the one date rule; re-exported for the retention code)
from .rules import rule

#: Events that start the term of identity-document registrants (Law Art.15 p.1, second paragraph).
TERM_EVENTS = ("death", "missing_by_court", "declared_dead_by_court", "citizenship_lost",
               "citizenship_renounced")


@dataclass(frozen=True)
class Term:
    """How long an enrollment's data are kept.

    kind:          "fixed" | "until_age_after_event" | "until_application"
    years:         fixed: years from registration before the archive (Art.15 p.1: 10)
    archive_years: fixed: years in the archive after that (Art.15 p.2: 40)
    age:           until_age_after_event: the age at whose birthday the term ends (Art.15 p.1: 100)
    rule_ids:      the rules that set the term, cited in every retention act
    """

    kind: str
    rule_ids: tuple[str, ...]
    years: int = 0
    archive_years: int = 0
    age: int = 0

    @property
    def citation(self) -> str:
        return "; ".join(rule(r).citation for r in self.rule_ids)


@dataclass(frozen=True)
class LegalBasis:
    """One legal basis of registration, as data (read by `decide.decide`).

    rule_id:     the rule that allows registration under it (its citation is `collected_under`)
    kind:        "voluntary" (Rules 406 p.4, Law Art.10 p.4), "allowed" (with consent, Law Art.10 p.1) or
                 "mandatory" (Law Art.10 p.2)
    applicants:  "citizen" (citizens only), "foreign" (foreigners and stateless persons) or "any"
    min_age:     the age from which the basis applies (18 public services, 16 the Art.10 p.2 categories and
                 identity documents, 12 the child's passport); `max_age`: the age from which it no longer does
    verify_on_reapply: re-applicants are verified 1:1 instead of registered again (Law Art.10 p.3)
    law:         registration under the Law (its exemptions of Art.10-1 apply); False: Rules 406
    """

    id: str
    summary: str
    rule_id: str
    kind: str
    applicants: str
    min_age: int
    purposes: tuple[str, ...]     # what the data are used for (told to the subject, Rules 395 p.15)
    term: Term
    max_age: int | None = None
    verify_on_reapply: bool = False
    law: bool = True

    @property
    def collected_under(self) -> str:
        """Citation of the provision the person was registered under."""
        return rule(self.rule_id).citation


_FIXED = Term("fixed", ("retention_ten_years", "retention_archive_forty_years", "destruction_at_end_of_retention"),
              years=10, archive_years=40)
_ID_DOCUMENT = Term("until_age_after_event", ("retention_id_document", "destruction_at_end_of_retention"), age=100)
_ON_APPLICATION = Term("until_application", ("retention_public_service",))

_LAW_PURPOSES = ("confirmation and identification of identity (Law Art.16 sub.1)",
                 "ensuring the safety of the individual, society and the state (Law Art.16 sub.3)")
_FOREIGNER_PURPOSES = _LAW_PURPOSES + ("registration and control of foreigners and stateless persons "
                                       "(Law Art.16 sub.2)",)


def _mandatory(id: str, summary: str, rule_id: str, applicants: str = "foreign", *,
               verify_on_reapply: bool = True) -> LegalBasis:
    return LegalBasis(id, summary, rule_id, "mandatory", applicants, 16,
                      _FOREIGNER_PURPOSES if applicants == "foreign" else _LAW_PURPOSES, _FIXED,
                      verify_on_reapply=verify_on_reapply)


BASES: dict[str, LegalBasis] = {b.id: b for b in [
    LegalBasis("public_service_authentication", "biometric authentication in public services (voluntary, 18+)",
               "adult_voluntary", "voluntary", "any", 18,
               ("biometric authentication of the person when public services are provided (Rules 406 p.1)",),
               _ON_APPLICATION, law=False),
    LegalBasis("id_document", "identity card or passport of a citizen, with consent", "id_document_with_consent",
               "allowed", "citizen", 16, _LAW_PURPOSES, _ID_DOCUMENT, verify_on_reapply=True),
    LegalBasis("passport_child_12_16", "passport of a child aged 12-16, voluntary", "passport_child_voluntary",
               "voluntary", "citizen", 12, _LAW_PURPOSES, _FIXED, max_age=16),
    _mandatory("seafarer", "seafarer's identity card", "mandatory_seafarer", "any", verify_on_reapply=False),
    _mandatory("residence_permit", "temporary or permanent residence permit", "mandatory_residence_permit"),
    _mandatory("residence_card", "foreigner's residence permit or stateless person's certificate",
               "mandatory_residence_card"),
    _mandatory("asylum_refugee", "asylum seeker status, refugee certificate or travel document",
               "mandatory_asylum_refugee"),
    _mandatory("deportation_readmission", "deportation or readmission", "mandatory_deportation_readmission",
               verify_on_reapply=False),
    _mandatory("visa", "visa of the Republic of Kazakhstan (not an e-visa)", "mandatory_visa"),
]}
#: Exemptions a person may claim, each with its rule (Law Art.10-1 p.2 for visas; p.4 para.1 for any basis).
EXEMPTIONS: dict[str, str] = {
    "head_of_state": "visa_exempt_heads_of_state",
    "official_diplomatic": "visa_exempt_officials",
    "honorary_consul": "visa_exempt_honorary_consuls",
    "diplomatic_passport": "visa_exempt_diplomatic_passport",
    "diplomatic_courier": "visa_exempt_diplomatic_courier",
    "official_invitation": "visa_exempt_official_invitation",
    "medical_commission": "exempt_medical_commission",
}
VISA_ONLY_EXEMPTIONS = frozenset(EXEMPTIONS) - {"medical_commission"}


class UnknownBasis(ValueError):
    pass


def basis(basis_id: str) -> LegalBasis:
    try:
        return BASES[basis_id]
    except KeyError:
        raise UnknownBasis(f"unknown legal basis {basis_id!r} (one of: {', '.join(BASES)})") from None


@dataclass(frozen=True)
class Dates:
    """The dates a term sets for one enrollment (None: no date runs yet)."""

    archive_on: date | None = None
    destroy_on: date | None = None


def fixed_dates(term: Term, registered_on: date) -> Dates:
    """Fixed terms: archive after `years`, destruction after `years + archive_years` (Art.15 p.1-2, Art.17 p.2)."""
    if term.kind != "fixed":
        return Dates()
    archive_on = add_years(registered_on, term.years)
    return Dates(archive_on=archive_on, destroy_on=add_years(archive_on, term.archive_years))


def event_destroy_on(term: Term, birth: date, recorded_on: date) -> date | None:
    """After a term-starting event: the date the person would turn `age`, or the day of recording if passed."""
    if term.kind != "until_age_after_event":
        return None
    return max(add_years(birth, term.age), recorded_on)
