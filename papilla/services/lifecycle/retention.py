"""Retention: each enrollment's storage term, the events that start one, and the sweep.

Pure domain code over a `Centre` (`papilla lifecycle sweep` and a periodic
actor only call `sweep`). One `retention` document per enrollment, written at
enrollment from its legal basis (`shared.legal.bases`):

    held ──archive_on (Art.15 p.2)──▶ archived ──destroy_on (Art.17 p.2)──▶ proposed ─act approved─▶ gone
    held ──destroy_on (id documents, after an event: Art.15 p.1)──────────▶ proposed

`next_on` is the ISO date of the next step, indexed, so a sweep reads only
what is due. For identity-document registrants the exact date is the 100th
birthday: `next_on` keeps only 1 January of that year and the exact date is
encrypted under the subject's data key, so the store does not show a birth
date in clear. The sweep archives what is due and *proposes* destruction; it
never destroys: that needs an act approved by the head of the unit and a
second person (`destruction_acts`, Law Art.17 p.3). A blocked subject is
left as it is (Law Art.1 sub.7). Every step lands in the audit chain.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Literal

from papilla.shared import audit, clock, gallery_log, names
from papilla.shared.centre import Centre
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin, validate_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.bases import TERM_EVENTS, basis, event_destroy_on, fixed_dates
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Identifier, _Model
from papilla.shared.principals import check_signed_by
from papilla.shared.store.base import DuplicateKeyError

from . import destruction_acts

RETENTION, EVENTS = names.RETENTION, names.RETENTION_EVENTS
ENROLLMENTS, SUBJECTS = names.ENROLLMENTS, names.SUBJECTS


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def record_term(centre: Centre, enrollment_id: str, subject_id: str, basis_id: str, captured_at: datetime) -> dict:
    """The enrollment's term, computed from its legal basis and registration date (idempotent)."""
    term = basis(basis_id).term
    registered_on = clock.local_date(captured_at)
    dates = fixed_dates(term, registered_on)
    doc = {"_id": enrollment_id, "subject_id": subject_id, "basis": basis_id, "term": term.kind,
           "registered_on": registered_on.isoformat(), "stage": "held",
           "archive_on": _iso(dates.archive_on), "destroy_on": _iso(dates.destroy_on),
           "next_on": _iso(dates.archive_on or dates.destroy_on), "rule": term.citation}
    try:
        centre.store.insert(RETENTION, doc)
    except DuplicateKeyError:   # a redelivered packet: the term was computed once
        return centre.store.get(RETENTION, enrollment_id)
    return doc


# ---------------------------------------------------------------- events that start a term (Law Art.15 p.1)

class RetentionEvent(_Model):
    """Death, missing status or loss of citizenship, recorded and signed by the authorised body."""

    schema_: Literal["papilla.retention-event/1"] = "papilla.retention-event/1"
    event_id: Identifier
    iin: str
    event: Literal[TERM_EVENTS]            # type: ignore[valid-type]
    occurred_on: date                      # date of death, of the court's decision, of the loss of citizenship
    document_ref: str                      # e.g. the death record or court decision number
    principal_id: Identifier
    principal_signature: bytes | None = None


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    subject_id: str
    terms_started: int      # enrollments whose term now runs
    rule: str


def record_event(centre: Centre, act: RetentionEvent) -> EventOutcome:
    """Record a term-starting event and start the term of the subject's identity-document enrollments."""
    check_signed_by(centre.senders, act.principal_id, act.principal_signature, act, "record_retention_event")
    citation = rule("retention_id_document").citation
    valid_iin(act.iin)
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": centre.hasher.hash(act.iin)})
    if subject is None:
        raise Refusal("no dactyloscopic information is held for this person", code="not_enrolled", rule=citation)
    sid, recorded = subject["_id"], clock.now()
    if centre.store.get(EVENTS, act.event_id) is None:
        details = centre.cipher.encrypt(sid, EVENTS, act.event_id, "details", _event_details(act))
        try:
            centre.store.insert(EVENTS, {"_id": act.event_id, "subject_id": sid, "event": act.event,
                                         "recorded_at": recorded.isoformat(), "recorded_by": act.principal_id,
                                         "details": details, "rule": citation})
        except DuplicateKeyError:
            pass
        audit.append(centre, "retention_event_recorded", subject_id=sid, actor=act.principal_id,
                     details={"event_id": act.event_id, "event": act.event, "rule": citation})
    birth, today = birth_date_from_iin(act.iin), clock.local_date(recorded)
    started = sum(_start_term(centre, doc, birth, today) for doc in centre.store.find(RETENTION, {"subject_id": sid}))
    return EventOutcome(act.event_id, sid, started, citation)


def valid_iin(iin: str) -> str:
    try:
        return validate_iin(iin)
    except InvalidIIN as exc:
        raise Refusal(f"IIN invalid: {exc}", code="invalid_iin") from None


def _event_details(act: RetentionEvent) -> bytes:
    return json.dumps({"occurred_on": act.occurred_on.isoformat(), "document_ref": act.document_ref}).encode()


