"""Destruction of a person's data, by the legal basis each record was kept under.

* On the person's application (Rules 406 p.11, the same day) and on a withdrawal of consent (Rules 395 p.6):
  only records kept for public-service authentication end this way. Records kept under the Law on dactyloscopic
  and genomic registration keep the terms of its Art.15 and are destroyed only on the grounds of Art.17 (the
  term expired, under an act approved by the head of the unit, `destruction_acts`): the application is
  answered with a refusal naming those articles (`uses.kept_refusal`), or, when the person has records of both
  kinds, the public-service ones are destroyed and the answer says which were kept and why (PARTLY_DESTROYED).
* At the end of retention (`retention_expired`, Law Art.17 p.2-3), through an approved act.

Everything of the person goes: gallery first, then the data key (crypto-shredding: copies in backups and
replicas become unreadable), then the documents. When other records stay, only the destroyed records'
documents go (`destroy_enrollments`). A blocked subject is not destroyed: blocking stops destruction until
it is lifted (Law Art.1 7)); the application is recorded and refused with that citation (docs/legal.md).
"""
from __future__ import annotations

from papilla.shared import audit, clock, deadletters, gallery_log, metrics, names, results
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states, uses
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result

from . import consents
from .subjects import find_subject, move, received_on, refused, result

ENROLLMENTS, SUBJECTS, BIOMETRICS, TEMPLATES = names.ENROLLMENTS, names.SUBJECTS, names.BIOMETRICS, names.TEMPLATES
#: triggers that are the person's own application (the basis decides what they may end)
ON_APPLICATION = {"destroyed_on_application": "destruction on application", "consent_withdrawn":
                  "withdrawal of consent"}
#: who applied, and the rule that lets them act for the person, cited beside the destruction's own rule. Only
#: public-service records end on an application: Rules 406 p.11 and Rules 395 p.6 name the legal representative
#: themselves; the custodian acts for a person the court found incapacitated (Rules 406 p.5).
APPLICANT_RULES = {"custodian": "incapacitated_custodian"}


def applicant_citations(job: dict) -> list[str]:
    """The citation of the rule on whose application a decision relied (custodian, legal representative)."""
    rule_id = APPLICANT_RULES.get(job.get("on_application_of") or "")
    return [rule(rule_id).citation] if rule_id else []


def _citation(trigger: str, job: dict) -> str:
    return "; ".join([states.rows(states.SUBJECT, trigger)[0].citation] + applicant_citations(job))


