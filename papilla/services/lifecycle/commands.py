"""Lifecycle commands: blocking, unblocking, destruction, adjudication.

Each command is a stored job (from a sealed service request), answered once
with a result that cites the rule applied, and recorded in the audit trail.
"""
from __future__ import annotations

from datetime import date, datetime

from papilla.shared import audit, clock, deadletters, gallery_log, metrics, names, results
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.bases import basis
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result
from papilla.shared.names import TEMPLATES

from . import consents, depersonalization, transfers
from .enrollments import activate, complete

ENROLLMENTS, SUBJECTS, BIOMETRICS, JOBS = names.ENROLLMENTS, names.SUBJECTS, names.BIOMETRICS, names.JOBS
#: adjudication decisions and the enrollment transition each one asks for
DECISIONS = {"distinct_person": "adjudicated_distinct", "same_person_reject": "adjudicated_same_person"}
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


def _subject(centre: Centre, job: dict, *, depersonalized: bool = False) -> dict | None:
    """The subject the command names by IIN; with `depersonalized`, also a depersonalized one (found through the
    pseudonym, which only the depersonalization key gives: the authorised body blocks the record it holds)."""
    if not job.get("iin_hash"):
        return None
    found = centre.store.find_one(SUBJECTS, {"iin_hash": job["iin_hash"]})
    if found is None and depersonalized:
        found = centre.store.find_one(SUBJECTS, {"iin_hash": depersonalization.pseudonym(centre, job["iin_hash"])})
    return found


def _result(job: dict, status: str, *, reason: str | None = None, rule_id: str | None = None) -> Result:
    return Result(request_id=job["_id"], kind="lifecycle", status=status, reason=reason,
                  rule=rule(rule_id).citation if rule_id else None)


def refused(job: dict, refusal: Refusal) -> Result:
    """A refusal (e.g. a transition the state machine does not allow) as the command's answer."""
    return Result(request_id=job["_id"], kind="lifecycle", status="REFUSED", reason=refusal.code, rule=refusal.rule,
                  detail=refusal.detail[:500])


def block(centre: Centre, job: dict, *, blocked: bool) -> Result:
    """Blocking (Law Art.9 p.2): the subject leaves the gallery and every processing stops; unblocking returns it
    to the state blocking interrupted (registered or depersonalized) and its ACTIVE records to the gallery."""
    subject = _subject(centre, job, depersonalized=True)
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    trigger = "block" if blocked else "unblock"
    try:
        state = _move(centre, subject, trigger, **{f"{trigger}ed_by": job["principal_id"]})
    except Refusal as refusal:
        return refused(job, refusal)
    for enrollment in centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"], "state": states.ACTIVE}):
        gallery_log.stamp(centre.store, enrollment["_id"], subject["_id"], active=not blocked)
    audit.append(centre, "blocked" if blocked else "unblocked", subject_id=subject["_id"],
                 actor=job["principal_id"], details={"request_id": job["_id"], "state": state,
                                                     "rule": rule("blocking_by_authorised_body").citation})
    pending = None if blocked or not deferred_destructions(centre, subject["_id"]) else "destruction_deferred"
    return _result(job, "BLOCKED" if blocked else "UNBLOCKED", reason=pending, rule_id="blocking")


def deferred_destructions(centre: Centre, subject_id: str) -> list[str]:
    """Request ids of destruction applications (or consent withdrawals) refused while the subject was blocked:
    the unblocking result says so (reason `destruction_deferred`), so the branch sends them again that day."""
    return [e["details"]["request_id"] for e in centre.store.find(names.AUDIT, {"subject_id": subject_id,
                                                                            "action": "destruction_deferred"})]


#: compare-and-set attempts on a subject whose state another command changes at the same moment
MOVE_ATTEMPTS = 3


def _move(centre: Centre, subject: dict, trigger: str, **fields) -> str:
    """`states.move_subject`, read again and retried when another command changed the subject meanwhile."""
    for _ in range(MOVE_ATTEMPTS):
        state = states.move_subject(centre.store, subject, trigger, **fields)
        if state is not None:
            return state
        subject = centre.store.get(SUBJECTS, subject["_id"]) or {"_id": subject["_id"], "state": states.DESTROYED}
    raise Refusal(f"the subject's state kept changing during {trigger}: send the command again",
                  code="concurrent_change")


