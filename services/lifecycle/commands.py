"""Lifecycle commands: blocking, unblocking, destruction, adjudication.

Each command is a stored job (from a sealed service request), answered once
with a result that cites the rule applied, and recorded in the audit trail.
"""
from __future__ import annotations

from datetime import date, datetime

from papilla.shared import audit, clock, deadletters, gallery_log, metrics, results
from papilla.shared.centre import Centre
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result
from papilla.shared.names import TEMPLATES

from . import depersonalization, transfers
from .enrollments import activate, complete

ENROLLMENTS, SUBJECTS, BIOMETRICS, JOBS = "enrollments", "subjects", "biometrics", "jobs"
#: Commands that are a person's application to destroy their data, carried out on the day received
#: (Rules 406 p.11; a withdrawal of consent, Rules 395 p.6, destroys the same way).
DESTRUCTION_APPLICATIONS = ("destroy", "withdraw_consent")


def received_on(job: dict) -> date:
    """The local day (Kazakhstan) the application was received: when the branch's service sealed the command
    (`received_at`, set by the intake), else when the centre stored its job (`created_at`)."""
    return clock.local_date(datetime.fromisoformat(job.get("received_at") or job["created_at"]))


def overdue_applications(centre: Centre, today: date | None = None) -> int:
    """Destruction applications received on an earlier day and still not carried out (Rules 406 p.11).

    A job stays until it is answered (destroyed, or refused with a rule, e.g. a blocked subject), so one still
    here past its day is late: its message failed, is being retried, or waits on a dead-letter queue. Request
    jobs of commands never expire by TTL, so an application cannot vanish from this count unanswered."""
    today = today or clock.today()
    pending = centre.store.find(JOBS, {"kind": "lifecycle", "state": "pending"})
    return sum(1 for job in pending if job.get("action") in DESTRUCTION_APPLICATIONS
               and (job.get("received_at") or job.get("created_at")) and received_on(job) < today)


def _subject(centre: Centre, job: dict) -> dict | None:
    return centre.store.find_one(SUBJECTS, {"iin_hash": job["iin_hash"]}) if job.get("iin_hash") else None


def _result(job: dict, status: str, *, reason: str | None = None, rule_id: str | None = None) -> Result:
    return Result(request_id=job["_id"], kind="lifecycle", status=status, reason=reason,
                  rule=rule(rule_id).citation if rule_id else None)


def block(centre: Centre, job: dict, *, blocked: bool) -> Result:
    subject = _subject(centre, job)
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    centre.store.update(SUBJECTS, {"_id": subject["_id"]}, set={"blocked": blocked})
    for enrollment in centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"], "state": "ACTIVE"}):
        gallery_log.stamp(centre.store, enrollment["_id"], subject["_id"], active=not blocked)
    audit.append(centre, "blocked" if blocked else "unblocked", subject_id=subject["_id"],
                 actor=job["principal_id"], details={"request_id": job["_id"]})
    return _result(job, "BLOCKED" if blocked else "UNBLOCKED", rule_id="blocking")


def destroy(centre: Centre, job: dict, *, reason_code: str, rule_id: str) -> Result:
    """Same-day destruction (Rules 406 p.11; consent withdrawal, Rules 395 p.6): gallery first, then the data
    key, then the documents. A blocked subject is not destroyed: blocking stops destruction until it is lifted
    (Law Art.1 7); the application is recorded and refused with that citation (docs/legal.md)."""
    subject = _subject(centre, job)
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    sid = subject["_id"]
    if subject.get("blocked"):
        audit.append(centre, "destruction_deferred", subject_id=sid, actor=job["principal_id"],
                     details={"request_id": job["_id"], "basis": reason_code,
                              "rule": rule("blocking_stops_processing").citation})
        return _result(job, "REFUSED", reason="subject_blocked", rule_id="blocking_stops_processing")
    enrollment_ids = [e["_id"] for e in centre.store.find(ENROLLMENTS, {"subject_id": sid})]
    for enrollment_id in enrollment_ids:
        gallery_log.stamp(centre.store, enrollment_id, sid, active=False)
    centre.cipher.shred(sid)  # crypto-shredding: copies of the data (backups, replicas) become unreadable too
    deadletters.forget_bodies(centre.store, centre.cipher, request_ids=enrollment_ids)
    centre.store.delete(results.COLLECTION, {"_id": {"$in": enrollment_ids}})
    centre.store.delete(BIOMETRICS, {"subject_id": sid})
    centre.store.delete(TEMPLATES, {"subject_id": sid})
    centre.store.delete(ENROLLMENTS, {"subject_id": sid})
    centre.store.delete(SUBJECTS, {"_id": sid})
    centre.store.release_deleted()
    audit.append(centre, "destroyed", subject_id=sid, actor=job["principal_id"],
                 details={"request_id": job["_id"], "basis": reason_code,
                          "on_application_of": job.get("on_application_of")})
    if job.get("created_at"):   # an application received as a request: was it done the day it came in?
        metrics.count_destruction(same_day=received_on(job) >= clock.today())
    return _result(job, "DESTROYED", rule_id=rule_id)


def adjudicate(centre: Centre, job: dict) -> Result:
    enrollment = centre.store.get(ENROLLMENTS, job.get("enrollment_id") or "")
    if enrollment is None or enrollment["state"] != "PENDING_REVIEW":
        return _result(job, "REFUSED", reason="not_pending_review")
    if job.get("decision") not in ("distinct_person", "same_person_reject"):
        return _result(job, "REFUSED", reason="decision_required")
    subject = centre.store.get(SUBJECTS, enrollment["subject_id"])
    if subject is not None and subject.get("blocked"):   # a blocked person never re-enters the gallery
        return _result(job, "REFUSED", reason="subject_blocked", rule_id="blocking_stops_processing")
    if job.get("decision") == "distinct_person":
        state = activate(centre, dict(enrollment, reenrollment_reason=enrollment.get("reenrollment_reason")),
                         actor=job["principal_id"])
        complete(centre, centre.store.get(ENROLLMENTS, enrollment["_id"]))
    else:
        centre.store.update(ENROLLMENTS, {"_id": enrollment["_id"], "state": "PENDING_REVIEW"},
                            set={"state": "REJECTED"})
        state = "REJECTED"
    audit.append(centre, "adjudicated", subject_id=enrollment["subject_id"], actor=job["principal_id"],
                 details={"enrollment_id": enrollment["_id"], "decision": job.get("decision"), "state": state})
    return _result(job, state)


def _compute(centre: Centre, job: dict) -> Result:
    action = job["action"]
    if action in ("block", "unblock"):
        return block(centre, job, blocked=action == "block")
    if action == "destroy":
        return destroy(centre, job, reason_code="application", rule_id="destruction_same_day")
    if action == "withdraw_consent":
        return destroy(centre, job, reason_code="consent_withdrawn", rule_id="consent_withdrawal")
    if action == "adjudicate":
        return adjudicate(centre, job)
    if action in ("depersonalize", "remove_depersonalization", "transfer"):   # Law Art.9 (own modules)
        return {"depersonalize": depersonalization.depersonalize, "transfer": transfers.transfer,
                "remove_depersonalization": depersonalization.remove_depersonalization}[action](centre, job)
    return _result(job, "REFUSED", reason="unknown_action")


def run_command(centre: Centre, request_id: str) -> Result | None:
    done, job = results.answer_job(centre.store, centre.publisher, request_id, lambda j: _compute(centre, j))
    if job is not None:
        centre.store.delete(JOBS, {"_id": request_id})
    return done
