"""Who may do what: the role table, each entry with the rule that names who acts (one place).

Every lifecycle command is a request signed by a registered principal; the
centre checks the principal's role here before acting and refuses with the
entry's citation otherwise. Where the law names who acts, the entry cites it;
where it is our own division of duties (adjudication), it says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from papilla.shared.errors import Refusal

from .rules import rule

ROLES = ("operator", "supervisor", "adjudicator", "auditor", "administrator", "authorised_body")
#: Applicants on whose written application destruction is done (Rules 406 p.11).
DESTRUCTION_APPLICANTS = ("subject", "legal_representative", "custodian")


@dataclass(frozen=True)
class Permission:
    roles: tuple[str, ...]
    rule_id: str | None          # the rule naming who acts; None: the centre's own division of duties
    why: str


PERMISSIONS: dict[str, Permission] = {
    "block": Permission(("authorised_body",), "blocking_by_authorised_body",
                        "blocking is done by the authorised state body"),
    "unblock": Permission(("authorised_body",), "blocking_by_authorised_body",
                          "blocking is removed by the authorised state body after verification"),
    "destroy": Permission(("operator", "supervisor"), "destruction_same_day",
                          "destruction is done on the written application received at a branch"),
    "withdraw_consent": Permission(("operator", "supervisor"), "consent_withdrawal",
                                   "consent is withdrawn in writing, received at a branch"),
    "adjudicate": Permission(("adjudicator",), None,
                             "possible duplicates are decided by an adjudicator at the centre (division of duties)"),
    "enroll": Permission(("operator", "supervisor"), "identity_and_consent",
                         "the branch employee identifies the person and takes the consent"),
}


def check_permitted(action: str, role: str | None) -> None:
    """Raise a Refusal citing the rule unless `role` may perform `action`."""
    permission = PERMISSIONS.get(action)
    if permission is None:
        raise Refusal(f"no such action {action!r}", code="unknown_action")
    if role not in permission.roles:
        citation = rule(permission.rule_id).citation if permission.rule_id else None
        raise Refusal(f"a principal with role {role or 'none'} may not {action}: {permission.why} "
                      f"(roles: {', '.join(permission.roles)})", code="role_not_permitted", rule=citation)


def check_applicant(action: str, applicant: str | None) -> None:
    """Destruction and consent withdrawal happen only on the application of the person or their representative."""
    if action in ("destroy", "withdraw_consent") and applicant not in DESTRUCTION_APPLICANTS:
        raise Refusal(f"{action} needs the written application of the person, legal representative or custodian",
                      code="no_application", rule=rule("destruction_same_day").citation)