def _begin_destruction(centre: Centre, subject: dict, trigger: str) -> list[str]:
    """Check `trigger` for the subject and each of its enrollments, then move the subject to DESTROYED (from
    there no other command acts on it); the enrollment ids. A destruction interrupted after that first step is
    completed as it stands."""
    enrollments = list(centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"]}))
    if states.subject_state(subject) != states.DESTROYED:
        states.check_subject(subject, trigger)
        for enrollment in enrollments:
            states.check_enrollment(enrollment, trigger, subject)
        _move(centre, subject, trigger)
    return [e["_id"] for e in enrollments]


def destroy(centre: Centre, job: dict, *, trigger: str) -> Result:
    """Destruction (`trigger`: destroyed_on_application, Rules 406 p.11, the same day; consent_withdrawn, Rules 395
    p.6; retention_expired, Law Art.17): gallery first, then the data key, then the documents. A blocked subject
    is not destroyed: blocking stops destruction until it is lifted (Law Art.1 7)); the application is recorded
    and refused with that citation (docs/legal.md)."""
    subject = _subject(centre, job)
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    sid = subject["_id"]
    try:
        enrollment_ids = _begin_destruction(centre, subject, trigger)
    except Refusal as refusal:
        if refusal.code == "subject_blocked":    # recorded, so it can be sent again once unblocked
            audit.append(centre, "destruction_deferred", subject_id=sid, actor=job["principal_id"],
                         details={"request_id": job["_id"], "basis": trigger, "rule": refusal.rule})
        return refused(job, refusal)
    for enrollment_id in enrollment_ids:
        gallery_log.stamp(centre.store, enrollment_id, sid, active=False)
    centre.cipher.shred(sid)  # crypto-shredding: copies of the data (backups, replicas) become unreadable too
    deadletters.forget_bodies(centre.store, centre.cipher, request_ids=enrollment_ids)
    centre.store.delete(results.COLLECTION, {"_id": {"$in": enrollment_ids}})
    centre.store.delete(BIOMETRICS, {"subject_id": sid})
    centre.store.delete(TEMPLATES, {"subject_id": sid})
    centre.store.delete(consents.CONSENTS, {"subject_id": sid})
    centre.store.delete(ENROLLMENTS, {"subject_id": sid})
    centre.store.delete(SUBJECTS, {"_id": sid})
    centre.store.release_deleted()
    citation = states.rows(states.SUBJECT, trigger)[0].citation
    audit.append(centre, "destroyed", subject_id=sid, actor=job["principal_id"],
                 details={"request_id": job["_id"], "basis": trigger, "rule": citation,
                          "on_application_of": job.get("on_application_of")})
    if job.get("created_at"):   # an application received as a request: was it done the day it came in?
        metrics.count_destruction(same_day=received_on(job) >= clock.today())
    return Result(request_id=job["_id"], kind="lifecycle", status="DESTROYED", rule=citation)


def withdraw_consent(centre: Centre, job: dict) -> Result:
    """Consent withdrawn in writing (Rules 395 p.6): recorded first (who applied, who accepted it), then, when
    every record of the person rests on the public-service basis, the person is destroyed citing p.6. A record
    under a basis of the Law keeps the term the Law sets (Art.15): the withdrawal is recorded and the destruction
    refused with that term's citation (decision in docs/legal.md)."""
    subject = _subject(centre, job)
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    if states.subject_state(subject) == states.DESTROYED:     # the redelivery of an interrupted withdrawal
        return destroy(centre, job, trigger="consent_withdrawn")
    consents.record_withdrawn(centre, subject["_id"], job)
    audit.append(centre, "consent_withdrawn", subject_id=subject["_id"], actor=job["principal_id"],
                 details={"request_id": job["_id"], "on_application_of": job.get("on_application_of"),
                          "rule": rule("consent_withdrawal").citation})
    kept = [e for e in centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"]})
            if basis(e.get("legal_basis") or consents.PUBLIC_SERVICE).term.kind != "until_application"]
    if kept:
        term = basis(kept[0]["legal_basis"]).term
        return refused(job, Refusal("consent withdrawal recorded; the data are kept for the storage term the Law "
                                    f"sets for their basis ({term.citation})", code="storage_term_set_by_law",
                                    rule=term.citation))
    return destroy(centre, job, trigger="consent_withdrawn")


def adjudicate(centre: Centre, job: dict) -> Result:
    """A possible duplicate decided by an adjudicator: PENDING_REVIEW → ACTIVE (a distinct person) or REJECTED
    (the same person); refused without a decision, for a record not pending review, or for a blocked subject."""
    enrollment = centre.store.get(ENROLLMENTS, job.get("enrollment_id") or "")
    if enrollment is None:
        return _result(job, "REFUSED", reason="not_pending_review")
    trigger = DECISIONS.get(job.get("decision") or "")
    if trigger is None:
        return _result(job, "REFUSED", reason="decision_required")
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
    return _result(job, state)


def _compute(centre: Centre, job: dict) -> Result:
    action = job["action"]
    if action in ("block", "unblock"):
        return block(centre, job, blocked=action == "block")
    if action == "destroy":
        return destroy(centre, job, trigger="destroyed_on_application")
    if action == "withdraw_consent":
        return withdraw_consent(centre, job)
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
