"""The subject's right to know (Rules 395 p.15-16): requests logged on receipt, answered or refused in 3 business days.

A request is received at a branch (signed by the operator or supervisor who
took it), logged at once with its due date: the 3rd business day after
receipt on the Kazakhstan calendar (`shared.legal.business_days`). The answer
is an `AccessReport`: whether data are held, the categories held, purposes,
sources (which station, when), legal basis, processing methods and the
storage term. It is built from the records' metadata only: biometric data are
never read, never decrypted and never part of a report. A refusal is
reasoned (a closed list of reasons) and due in the same term. Requests still
open after their due date are `overdue` (the ops gauge in `lifecycle_metrics`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Literal

from papilla.shared import audit, clock, names
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.bases import basis
from papilla.shared.legal.business_days import BusinessCalendar
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Identifier, _Model
from papilla.shared.principals import check_signed_by

from . import consents
from .access_receipts import ACCESS, log_receipt
from .retention import RETENTION, destroy_date, valid_iin
from .subjects import is_depersonalized

ENROLLMENTS, SUBJECTS, EVENTS = names.ENROLLMENTS, names.SUBJECTS, names.RETENTION_EVENTS

#: Reasons a request may be refused, each a sentence the applicant reads (Rules 395 p.16 para.2).
REFUSAL_REASONS = {
    "identity_not_established": "the applicant's identity could not be established from the documents presented",
    "representative_authority_not_proven": "the applicant did not prove their authority to act for the person",
    "restricted_by_law": "a law of the Republic of Kazakhstan restricts access to this information",
}

PROCESSING = ("scanned inkless at a branch station, signed and sent encrypted to the processing centre",
              "minutiae templates extracted from the images at the centre",
              "compared one-to-many against the registry to detect a second enrollment of the same person",
              "compared one-to-one or one-to-many when an authorised service asks to confirm or establish identity",
              "stored encrypted under a key of this person alone (AES-256-GCM); never stored outside Kazakhstan")


class AccessRequest(_Model):
    """An application received at a branch, signed by the employee who received it."""

    schema_: Literal["papilla.access-request/1"] = "papilla.access-request/1"
    request_id: Identifier
    iin: str
    applicant: Literal["subject", "legal_representative", "custodian"] = "subject"
    channel: Literal["written", "electronic"] = "written"
    principal_id: Identifier
    principal_signature: bytes | None = None


class AccessDecision(_Model):
    """The answer (a report) or a reasoned refusal, signed by the employee who gives it."""

    schema_: Literal["papilla.access-decision/1"] = "papilla.access-decision/1"
    request_id: Identifier
    decision: Literal["answer", "refuse"]
    reason: Literal[tuple(REFUSAL_REASONS)] | None = None      # type: ignore[valid-type]
    principal_id: Identifier
    principal_signature: bytes | None = None


def receive(centre: Centre, request: AccessRequest, calendar: BusinessCalendar | None = None) -> dict:
    """Log the request on receipt, with its due date; idempotent by request id. A refused receipt (wrong role,
    a signature that does not verify, an invalid IIN) is written to the trail: who tried and why, no IIN."""
    try:
        return _receive(centre, request, calendar)
    except Refusal as refusal:
        audit.record_refusal(centre, "access_request_receipt_refused", actor=request.principal_id,
                             code=refusal.code, rule=refusal.rule, request_id=request.request_id)
        raise


def _receive(centre: Centre, request: AccessRequest, calendar: BusinessCalendar | None) -> dict:
    check_signed_by(centre.senders, request.principal_id, request.principal_signature, request,
                    "receive_access_request")
    valid_iin(request.iin)
    return log_receipt(centre, request.request_id, centre.hasher.hash(request.iin), applicant=request.applicant,
                       channel=request.channel, principal_id=request.principal_id, received=clock.now(),
                       calendar=calendar)


@dataclass(frozen=True)
class HeldRecord:
    record_id: str                   # the enrollment's id (pseudonymous)
    status: str                      # ACTIVE, ARCHIVED, PENDING_REVIEW …
    legal_basis: str
    collected_under: str
    purposes: tuple[str, ...]
    source: str                      # which station collected it
    collected_on: str                # when (date of registration)
    categories: tuple[str, ...]
    processing: tuple[str, ...]
    storage_term: str
    term_rule: str


@dataclass(frozen=True)
class AccessReport:
    request_id: str
    data_held: bool
    records: tuple[HeldRecord, ...]
    blocked: bool
    events_recorded: tuple[str, ...]   # e.g. "citizenship_lost": facts that started a storage term
    received_on: str
    due_on: str
    answered_on: str
    rule: str
    consent: str = "NONE"              # GIVEN / WITHDRAWN / NONE, read from the consent records (consents.py)
    depersonalized: bool = False       # the link to the person is sealed under the depersonalization key

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2)


def decide(centre: Centre, decision: AccessDecision) -> AccessReport | dict:
    """Answer (returns the report) or refuse with a reason (returns the stored refusal). A refused decision
    (wrong role, bad signature, unknown or already decided request) is written to the trail."""
    try:
        return _decide(centre, decision)
    except Refusal as refusal:
        audit.record_refusal(centre, "access_decision_refused", actor=decision.principal_id, code=refusal.code,
                             rule=refusal.rule, request_id=decision.request_id, decision=decision.decision)
        raise


def _decide(centre: Centre, decision: AccessDecision) -> AccessReport | dict:
    action = "answer_access_request" if decision.decision == "answer" else "refuse_access_request"
    check_signed_by(centre.senders, decision.principal_id, decision.principal_signature, decision, action)
    request = centre.store.get(ACCESS, decision.request_id)
    if request is None:
        raise Refusal(f"no access request {decision.request_id}", code="unknown_access_request")
    if request["state"] != "received":
        raise Refusal(f"access request {request['_id']} was already {request['state']}", code="already_decided")
    today = clock.today()
    if decision.decision == "refuse":
        return _refuse(centre, request, decision, today)
    report = build_report(centre, request, today)
    _close(centre, request, "answered", decision.principal_id, today,
           report_sha256=hashlib.sha256(report.to_json().encode()).hexdigest())
    return report


def _refuse(centre: Centre, request: dict, decision: AccessDecision, today: date) -> dict:
    if decision.reason is None:
        raise Refusal("a refusal must give its reason", code="refusal_without_reason",
                      rule=rule("subject_access_refusal").citation)
    _close(centre, request, "refused", decision.principal_id, today, reason=decision.reason)
    return {"request_id": request["_id"], "refused": True, "reason": decision.reason,
            "explanation": REFUSAL_REASONS[decision.reason], "rule": rule("subject_access_refusal").citation}


def _close(centre: Centre, request: dict, state: str, actor: str, today: date, **fields) -> None:
    on_time = today.isoformat() <= request["due_on"]
    if centre.store.update(ACCESS, {"_id": request["_id"], "state": "received"},
                           set={"state": state, "decided_at": clock.now().isoformat(), "decided_by": actor,
                                "on_time": on_time, **fields}) != 1:
        raise Refusal(f"access request {request['_id']} was decided meanwhile", code="already_decided")
    audit.append(centre, f"access_request_{state}", subject_id=request["subject_id"], actor=actor,
                 details={"request_id": request["_id"], "on_time": on_time, "reason": fields.get("reason"),
                          "rule": rule("subject_access_refusal" if state == "refused" else "subject_access").citation})


def build_report(centre: Centre, request: dict, today: date) -> AccessReport:
    """What is held about the person, from metadata only (no biometric field is read)."""
    sid = request.get("subject_id")
    subject = centre.store.get(SUBJECTS, sid) if sid else None
    enrollments = centre.store.find(ENROLLMENTS, {"subject_id": sid}, sort=[("created_at", 1)]) if subject else []
    events = centre.store.find(EVENTS, {"subject_id": sid}) if subject else []
    return AccessReport(
        request_id=request["_id"], data_held=bool(enrollments), records=tuple(_held(centre, e) for e in enrollments),
        blocked=states.is_blocked(subject), events_recorded=tuple(sorted({e["event"] for e in events})),
        received_on=clock.local_date(datetime.fromisoformat(request["received_at"])).isoformat(), due_on=request["due_on"],
        answered_on=today.isoformat(), rule=f"{rule('subject_access').citation}; {rule('subject_access_term').citation}",
        consent=consents.consent_state(centre, sid).state if subject else consents.NONE,
        depersonalized=is_depersonalized(subject))


def _held(centre: Centre, enrollment: dict) -> HeldRecord:
    basis_id = enrollment.get("legal_basis") or "public_service_authentication"
    legal = basis(basis_id)
    term = centre.store.get(RETENTION, enrollment["_id"])
    captured = sum(1 for s in enrollment.get("finger_status", {}).values() if s == "captured")
    categories = ("identification number (IIN), encrypted", "full name, encrypted",
                  "written consent (form, date, signatory), encrypted",
                  "status of each of the ten finger positions (captured, amputated, injured …)",
                  f"fingerprint images of {captured} finger(s), encrypted",
                  f"minutiae templates of {captured} finger(s), encrypted")
    return HeldRecord(
        record_id=enrollment["_id"], status=enrollment["state"], legal_basis=legal.summary,
        collected_under=legal.collected_under, purposes=legal.purposes, source=_source(enrollment),
        collected_on=(term or {}).get("registered_on") or enrollment.get("captured_at", enrollment["created_at"])[:10],
        categories=categories,
        processing=PROCESSING, storage_term=storage_term_text(centre, legal.term.kind, term),
        term_rule=legal.term.citation)


def _source(enrollment: dict) -> str:
    if "station_id" in enrollment:
        return f"station {enrollment['station_id']}"
    return ("a branch station; which one is sealed with the identifying fields under the depersonalization key "
            "(Law Art.9 p.1)")


def storage_term_text(centre: Centre, kind: str, term: dict | None) -> str:
    if kind == "until_application":
        return ("no fixed term: kept until the person applies for destruction (done on the day of the "
                "application) or withdraws consent")
    if kind == "fixed" and term:
        return (f"kept until {term['archive_on']} (ten years from registration), then in the archive until "
                f"{term['destroy_on']} (forty years), then destroyed")
    when = destroy_date(centre, term) if term else None
    if when is not None:
        return f"kept until {when.isoformat()} (the date the person would turn one hundred), then destroyed"
    return ("no term runs while the person is alive and a citizen; once death, missing status or loss of "
            "citizenship is recorded, kept until the date the person would turn one hundred")


def overdue(centre: Centre, today: date | None = None) -> list[str]:
    """Ids of requests still open after their due date (no personal data)."""
    today = today or clock.today()
    return [r["_id"] for r in centre.store.find(ACCESS, {"state": "received", "due_on": {"$lt": today.isoformat()}},
                                                 sort=[("due_on", 1)])]
