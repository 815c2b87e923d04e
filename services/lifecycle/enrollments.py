"""Enrollment states: the lifecycle service decides them.

EXTRACTED ──no duplicate──▶ ACTIVE (joins the gallery)
          ──duplicate────▶ PENDING_REVIEW (candidates kept; an adjudicator decides)
ACTIVE ──re-enrollment (Rules 406 p.8-9)──▶ ARCHIVED (leaves the gallery; never deleted silently)

Every transition is a single-document compare-and-set; a redelivered
message finds the state already set and only completes what is missing
(gallery entry, result), so nothing is done twice.
"""
from __future__ import annotations

from papilla.shared import audit, gallery_log, locks, results
from papilla.shared.centre import Centre
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Candidate, Result
from papilla.shared.store.base import DuplicateKeyError

ENROLLMENTS = "enrollments"


def _transition(centre: Centre, enrollment_id: str, src: str, dst: str, **fields) -> bool:
    return centre.store.update(ENROLLMENTS, {"_id": enrollment_id, "state": src}, set={"state": dst, **fields}) == 1


def activate(centre: Centre, enrollment: dict, *, actor: str) -> str:
    """EXTRACTED/PENDING_REVIEW → ACTIVE, archiving the subject's previous record on re-enrollment."""
    subject_id, enrollment_id = enrollment["subject_id"], enrollment["_id"]
    subject = centre.store.get("subjects", subject_id)
    if subject is not None and subject.get("blocked"):   # blocking stops changes (Law Art.1 7): a person decides later
        _transition(centre, enrollment_id, enrollment["state"], "PENDING_REVIEW", review_reason="subject_blocked")
        return "PENDING_REVIEW"
    previous = centre.store.find_one(ENROLLMENTS, {"subject_id": subject_id, "state": "ACTIVE"})
    if previous and previous["_id"] != enrollment_id:
        if not enrollment.get("reenrollment_reason"):
            _transition(centre, enrollment_id, enrollment["state"], "PENDING_REVIEW",
                        review_reason="already_enrolled")
            return "PENDING_REVIEW"
        if _transition(centre, previous["_id"], "ACTIVE", "ARCHIVED", archived_for=enrollment_id):
            gallery_log.stamp(centre.store, previous["_id"], subject_id, active=False)
            audit.append(centre, "enrollment_archived", subject_id=subject_id, actor=actor,
                         details={"enrollment_id": previous["_id"], "replaced_by": enrollment_id,
                                  "rule": rule(REENROLLMENT_RULES[enrollment["reenrollment_reason"]]).citation})
    try:
        changed = _transition(centre, enrollment_id, enrollment["state"], "ACTIVE")
    except DuplicateKeyError:  # another ACTIVE record appeared meanwhile: a person decides
        _transition(centre, enrollment_id, enrollment["state"], "PENDING_REVIEW", review_reason="concurrent_active")
        return "PENDING_REVIEW"
    if changed:
        audit.append(centre, "enrollment_activated", subject_id=subject_id, actor=actor,
                     details={"enrollment_id": enrollment_id})
    return "ACTIVE"


#: The rule under which a new record replaces and archives the previous one, per re-enrollment reason.
REENROLLMENT_RULES = {"irreversible_damage": "recollection_irreversible_damage",
                      "document_replacement": "replacement_on_document"}

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
            if _transition(centre, enrollment_id, "EXTRACTED", "PENDING_REVIEW",
                           candidates=candidates, review_reason="possible_duplicate"):
                audit.append(centre, "duplicate_flagged", subject_id=enrollment["subject_id"],
                             actor="match", details={"enrollment_id": enrollment_id,
                                                     "candidates": [c["enrollment_id"] for c in candidates]})
        enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    return complete(centre, enrollment)


def complete_gallery(centre: Centre, enrollment: dict) -> None:
    if enrollment["state"] == "ACTIVE":
        entry = centre.store.get(gallery_log.COLLECTION, enrollment["_id"])
        if entry is None or not entry.get("active"):
            gallery_log.stamp(centre.store, enrollment["_id"], enrollment["subject_id"], active=True)


def complete(centre: Centre, enrollment: dict) -> Result:
    """Gallery entry for an ACTIVE record and the enrollment result: both idempotent."""
    complete_gallery(centre, enrollment)
    result = Result(request_id=enrollment["_id"], kind="enrollment", status=enrollment["state"],
                    reason=enrollment.get("review_reason"),
                    rule=(enrollment.get("decision") or {}).get("citation"),   # the rule the centre allowed it under
                    candidates=tuple(Candidate(**c) for c in enrollment.get("candidates", [])))
    return results.deliver(centre.store, centre.publisher, result, enrollment.get("reply_to"))
