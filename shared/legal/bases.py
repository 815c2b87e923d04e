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

import calendar
from dataclasses import dataclass
from datetime import date

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
    id: str
    summary: str
    collected_under: str          # citation of the provision the person was registered under
    purposes: tuple[str, ...]     # what the data are used for (told to the subject, Rules 395 p.15)
    term: Term


_FIXED = Term("fixed", ("retention_ten_years", "retention_archive_forty_years", "destruction_at_end_of_retention"),
              years=10, archive_years=40)
_ID_DOCUMENT = Term("until_age_after_event", ("retention_id_document", "destruction_at_end_of_retention"), age=100)
_ON_APPLICATION = Term("until_application", ("retention_public_service",))

_LAW = "Law on dactyloscopic and genomic registration"
_LAW_PURPOSES = ("confirmation and identification of identity (Law Art.16 sub.1)",
                 "ensuring the safety of the individual, society and the state (Law Art.16 sub.3)")
_FOREIGNER_PURPOSES = _LAW_PURPOSES + ("registration and control of foreigners and stateless persons "
                                       "(Law Art.16 sub.2)",)


def _basis(id: str, summary: str, article: str, purposes: tuple[str, ...], term: Term) -> LegalBasis:
    return LegalBasis(id, summary, f"{_LAW} {article}", purposes, term)


BASES: dict[str, LegalBasis] = {b.id: b for b in [
    LegalBasis("public_service_authentication", "biometric authentication in public services (voluntary, 18+)",
               rule("adult_voluntary").citation,
               ("biometric authentication of the person when public services are provided (Rules 406 p.1)",),
               _ON_APPLICATION),
    _basis("id_document", "identity card or passport of a citizen, with consent", "Art.10 p.1", _LAW_PURPOSES,
           _ID_DOCUMENT),
    _basis("passport_child_12_16", "passport of a child aged 12-16, voluntary", "Art.10 p.4", _LAW_PURPOSES, _FIXED),
    _basis("seafarer", "seafarer's identity card", "Art.10 p.2 sub.1", _LAW_PURPOSES, _FIXED),
    _basis("residence_permit", "temporary or permanent residence permit", "Art.10 p.2 sub.2", _FOREIGNER_PURPOSES,
           _FIXED),
    _basis("residence_card", "foreigner's residence permit or stateless person's certificate", "Art.10 p.2 sub.3",
           _FOREIGNER_PURPOSES, _FIXED),
    _basis("asylum_refugee", "asylum seeker status, refugee certificate or travel document", "Art.10 p.2 sub.4",
           _FOREIGNER_PURPOSES, _FIXED),
    _basis("deportation_readmission", "deportation or readmission", "Art.10 p.2 sub.5", _FOREIGNER_PURPOSES, _FIXED),
    _basis("visa", "visa of the Republic of Kazakhstan (not an e-visa)", "Art.10 p.2 sub.6", _FOREIGNER_PURPOSES,
           _FIXED),
]}


class UnknownBasis(ValueError):
    pass


def basis(basis_id: str) -> LegalBasis:
    try:
        return BASES[basis_id]
    except KeyError:
        raise UnknownBasis(f"unknown legal basis {basis_id!r} (one of: {', '.join(BASES)})") from None


def add_years(day: date, years: int) -> date:
    """`day` moved by whole years; 29 February becomes 28 February in a common year.

    A term counted in years ends on the same date of the last year; when that
    month has no such date, on its last day (the civil-law rule for terms, see
    docs/legal.md).
    """
    year = day.year + years
    last = calendar.monthrange(year, day.month)[1]
    return day.replace(year=year, day=min(day.day, last))


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
