"""The MOSIP partner: a registered service, the principal it acts for, and its legal basis (configuration).

A MOSIP registration processor is, to Papilla, a party like any other: a service registered at the centre
(`papilla centre register-service`), which may be revoked; the registered principal whose role authorises its
enrollments and deletions (a supervisor of the registering authority, whose role the role table checks for
`enroll` and `destroy`); and the legal basis its registrations are made under (shared/legal/bases.py).
Nothing here grants a permission the role table does not.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from papilla.shared.config import ConfigError
from papilla.shared.legal.bases import BASES
from papilla.shared.legal.roles import DESTRUCTION_APPLICANTS, check_permitted

from .failures import AbisFailure, Reason
from .responses import PROFILES


@dataclass(frozen=True)
class AbisPartner:
    """The partner's configuration (environment variables in brackets, defaults documented in docs/abis.md).

    service_id:   the registered service MOSIP's requests come from [PAPILLA_ABIS_SERVICE]
    principal_id: the registered principal (role operator or supervisor) on whose authority inserts and
                  deletes are made [PAPILLA_ABIS_PRINCIPAL]
    legal_basis:  the basis of its registrations [PAPILLA_ABIS_LEGAL_BASIS, default id_document]
    profile:      response shape, "spec" (MOSIP's ABIS API) or "kit" (the testing kit) [PAPILLA_ABIS_PROFILE]
    max_results:  candidates returned when identify names no maxResults [PAPILLA_ABIS_MAX_RESULTS, 10]
    delete_on_application_of: whose application a MOSIP delete carries out (Rules 406 p.11: the person, a
                  legal representative or a custodian) [PAPILLA_ABIS_DELETE_APPLICANT, default subject]
    """

    service_id: str
    principal_id: str
    legal_basis: str = "id_document"
    profile: str = "spec"
    max_results: int = 10
    delete_on_application_of: str = "subject"

    @classmethod
    def from_env(cls) -> "AbisPartner":
        service, principal = os.environ.get("PAPILLA_ABIS_SERVICE"), os.environ.get("PAPILLA_ABIS_PRINCIPAL")
        if not service or not principal:
            raise ConfigError("set PAPILLA_ABIS_SERVICE (the MOSIP partner's registered service id) and "
                              "PAPILLA_ABIS_PRINCIPAL (the registered principal it acts for)")
        partner = cls(service, principal, os.environ.get("PAPILLA_ABIS_LEGAL_BASIS", "id_document"),
                      os.environ.get("PAPILLA_ABIS_PROFILE", "spec"),
                      _int_env("PAPILLA_ABIS_MAX_RESULTS", 10),
                      os.environ.get("PAPILLA_ABIS_DELETE_APPLICANT", "subject"))
        partner.check_values()
        return partner

    def check_values(self) -> None:
        if self.legal_basis not in BASES:
            raise ConfigError(f"PAPILLA_ABIS_LEGAL_BASIS must be one of: {', '.join(BASES)}")
        if self.profile not in PROFILES:
            raise ConfigError(f"PAPILLA_ABIS_PROFILE must be one of: {', '.join(PROFILES)}")
        if self.delete_on_application_of not in DESTRUCTION_APPLICANTS:
            raise ConfigError(f"PAPILLA_ABIS_DELETE_APPLICANT must be one of: {', '.join(DESTRUCTION_APPLICANTS)}")
        if not 1 <= self.max_results <= 1000:
            raise ConfigError("PAPILLA_ABIS_MAX_RESULTS must be 1..1000")


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return default if value in (None, "") else int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None


def check_registered(senders, partner: AbisPartner, action: str | None = None) -> str | None:
    """Raise failure 4 unless the service is a registered, active service and the principal an active principal
    whose role may perform `action` (enroll, destroy); return the principal's role."""
    service = senders.get(partner.service_id)
    if service is None or service.kind != "service" or not service.active:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE,
                          f"{partner.service_id} is not an active registered service at the centre")
    principal = senders.get(partner.principal_id)
    if principal is None or principal.kind != "principal" or not principal.active:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE,
                          f"{partner.principal_id} is not an active registered principal at the centre")
    if action is not None:
        check_permitted(action, principal.role)     # a Refusal with the rule's citation
    return principal.role