def _start_term(centre: Centre, doc: dict, birth: date, today: date) -> bool:
    term = basis(doc["basis"]).term
    if term.kind != "until_age_after_event" or doc.get("destroy_on") or doc["stage"] != "held":
        return False
    exact = event_destroy_on(term, birth, today)
    coarse = max(date(exact.year, 1, 1), today)       # never later than the exact date, reveals only the year
    sealed = centre.cipher.encrypt(doc["subject_id"], RETENTION, doc["_id"], "destroy_exact", exact.isoformat().encode())
    return centre.store.update(RETENTION, {"_id": doc["_id"], "stage": "held"},
                               set={"destroy_on": "sealed", "destroy_exact": sealed, "next_on": coarse.isoformat()}) == 1


def destroy_date(centre: Centre, doc: dict) -> date | None:
    """The exact destruction date of a retention document (decrypting the sealed one of id documents)."""
    if doc.get("destroy_exact"):
        raw = centre.cipher.decrypt(doc["subject_id"], RETENTION, doc["_id"], "destroy_exact", doc["destroy_exact"])
        return date.fromisoformat(raw.decode())
    return date.fromisoformat(doc["destroy_on"]) if doc.get("destroy_on") else None


# ---------------------------------------------------------------- the sweep

@dataclass
class SweepReport:
    today: date
    archived: list[str] = field(default_factory=list)          # enrollment ids moved to the archive
    proposed: list[str] = field(default_factory=list)          # enrollment ids proposed for destruction
    act_id: str | None = None                                  # the act proposing them
    held_blocked: list[str] = field(default_factory=list)      # due, but the subject is blocked
    not_yet: int = 0                                           # in the due year, before the exact date
    cleared: int = 0                                           # terms of records already destroyed on application
    executed: list[str] = field(default_factory=list)          # approved acts carried out by this sweep


def due(centre: Centre, today: date) -> list[dict]:
    """Retention documents whose next step is due on or before `today`."""
    return centre.store.find(RETENTION, {"next_on": {"$lte": today.isoformat()}}, sort=[("next_on", 1)])


def sweep(centre: Centre, *, today: date | None = None,
          on_item: Callable[[], None] | None = None) -> SweepReport:
    """Archive what is due, propose destruction of what is due, carry out approved acts."""
    today = today or clock.today()
    report = SweepReport(today=today)
    for doc in due(centre, today):
        _step(centre, doc, today, report)
        if on_item:
            on_item()
    if report.proposed:
        report.act_id = destruction_acts.propose(centre, report.proposed, today)
    for act_id in destruction_acts.approved(centre):
        destruction_acts.execute(centre, act_id)
        report.executed.append(act_id)
    audit.append(centre, "retention_sweep", subject_id=None, actor="retention-sweep",
                 details={"today": today.isoformat(), "archived": len(report.archived),
                          "proposed": len(report.proposed), "act_id": report.act_id,
                          "held_blocked": len(report.held_blocked), "executed": report.executed})
    return report


def _step(centre: Centre, doc: dict, today: date, report: SweepReport) -> None:
    subject = centre.store.get(SUBJECTS, doc["subject_id"])
    if subject is None or centre.store.get(ENROLLMENTS, doc["_id"]) is None:
        report.cleared += centre.store.delete(RETENTION, {"_id": doc["_id"]})   # destroyed on application
        return
    if states.is_blocked(subject):
        report.held_blocked.append(doc["_id"])
        return
    if doc["stage"] == "held" and doc.get("archive_on") and doc["archive_on"] <= today.isoformat():
        _archive(centre, doc)
        report.archived.append(doc["_id"])
        doc = centre.store.get(RETENTION, doc["_id"])
    if doc["stage"] not in ("held", "archived") or not doc.get("destroy_on"):
        return
    when = destroy_date(centre, doc)
    if when is None or when > today:
        report.not_yet += 1
        return
    if centre.store.update(RETENTION, {"_id": doc["_id"], "stage": doc["stage"]},
                           set={"stage": "proposed", "next_on": None}) == 1:
        report.proposed.append(doc["_id"])


def _archive(centre: Centre, doc: dict) -> None:
    """Ten years passed: the record leaves the gallery for the archive (Law Art.15 p.2)."""
    citation = rule("retention_archive_forty_years").citation
    eid, sid = doc["_id"], doc["subject_id"]
    # ACTIVE → ARCHIVED; other states (e.g. already archived on re-collection) keep their state
    enrollment = centre.store.get(ENROLLMENTS, eid)
    if enrollment is not None and enrollment["state"] == states.ACTIVE and states.move_enrollment(
            centre.store, enrollment, "retention_archived", centre.store.get(SUBJECTS, sid),
            archived_reason="retention_term"):
        gallery_log.stamp(centre.store, eid, sid, active=False)
    centre.store.update(RETENTION, {"_id": eid, "stage": "held"},
                        set={"stage": "archived", "next_on": doc.get("destroy_on")})
    audit.append(centre, "retention_archived", subject_id=sid, actor="retention-sweep",
                 details={"enrollment_id": eid, "basis": doc["basis"], "rule": citation})