def destroy(centre: Centre, job: dict, *, trigger: str) -> Result:
    """Destroy what `trigger` may end of the subject the job names (see the module's docstring)."""
    subject = find_subject(centre, job.get("iin_hash"))
    if subject is None:
        return result(job, "NOT_ENROLLED")
    if trigger in ON_APPLICATION and states.subject_state(subject) != states.DESTROYED:
        ends, kept = uses.split_by_basis(list(centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"]})))
        if kept:
            return _keep_law_records(centre, job, subject, trigger, ends, kept)
    try:
        enrollment_ids = _begin_destruction(centre, subject, trigger)
    except Refusal as refusal:
        return _refused_now(centre, job, subject["_id"], trigger, refusal)
    _erase_subject(centre, subject["_id"], enrollment_ids)
    citation = _citation(trigger, job)
    audit.append(centre, "destroyed", subject_id=subject["_id"], actor=job["principal_id"],
                 details={"request_id": job["_id"], "basis": trigger, "rule": citation,
                          "on_application_of": job.get("on_application_of")})
    _count_same_day(job)
    return Result(request_id=job["_id"], kind="lifecycle", status="DESTROYED", rule=citation)


def _refused_now(centre: Centre, job: dict, sid: str, trigger: str, refusal: Refusal) -> Result:
    if refusal.code == "subject_blocked":    # recorded, so it can be sent again once unblocked
        audit.append(centre, "destruction_deferred", subject_id=sid, actor=job["principal_id"],
                     details={"request_id": job["_id"], "basis": trigger, "rule": refusal.rule})
    return refused(job, refusal)


def _keep_law_records(centre: Centre, job: dict, subject: dict, trigger: str, ends: list[dict],
                      kept: list[dict]) -> Result:
    """Records under the Law stay (Art.15, Art.17); public-service records of the same person go."""
    refusal = uses.kept_refusal(kept, ON_APPLICATION[trigger])
    sid = subject["_id"]
    try:
        for enrollment in ends:
            states.check_enrollment(enrollment, trigger, subject)
    except Refusal as blocked:
        return _refused_now(centre, job, sid, trigger, blocked)
    destroyed = destroy_enrollments(centre, sid, [e["_id"] for e in ends])
    audit.append(centre, "destruction_refused", subject_id=sid, actor=job["principal_id"],
                 details={"request_id": job["_id"], "basis": trigger, "kept": [e["_id"] for e in kept],
                          "destroyed": destroyed, "rule": refusal.rule})
    if not destroyed:
        return refused(job, refusal)
    _count_same_day(job)
    return result(job, "PARTLY_DESTROYED", reason=refusal.code, citation=f"{_citation(trigger, job)}; {refusal.rule}",
                  detail=refusal.detail[:500])


def _count_same_day(job: dict) -> None:
    if job.get("created_at"):   # an application received as a request: was it done the day it came in?
        metrics.count_destruction(same_day=received_on(job) >= clock.today())


def _begin_destruction(centre: Centre, subject: dict, trigger: str) -> list[str]:
    """Check `trigger` for the subject and each of its enrollments, then move the subject to DESTROYED (from
    there no other command acts on it); the enrollment ids. A destruction interrupted after that first step is
    completed as it stands."""
    enrollments = list(centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"]}))
    if states.subject_state(subject) != states.DESTROYED:
        states.check_subject(subject, trigger)
        for enrollment in enrollments:
            states.check_enrollment(enrollment, trigger, subject)
        move(centre, subject, trigger)
    return [e["_id"] for e in enrollments]


def _erase_subject(centre: Centre, sid: str, enrollment_ids: list[str]) -> None:
    for enrollment_id in enrollment_ids:
        gallery_log.stamp(centre.store, enrollment_id, sid, active=False)
    centre.cipher.shred(sid)  # crypto-shredding: copies of the data (backups, replicas) become unreadable too
    deadletters.forget_bodies(centre.store, centre.cipher, request_ids=enrollment_ids)
    centre.store.delete(results.COLLECTION, {"_id": {"$in": enrollment_ids}})
    for collection in (BIOMETRICS, TEMPLATES, consents.CONSENTS, ENROLLMENTS):
        centre.store.delete(collection, {"subject_id": sid})
    centre.store.delete(SUBJECTS, {"_id": sid})
    centre.store.release_deleted()


def destroy_enrollments(centre: Centre, sid: str, enrollment_ids: list[str]) -> list[str]:
    """Destroy these records of a subject whose other records stay (the data key stays for those): out of the
    gallery, then their images, templates, consents, results and documents. Returns the ids destroyed."""
    done = []
    for eid in enrollment_ids:
        gallery_log.stamp(centre.store, eid, sid, active=False)
        centre.store.delete(BIOMETRICS, {"enrollment_id": eid})
        centre.store.delete(TEMPLATES, {"_id": eid})
        centre.store.delete(consents.CONSENTS, {"_id": f"{eid}:given"})   # the consent given for it
        centre.store.delete(results.COLLECTION, {"_id": eid})
        centre.store.delete(names.RETENTION, {"_id": eid})
        if centre.store.delete(ENROLLMENTS, {"_id": eid}):
            done.append(eid)
    deadletters.forget_bodies(centre.store, centre.cipher, request_ids=enrollment_ids)
    centre.store.release_deleted()
    return done


def withdraw_consent(centre: Centre, job: dict) -> Result:
    """Consent withdrawn in writing (Rules 395 p.6): recorded first (who applied, who accepted it), then what
    rests on the public-service basis is destroyed citing p.6; records under a basis of the Law keep the term
    the Law sets (Art.15, destroyed only on Art.17 grounds): that part is refused with those citations."""
    subject = find_subject(centre, job.get("iin_hash"))
    if subject is None:
        return result(job, "NOT_ENROLLED")
    if states.subject_state(subject) != states.DESTROYED:     # else: the redelivery of an interrupted withdrawal
        consents.record_withdrawn(centre, subject["_id"], job)
        audit.append(centre, "consent_withdrawn", subject_id=subject["_id"], actor=job["principal_id"],
                     details={"request_id": job["_id"], "on_application_of": job.get("on_application_of"),
                              "rule": "; ".join([rule("consent_withdrawal").citation] + applicant_citations(job))})
    return destroy(centre, job, trigger="consent_withdrawn")
