"""Lifecycle commands: blocking, unblocking, destruction, adjudication.

Each command is a stored job (from a sealed service request), answered once
with a result that cites the rule applied, and recorded in the audit trail.
"""
from __future__ import annotations

from datetime import date

from papilla.shared import audit, clock, gallery_log, names, results
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result

from . import access_receipts, depersonalization, transfers
from .destruction import destroy, withdraw_consent
from .enrollments import activate, complete
from .subjects import MOVE_ATTEMPTS, find_subject, move, received_on, refused, result

__all__ = ["destroy", "withdraw_consent", "block", "adjudicate", "run_command", "refused", "received_on",
           "overdue_applications", "deferred_destructions", "MOVE_ATTEMPTS", "DESTRUCTION_APPLICATIONS"]

ENROLLMENTS, SUBJECTS, BIOMETRICS, JOBS = names.ENROLLMENTS, names.SUBJECTS, names.BIOMETRICS, names.JOBS
#: adjudication decisions and the enrollment transition each one asks for
DECISIONS = {"distinct_person": "adjudicated_distinct", "same_person_reject": "adjudicated_same_person"}
#: Commands that are a person's application to destroy their data, carried out on the day received
#: (Rules 406 p.11; a withdrawal of consent, Rules 395 p.6, destroys the same way).
DESTRUCTION_APPLICATIONS = ("destroy", "withdraw_consent")


def overdue_applications(centre: Centre, today: date | None = None) -> int:
    """Destruction applications received on an earlier day and still not carried out (Rules 406 p.11).

    A job stays until it is answered (destroyed, or refused with a rule, e.g. a blocked subject), so one still
    here past its day is late: its message failed, is being retried, or waits on a dead-letter queue. Request
    jobs of commands never expire by TTL, so an application cannot vanish from this count unanswered."""
    today = today or clock.today()
    pending = centre.store.find(JOBS, {"kind": "lifecycle", "state": "pending"})
    return sum(1 for job in pending if job.get("action") in DESTRUCTION_APPLICATIONS
               and (job.get("received_at") or job.get("created_at")) and received_on(job) < today)


#: blocking triggers and the rule each one acts under
BLOCKING_RULES = {"block": "blocking_by_authorised_body", "unblock": "blocking_by_authorised_body",
                  "block_on_demand": "blocking_on_subject_demand"}


def block(centre: Centre, job: dict, *, blocked: bool, trigger: str | None = None) -> Result:
    """Blocking by the authorised body (Law Art.9 p.2) or on the subject's demand received at a branch (`trigger`
    block_on_demand, Rules 395 p.25): the subject leaves the gallery and every processing stops; unblocking (the
    authorised body, after verification) returns it to the state blocking interrupted (registered or
    depersonalized) and its ACTIVE records to the gallery."""
    subject = find_subject(centre, job.get("iin_hash"))
    if subject is None:
        return result(job, "NOT_ENROLLED")
    trigger = trigger or ("block" if blocked else "unblock")
    try:
        state = move(centre, subject, trigger, **{f"{'block' if blocked else 'unblock'}ed_by": job["principal_id"]})
    except Refusal as refusal:
        return refused(job, refusal)
    for enrollment in centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"], "state": states.ACTIVE}):
        gallery_log.stamp(centre.store, enrollment["_id"], subject["_id"], active=not blocked)
    citation = rule(BLOCKING_RULES[trigger]).citation
    audit.append(centre, "blocked" if blocked else "unblocked", subject_id=subject["_id"],
                 actor=job["principal_id"], details={"request_id": job["_id"], "state": state, "trigger": trigger,
                                                     "on_application_of": job.get("on_application_of"),
                                                     "rule": citation})
    pending = None if blocked or not deferred_destructions(centre, subject["_id"]) else "destruction_deferred"
    return result(job, "BLOCKED" if blocked else "UNBLOCKED", reason=pending,
                  citation=citation if trigger == "block_on_demand" else rule("blocking").citation)


def deferred_destructions(centre: Centre, subject_id: str) -> list[str]:
    """Request ids of destruction applications (or consent withdrawals) refused while the subject was blocked:
    the unblocking result says so (reason `destruction_deferred`), so the branch sends them again that day."""
    return [e["details"]["request_id"] for e in centre.store.find(names.AUDIT, {"subject_id": subject_id,
                                                                            "action": "destruction_deferred"})]


def adjudicate(centre: Centre, job: dict) -> Result:
    """A possible duplicate decided by an adjudicator: PENDING_REVIEW → ACTIVE (a distinct person) or REJECTED
    (the same person); refused without a decision, for a record not pending review, or for a blocked subject."""
    enrollment = centre.store.get(ENROLLMENTS, job.get("enrollment_id") or "")
    if enrollment is None:
        return result(job, "REFUSED", reason="not_pending_review")
    trigger = DECISIONS.get(job.get("decision") or "")
    if trigger is None:
        return result(job, "REFUSED", reason="decision_required")
    subject = centre.store.get(SUBJECTS, enrollment["subject_id"])
    try:
        states.check_enrollment(enrollment, trigger, subject)   # a blocked person never re-enters the gallery
        if trigger == "adjudicated_distinct":
            state = activate(centre, enrollment, actor=job["principal_id"], trigger=trigger)
        else:
            states.move_enrollment(centre.store, enrollment, trigger, subject)
            state = states.REJECTED
    except Refusal as refusal:
        return refused(job, refusal)
    complete(centre, centre.store.get(ENROLLMENTS, enrollment["_id"]))
    audit.append(centre, "adjudicated", subject_id=enrollment["subject_id"], actor=job["principal_id"],
                 details={"enrollment_id": enrollment["_id"], "decision": job.get("decision"), "state": state,
                          "rule": states.rows(states.ENROLLMENT, trigger)[0].citation})
    return result(job, state)


def _compute(centre: Centre, job: dict) -> Result:
    action = job["action"]
    if action in ("block", "unblock", "block_on_demand"):
        return block(centre, job, blocked=action != "unblock", trigger=action)
    if action == "destroy":
        return destroy(centre, job, trigger="destroyed_on_application")
    if action == "withdraw_consent":
        return withdraw_consent(centre, job)
    if action == "adjudicate":
        return adjudicate(centre, job)
    if action == "receive_access_request":        # the subject's right to know, at a branch (Rules 395 p.15-16)
        return access_receipts.receive_from_branch(centre, job)
    if action in ("depersonalize", "remove_depersonalization", "transfer"):   # Law Art.9 (own modules)
        return {"depersonalize": depersonalization.depersonalize, "transfer": transfers.transfer,
                "remove_depersonalization": depersonalization.remove_depersonalization}[action](centre, job)
    return result(job, "REFUSED", reason="unknown_action")


def run_command(centre: Centre, request_id: str) -> Result | None:
    done, job = results.answer_job(centre.store, centre.publisher, request_id, lambda j: _compute(centre, j))
    if job is not None:
        centre.store.delete(JOBS, {"_id": request_id})
    return done
