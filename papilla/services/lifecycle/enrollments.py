"""Enrollment states: the lifecycle service decides them, through the state machine (shared/legal/states.py).

EXTRACTED ──no duplicate──▶ ACTIVE (joins the gallery)
          ──duplicate────▶ PENDING_REVIEW (candidates kept; an adjudicator decides)
ACTIVE ──re-enrollment (Rules 406 p.8-9; Law Art.10 p.1)──▶ ARCHIVED (leaves the gallery; never deleted silently)

Every transition is a single-document compare-and-set checked against the
machine's table; a redelivered message finds the state already set and only
completes what is missing (gallery entry, result), so nothing is done twice.
"""
from __future__ import annotations

from papilla.shared import audit, gallery_log, locks, names, results
from papilla.shared.centre import Centre
from papilla.shared.legal import states
from papilla.shared.messages import Candidate, Result
from papilla.shared.names import SUBJECTS
from papilla.shared.store.base import DuplicateKeyError

ENROLLMENTS = names.ENROLLMENTS

#: The transition under which a new record replaces and archives the previous one, per re-enrollment reason.
REENROLLMENT_TRIGGERS = {"irreversible_damage": "recollected", "document_replacement": "document_replaced"}


def hold(centre: Centre, enrollment: dict, subject: dict | None, reason: str, **fields) -> bool:
    """EXTRACTED (or PENDING_REVIEW) → PENDING_REVIEW: a person decides. A blocked subject's record is held under
    the blocking rule (it never joins the gallery while blocked), any other under Law Art.10 p.3."""
    blocked = states.is_blocked(subject)
    return states.move_enrollment(centre.store, enrollment, "held_blocked" if blocked else "held_for_review", subject,
                                  review_reason="subject_blocked" if blocked else reason, **fields)


def activate(centre: Centre, enrollment: dict, *, actor: str, trigger: str = "admitted") -> str:
    """EXTRACTED (`admitted`) / PENDING_REVIEW (`adjudicated_distinct`) → ACTIVE, archiving the subject's previous
    record on re-enrollment. Returns the state reached (PENDING_REVIEW when a person has to decide)."""
    subject_id, enrollment_id = enrollment["subject_id"], enrollment["_id"]
    subject = centre.store.get(SUBJECTS, subject_id)
    if states.is_blocked(subject) and enrollment["state"] == states.EXTRACTED:
        hold(centre, enrollment, subject, "subject_blocked")   # blocking stops changes (Law Art.1 7)): held
        return states.PENDING_REVIEW
    states.check_enrollment(enrollment, trigger, subject)      # refused before anything else changes
    previous = centre.store.find_one(ENROLLMENTS, {"subject_id": subject_id, "state": states.ACTIVE})
    if previous and previous["_id"] != enrollment_id:
        reason = enrollment.get("reenrollment_reason")
        if not reason:
            hold(centre, enrollment, subject, "already_enrolled")
            return states.PENDING_REVIEW
        archive = REENROLLMENT_TRIGGERS[reason]
        if states.move_enrollment(centre.store, previous, archive, subject, archived_for=enrollment_id):
            gallery_log.stamp(centre.store, previous["_id"], subject_id, active=False)
            audit.append(centre, "enrollment_archived", subject_id=subject_id, actor=actor,
                         details={"enrollment_id": previous["_id"], "replaced_by": enrollment_id,
                                  "rule": states.rows(states.ENROLLMENT, archive)[0].citation})
    try:
        changed = states.move_enrollment(centre.store, enrollment, trigger, subject)
    except DuplicateKeyError:  # another ACTIVE record appeared meanwhile: a person decides
        hold(centre, enrollment, subject, "concurrent_active")
        return states.PENDING_REVIEW
    if changed:
        audit.append(centre, "enrollment_activated", subject_id=subject_id, actor=actor,
                     details={"enrollment_id": enrollment_id, "trigger": trigger,
                              "rule": states.rows(states.ENROLLMENT, trigger)[0].citation})
    return states.ACTIVE


#: settle() returns this when the gallery changed after deduplication: deduplicate again.
RECHECK = "RECHECK"


def admitted_since(centre: Centre, seq: int, subject_id: str) -> bool:
    """Did another person join the gallery after the deduplication snapshot `seq`?"""
    return any(c.get("active") and c["subject_id"] != subject_id
               for c in gallery_log.changes_since(centre.store, seq))


def settle(centre: Centre, enrollment_id: str, candidates: list[dict], gallery_seq: int | None = None):
    """Decide an EXTRACTED enrollment from its deduplication candidates, then make sure the rest is done.

    Without candidates the enrollment is admitted under the gallery-admission
    lock, and only if nobody joined the gallery after the snapshot the
    deduplication searched (`gallery_seq`); otherwise RECHECK is returned and
    the caller deduplicates again. So two enrollments of one person under two
    IINs processed at the same time cannot both become ACTIVE.
    """
    enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    if enrollment is None:
        return None  # destroyed meanwhile
    if enrollment["state"] == "EXTRACTED" and not candidates:
        with locks.lease(centre.store, "gallery-admission"):
            if gallery_seq is not None and admitted_since(centre, gallery_seq, enrollment["subject_id"]):
                return RECHECK
            if activate(centre, enrollment, actor="match") == "ACTIVE":
                complete_gallery(centre, centre.store.get(ENROLLMENTS, enrollment_id))
        enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    if enrollment["state"] == "EXTRACTED":
        if candidates:
            if hold(centre, enrollment, centre.store.get(SUBJECTS, enrollment["subject_id"]), "possible_duplicate",
                    candidates=candidates):
                audit.append(centre, "duplicate_flagged", subject_id=enrollment["subject_id"],
                             actor="match", details={"enrollment_id": enrollment_id,
                                                     "candidates": [c["enrollment_id"] for c in candidates],
                                                     "rule": states.rows(states.ENROLLMENT,
                                                                         "held_for_review")[0].citation})
        enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    return complete(centre, enrollment)


def complete_gallery(centre: Centre, enrollment: dict) -> None:
    """The gallery entry of an ACTIVE record; never for a blocked subject (blocking took it out). A block that
    lands while the entry is written may have stamped its records before ours: read again and take it out."""
    if enrollment["state"] != states.ACTIVE:
        return
    entry = centre.store.get(gallery_log.COLLECTION, enrollment["_id"])
    if entry is not None and entry.get("active"):
        return
    eid, sid = enrollment["_id"], enrollment["subject_id"]
    if not states.is_blocked(centre.store.get(SUBJECTS, sid)):
        gallery_log.stamp(centre.store, eid, sid, active=True)
        if states.is_blocked(centre.store.get(SUBJECTS, sid)):
            gallery_log.stamp(centre.store, eid, sid, active=False)


def complete(centre: Centre, enrollment: dict) -> Result:
    """Gallery entry for an ACTIVE record and the enrollment result: both idempotent."""
    complete_gallery(centre, enrollment)
    result = Result(request_id=enrollment["_id"], kind="enrollment", status=enrollment["state"],
                    reason=enrollment.get("review_reason"),
                    rule=(enrollment.get("decision") or {}).get("citation"),   # the rule the centre allowed it under
                    candidates=tuple(Candidate(**c) for c in enrollment.get("candidates", [])))
    return results.deliver(centre.store, centre.publisher, result, enrollment.get("reply_to"))
