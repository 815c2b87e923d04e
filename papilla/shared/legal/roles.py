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

ROLES = ("operator", "supervisor", "adjudicator", "auditor", "administrator", "authorised_body", "head_of_unit")
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
    "block_on_demand": Permission(("operator", "supervisor"), "blocking_on_subject_demand",
                                  "the subject's demand to block their data is received in writing at a branch"),
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
    # Retention (services/lifecycle/retention.py) and the subject's access requests (access.py)
    "record_retention_event": Permission(("authorised_body",), "retention_id_document",
                                         "death, missing status and loss of citizenship are recorded by the "
                                         "authorised state body"),
    "approve_destruction_act": Permission(("head_of_unit",), "destruction_act_approved",
                                          "the act of destruction is approved by the head of the unit"),
    "countersign_destruction_act": Permission(("administrator", "supervisor"), None,
                                              "a second person countersigns the act of destruction "
                                              "(two-person rule, the centre's own division of duties)"),
    "receive_access_request": Permission(("operator", "supervisor"), "subject_access",
                                         "the application is received in writing at a branch"),
    "answer_access_request": Permission(("operator", "supervisor"), "subject_access_term",
                                        "the branch answers the application"),
    "refuse_access_request": Permission(("supervisor",), "subject_access_refusal",
                                        "a reasoned refusal is given by a supervisor"),
    # Depersonalization, anonymization, transfers (services/lifecycle/depersonalization.py, anonymized.py, transfers.py)
    "depersonalize": Permission(("authorised_body",), "depersonalization_by_authorised_body",
                                "depersonalization is carried out by the authorised state body"),
    "remove_depersonalization": Permission(("authorised_body",), "depersonalization_by_authorised_body",
                                           "depersonalization is removed by the authorised state body"),
    "transfer": Permission(("authorised_body",), "transfer_to_authorised_bodies",
                           "transfers to courts, law enforcement and foreign states are made by the authorised "
                           "state body"),
    "approve_transfer": Permission(("head_of_unit",), None,
                                   "a transfer is approved by the head of the unit, a second person (two-person "
                                   "rule, the centre's own division of duties)"),
    # The audit trail (commands/audit.py): read and checked by an auditor, not by whoever holds the audit key
    "audit_show": Permission(("auditor",), None,
                             "the audit trail is read by an auditor (the centre's own division of duties)"),
    "audit_verify": Permission(("auditor",), None,
                               "the audit trail is verified by an auditor (the centre's own division of duties)"),
    "anonymized_export": Permission(("administrator",), "anonymization_before_distribution",
                                    "statistics are anonymized by the centre (the operator) before distribution"),
}
#: Acts of destruction at the end of retention need these two, by two distinct principals (Law Art.17 p.3).
DESTRUCTION_ACT_SIGNATURES = ("approve_destruction_act", "countersign_destruction_act")


def check_permitted(action: str, role: str | None) -> None:
    """Raise a Refusal citing the rule unless `role` may perform `action`."""
    permission = PERMISSIONS.get(action)
    if permission is None:
        raise Refusal(f"no such action {action!r}", code="unknown_action")
    if role not in permission.roles:
        citation = rule(permission.rule_id).citation if permission.rule_id else None
        raise Refusal(f"a principal with role {role or 'none'} may not {action}: {permission.why} "
                      f"(roles: {', '.join(permission.roles)})", code="role_not_permitted", rule=citation)


#: Actions taken only on the written application of the person or their representative, and the rule saying so.
ON_APPLICATION = {"destroy": "destruction_same_day", "withdraw_consent": "consent_withdrawal",
                  "block_on_demand": "blocking_on_subject_demand", "receive_access_request": "subject_access"}


def check_applicant(action: str, applicant: str | None) -> None:
    """Destruction, consent withdrawal and the block demand happen only on the application of the person or
    their representative."""
    if action in ON_APPLICATION and applicant not in DESTRUCTION_APPLICANTS:
        raise Refusal(f"{action} needs the written application of the person, legal representative or custodian",
                      code="no_application", rule=rule(ON_APPLICATION[action]).citation)
