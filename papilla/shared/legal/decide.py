"""One decision per application: may this person be registered, under which rule, and why.

`decide(application)` is the only place that reads the legal bases
(`bases.BASES`) and the rules (`rules.RULES`) for an application; the
station calls it before capture, the centre again on the packet it receives
(never trusting the edge), `papilla legal decide` for auditors. Every
decision, allowing ones included, carries the rule id and its citation
("Rules 406, p.4"). The table it implements is in docs/legal.md.

Decisions: ``allowed`` / ``voluntary`` / ``mandatory`` / ``reenroll`` allow
capture; ``exempt``, ``refused``, ``needs_representative``,
``needs_custodian`` and ``verify_instead`` (1:1 verification, not a new
registration) do not.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Refusal
from ..messages import DecisionRecord, EnrollmentPacket
from .bases import EXEMPTIONS, VISA_ONLY_EXEMPTIONS, LegalBasis, basis
from .dates import age_on  # noqa: F401  (one date rule for ages and terms; re-exported)
from .rules import refuse, rule

DECISIONS = ("allowed", "mandatory", "voluntary", "exempt", "refused", "needs_representative", "needs_custodian",
             "verify_instead", "reenroll")
ALLOWING = frozenset({"allowed", "mandatory", "voluntary", "reenroll"})
CITIZENSHIPS = ("citizen", "foreigner", "stateless")
CAPACITIES = ("full", "limited", "incapacitated")
ATTENDEE_ROLES = ("legal_representative", "custodian", "trustee")
FINGER_STATUSES = ("captured", "amputated", "unable_to_print", "injured")
REASONS = ("irreversible_damage", "document_replacement")
ZONE_ENV = "PAPILLA_LEGAL_TZ"


class ApplicationError(ValueError):
    """The application itself is inconsistent (a person's input mistake, not a legal refusal)."""


@dataclass(frozen=True)
class Policy:
    """Parameters of the decision.

    zone:      the applicant's local zone; ages are counted on the local calendar date of the
               application, never the UTC one (default Asia/Almaty, or $PAPILLA_LEGAL_TZ)
    """

    zone: str = "Asia/Almaty"

    @classmethod
    def from_env(cls) -> "Policy":
        return cls(zone=os.environ.get(ZONE_ENV) or cls.zone)

    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ApplicationError(f"unknown time zone {self.zone!r} (e.g. Asia/Almaty)") from None


@dataclass(frozen=True)
class Attendee:
    """A person present with the applicant, and the reference of the written application they brought
    (empty: none brought)."""

    role: str                      # legal_representative | custodian | trustee
    written_application: str = ""


@dataclass(frozen=True)
class Application:
    """What the operator knows when the applicant asks to be registered.

    applied_at: the instant of the application (aware datetime, converted to the local date) or the local
                calendar date itself
    fingers:    status per position 1..10 as seen before capture (captured = present and printable)
    previously_registered: the person already has a record; `reason` says why they are collected again
    """

    basis: str
    birth: date
    applied_at: datetime | date
    citizenship: str = "citizen"
    capacity: str = "full"
    present: tuple[Attendee, ...] = ()
    exemption: str | None = None
    e_visa: bool = False
    fingers: Mapping[int, str] = field(default_factory=lambda: {p: "captured" for p in range(1, 11)})
    previously_registered: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Decision:
    decision: str
    rule: str                      # rule id (shared/legal/rules.py)
    citation: str                  # "Rules 406, p.4"
    code: str                      # reason code, e.g. age_below_18
    detail: str                    # one sentence, never personal data
    basis: str
    age: int
    also: tuple[tuple[str, str], ...] = ()    # (rule id, citation) of rules applied on the way, e.g. p.7

    @property
    def allows(self) -> bool:
        return self.decision in ALLOWING

    def refusal(self) -> Refusal:
        """The Refusal a non-allowing decision raises at the station or the centre (same code and citation)."""
        refusal = refuse(self.rule, self.code, self.detail)
        refusal.decision = self.decision
        return refusal

    def as_dict(self) -> dict:
        return {"decision": self.decision, "rule": self.rule, "citation": self.citation, "code": self.code,
                "detail": self.detail, "basis": self.basis, "age": self.age,
                "also": [{"rule": r, "citation": c} for r, c in self.also]}


def _decision(kind: str, rule_id: str, code: str, detail: str, app: Application, age: int,
              also: tuple[str, ...] = ()) -> Decision:
    """The one constructor of decisions: the citation always comes from the rule."""
    return Decision(kind, rule_id, rule(rule_id).citation, code, detail, app.basis, age,
                    tuple((r, rule(r).citation) for r in also))


def local_date(applied_at: datetime | date, policy: Policy) -> date:
    if isinstance(applied_at, datetime):
        if applied_at.tzinfo is None:
            raise ApplicationError("the time of application needs a UTC offset or zone")
        return applied_at.astimezone(policy.tz()).date()
    return applied_at


def decide(app: Application, policy: Policy = Policy()) -> Decision:
    """The decision for one application (pure: no store, no clock)."""
    legal = _validated(app)
    age = age_on(app.birth, local_date(app.applied_at, policy))
    if age < 0:
        raise ApplicationError("the date of birth is after the date of application")
    for step in (_applicant_steps if legal.law else _public_service_steps):
        found = step(app, legal, age)
        if found is not None:
            return found
    return _fingers(app, legal, age) or _allowing(app, legal, age)


def _validated(app: Application) -> LegalBasis:
    legal = basis(app.basis)       # UnknownBasis (a ValueError) names the known ones
    for value, allowed, what in ((app.citizenship, CITIZENSHIPS, "citizenship"), (app.capacity, CAPACITIES, "capacity"),
                                 (app.reason, REASONS + (None,), "re-collection reason"),
                                 (app.exemption, tuple(EXEMPTIONS) + (None,), "exemption")):
        if value not in allowed:
            raise ApplicationError(f"unknown {what} {value!r} (one of: {', '.join(a for a in allowed if a)})")
    for attendee in app.present:
        if attendee.role not in ATTENDEE_ROLES:
            raise ApplicationError(f"unknown role of a person present {attendee.role!r} "
                                   f"(one of: {', '.join(ATTENDEE_ROLES)})")
    if app.exemption in VISA_ONLY_EXEMPTIONS and app.basis != "visa":
        raise ApplicationError(f"the exemption {app.exemption} (Law Art.10-1 p.2) applies to visa applications only")
    if app.e_visa and app.basis != "visa":
        raise ApplicationError("an e-visa is a visa: use basis visa")
    if app.reason and not app.previously_registered:
        raise ApplicationError("a re-collection reason is given for a person not previously registered")
    bad = {s for s in app.fingers.values() if s not in FINGER_STATUSES}
    if bad or not set(app.fingers) <= set(range(1, 11)):
        raise ApplicationError(f"finger statuses are positions 1-10 each one of: {', '.join(FINGER_STATUSES)}")
    return legal


def _with_application(app: Application, roles: tuple[str, ...]) -> bool:
    return any(a.role in roles and a.written_application.strip() for a in app.present)


# -------------------------------------------------------------- public-service authentication (Rules 406)

def _ps_age(app, legal, age):
    if age < legal.min_age:
        return _decision("refused", "adult_voluntary", "age_below_18", "the applicant is under 18", app, age)


def _ps_custodian(app, legal, age):
    if app.capacity != "full" and not _with_application(app, ("custodian", "trustee")):
        return _decision("needs_custodian", "incapacitated_custodian", "custodian_required",
                         "an applicant of limited or no legal capacity is enrolled only in the presence and on the "
                         "written application of the custodian (trustee)", app, age)


def _ps_previous(app, legal, age):
    if not app.previously_registered:
        return None
    if app.reason == "irreversible_damage":
        return None      # re-collected (p.8), decided after the fingers
    if app.reason == "document_replacement":    # not a ground of p.8: verified against the record instead
        return _decision("verify_instead", "replacement_not_damage", "replacement_not_a_ground",
                         "a replaced identity document is not a ground to collect again (only irreversible damage "
                         "that prevents recognition is): verify the person against their record", app, age)
    return _decision("verify_instead", "public_service_reapplicant_verified", "already_registered",
                     "the applicant is already registered: verify them against their record", app, age)


_public_service_steps = (_ps_age, _ps_custodian, _ps_previous)


# -------------------------------------------------------------- registration under the Law (Art.10, 10-1, 11)

def _law_age(app, legal, age):
    if age < 12:
        return _decision("exempt", "child_under_12_exempt", "child_under_12", "children under 12 are not registered",
                         app, age)
    if legal.max_age is not None and age >= legal.max_age:
        return _decision("refused", legal.rule_id, "not_a_child_12_16",
                         "the child's passport basis is for ages 12 to 15; from 16 use id_document", app, age)
    if age < legal.min_age:
        if legal.kind == "mandatory":
            return _decision("refused", "mandatory_from_16", "below_16",
                             "the mandatory categories are registered from the age of 16", app, age)
        return _decision("refused", "passport_child_voluntary", "child_passport_only",
                         "a child of 12 to 15 is registered only for a passport (basis passport_child_12_16)",
                         app, age)


def _law_applicant(app, legal, age):
    citizen = app.citizenship == "citizen"
    if (legal.applicants == "citizen" and not citizen) or (legal.applicants == "foreign" and citizen):
        who = "citizens" if legal.applicants == "citizen" else "foreigners and stateless persons"
        return _decision("refused", legal.rule_id, "wrong_applicant_category", f"this basis applies to {who} only",
                         app, age)


def _law_exemption(app, legal, age):
    if app.e_visa:
        return _decision("exempt", "e_visa_carve_out", "e_visa",
                         "an e-visa issued without visiting a foreign institution needs no registration", app, age)
    if app.exemption:
        return _decision("exempt", EXEMPTIONS[app.exemption], f"exempt_{app.exemption}",
                         f"exempt from registration ({app.exemption.replace('_', ' ')})", app, age)


def _law_previous(app, legal, age):
    if app.previously_registered and legal.verify_on_reapply and app.reason != "irreversible_damage":
        return _decision("verify_instead", "reapplicant_verified", "already_registered",
                         "a registered person applying again is verified against their record, not registered again",
                         app, age)


def _law_present(app, legal, age):
    if app.capacity == "incapacitated" and not _with_application(app, ("custodian",)):
        return _decision("needs_custodian", "incapacitated_guardian", "custodian_required",
                         "a person found incapacitated is registered only in the presence and on the written "
                         "application of the guardian", app, age)
    if legal.max_age is not None and not _with_application(app, ("legal_representative",)):
        return _decision("needs_representative", "child_legal_representative", "representative_required",
                         "a child of 12 to 15 is registered only in the presence and on the written application of "
                         "the legal representative", app, age)


_applicant_steps = (_law_age, _law_applicant, _law_exemption, _law_previous, _law_present)


# -------------------------------------------------------------- fingers (Rules 406 p.6, p.7, p.10; Law Art.10-1 p.4)

def _fingers(app: Application, legal: LegalBasis, age: int) -> Decision | None:
    statuses = app.fingers
    missing = sorted(set(range(1, 11)) - set(statuses))
    if missing:
        return _decision("refused", "all_existing_fingers", "finger_status_missing",
                         f"no status for finger positions {missing}", app, age)
    values = set(statuses.values())
    if "captured" in values:
        return None
    if "injured" in values:      # temporary: come back when healed, not the p.10 refusal
        return _decision("refused", "injured_fingers_skipped", "postponed_injured",
                         "no finger can be taken now because of temporary injuries: postpone until they heal",
                         app, age)
    if legal.id == "deportation_readmission":    # palm capture (ISO 19794-4 palm positions) is not built here
        return _decision("refused", "palms_deportation", "palms_required",
                         "no finger can be printed: the Law registers this person on the palms, which this system "
                         "does not capture; no record is made here (refer the person to a unit registering palms)",
                         app, age)
    if not legal.law:
        return _decision("refused", "no_printable_fingers", "no_printable_fingers",
                         "no finger could be captured", app, age)
    if values == {"amputated"}:
        return _decision("exempt", "exempt_no_fingers_or_hands", "no_fingers",
                         "a person lacking all fingers or hands is not registered", app, age)
    return _decision("exempt", "exempt_medical_commission", "no_printable_fingers",
                     "no finger can be printed: exempt on the conclusion of a medical advisory commission", app, age)


def _finger_rules(app: Application) -> tuple[str, ...]:
    values = set(app.fingers.values())
    return (("injured_fingers_skipped",) if "injured" in values else ()) + \
        (("printable_fingers_only",) if values & {"amputated", "unable_to_print"} else ())


def _applicant_rules(app: Application, legal: LegalBasis) -> tuple[str, ...]:
    """The rules the decision relied on when a custodian or legal representative applied for the person."""
    if not legal.law:
        return ("incapacitated_custodian",) if app.capacity != "full" else ()
    return (("incapacitated_guardian",) if app.capacity == "incapacitated" else ()) + \
        (("child_legal_representative",) if legal.max_age is not None else ())


def _allowing(app: Application, legal: LegalBasis, age: int) -> Decision:
    also = _applicant_rules(app, legal) + _finger_rules(app)
    if app.previously_registered and app.reason:
        return _decision("reenroll", _recollection_rule(app.reason, legal), app.reason,
                         "collected again; the previous record is archived", app, age, also)
    return _decision(legal.kind, legal.rule_id, legal.kind, f"may be registered: {legal.summary}", app, age, also)


def _recollection_rule(reason: str, legal: LegalBasis) -> str:
    """The rule under which a registered person is collected again for `reason`."""
    if reason == "irreversible_damage":
        return "reregistration_irreversible_damage" if legal.law else "recollection_irreversible_damage"
    if not legal.law:              # Rules 406 p.8 knows only irreversible damage
        return "replacement_not_damage"
    # a new document under a basis whose re-applicants are verified (Art.10 p.3) is registered under the basis
    # itself (Art.10 p.1: "for the first time, as well as for their restoration or replacement")
    return legal.rule_id if legal.verify_on_reapply else "replacement_on_document"


def from_packet(packet: EnrollmentPacket, birth: date, applied_at: datetime | date, *,
                previously_registered: bool) -> Application:
    """The application an enrollment packet states, decided again at the centre (nothing is trusted).

    `previously_registered` is what the centre's own store knows (an ACTIVE enrollment of this person), never
    the station's word; a re-collection reason for a person with no record is refused first
    (`check_recollection`)."""
    applicant = packet.applicant
    return Application(basis=packet.purpose, birth=birth, applied_at=applied_at, citizenship=applicant.citizenship,
                       capacity=applicant.legal_capacity,
                       present=tuple(Attendee(p.role, p.written_application) for p in applicant.present),
                       fingers={f.position: f.status.value for f in packet.fingers},
                       previously_registered=previously_registered,
                       reason=packet.reenrollment_reason if previously_registered else None)


def check_recollection(packet: EnrollmentPacket, previously_registered: bool) -> None:
    """A packet that collects a person again (a re-collection reason) when the centre holds no ACTIVE record of
    them has nothing to replace: refused under the re-collection rule, so the operator enrolls them as a first
    registration or checks the IIN (a mistyped IIN would otherwise open a record for someone else)."""
    if packet.reenrollment_reason and not previously_registered:
        refusal = refuse(_recollection_rule(packet.reenrollment_reason, basis(packet.purpose)),
                         "not_previously_registered",
                         "the packet collects the person again, but the centre holds no active registration of "
                         "this person: enroll them as a first registration, or check the IIN")
        refusal.decision = "refused"
        raise refusal


def record(decision: Decision) -> DecisionRecord:
    return DecisionRecord(decision=decision.decision, rule=decision.rule, citation=decision.citation)
