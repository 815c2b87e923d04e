"""Who may be enrolled for public-service authentication, and with which fingers.

Checked at the station before capture and again at the centre (the centre
never trusts the edge). Each refusal names its rule and citation.
"""
from __future__ import annotations

from datetime import date

from .rules import refuse

ADULT_AGE = 18


_refuse = refuse


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def check_applicant(*, birth: date, today: date, legal_capacity: str, custodian_present: bool) -> None:
    """Raise a Refusal if this person may not be enrolled for public-service authentication."""
    if age_on(birth, today) < ADULT_AGE:
        raise _refuse("adult_voluntary", "age_below_18", "the applicant is under 18")
    if legal_capacity == "incapacitated" and not custodian_present:
        raise _refuse("incapacitated_custodian", "custodian_required",
                      "an incapacitated applicant is enrolled only with the custodian present")


def check_consent(consent) -> None:
    if consent is None:
        raise _refuse("identity_and_consent", "consent_missing", "no written consent")


def check_fingers(statuses: dict[int, str]) -> None:
    """All ten positions accounted for; at least one printable finger captured."""
    missing = sorted(set(range(1, 11)) - set(statuses))
    if missing:
        raise _refuse("all_existing_fingers", "finger_status_missing",
                      f"no status for finger positions {missing}")
    if not any(s == "captured" for s in statuses.values()):
        raise _refuse("no_printable_fingers", "no_printable_fingers", "no finger could be captured")
