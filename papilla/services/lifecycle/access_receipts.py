"""Receipt of the subject's access requests (Rules 395 p.15-16): each request logged once with the day it is due
and audited, whether it was received at the centre's desk (`access.receive`) or sent by a branch as the
operator's signed lifecycle command (`receive_from_branch`, run by the lifecycle worker). Apart from
`access.py` (the answer and its report), which reads the retention terms: the lifecycle commands import this
one without importing retention."""
from __future__ import annotations

from datetime import date, datetime

from papilla.shared import audit, clock, names
from papilla.shared.centre import Centre
from papilla.shared.legal.business_days import BusinessCalendar, CalendarSettings
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result
from papilla.shared.store.base import DuplicateKeyError

from .subjects import find_subject

ACCESS = names.ACCESS_REQUESTS
TERM_BUSINESS_DAYS = 3           # Rules 395 p.16


def due_on(received: date, calendar: BusinessCalendar | None = None) -> date:
    """The last day to answer: the 3rd business day after receipt (Rules 395 p.16)."""
    return (calendar or BusinessCalendar(CalendarSettings.from_env())).add_business_days(received, TERM_BUSINESS_DAYS)


def log_receipt(centre: Centre, request_id: str, iin_hash: str, *, applicant: str, channel: str, principal_id: str,
                received: datetime, calendar: BusinessCalendar | None = None) -> dict:
    """The request logged with its due date and audited, once per request id (the signature was checked by the
    caller: `receive` here, the centre's intake for a branch's signed lifecycle command)."""
    existing = centre.store.get(ACCESS, request_id)
    if existing:
        return existing
    # a depersonalized person keeps the right to know: found through the pseudonym the centre's key gives
    subject = find_subject(centre, iin_hash)
    doc = {"_id": request_id, "subject_id": subject["_id"] if subject else None,
           "applicant": applicant, "channel": channel,
           "received_at": received.isoformat(), "received_by": principal_id,
           "due_on": due_on(clock.local_date(received), calendar).isoformat(), "state": "received",
           "rule": rule("subject_access_term").citation}
    try:
        centre.store.insert(ACCESS, doc)
    except DuplicateKeyError:
        return centre.store.get(ACCESS, request_id)
    audit.append(centre, "access_request_received", subject_id=doc["subject_id"], actor=principal_id,
                 details={"request_id": request_id, "due_on": doc["due_on"], "rule": doc["rule"]})
    return doc


def receive_from_branch(centre: Centre, job: dict) -> Result:
    """A branch's `receive_access_request` lifecycle command (checked at intake: the operator's signature and
    role, the applicant): logged as received on the day it left the branch; the answer names the due date."""
    if not job.get("iin_hash"):
        return Result(request_id=job["_id"], kind="lifecycle", status="REFUSED", reason="no_iin",
                      rule=rule("subject_access").citation, detail="an access request names the person's IIN")
    received = datetime.fromisoformat(job.get("received_at") or job["created_at"])
    doc = log_receipt(centre, job["_id"], job.get("iin_hash"), applicant=job.get("on_application_of") or "subject",
                      channel="written", principal_id=job["principal_id"], received=received)
    received_on = clock.local_date(received).isoformat()
    return Result(request_id=job["_id"], kind="lifecycle", status="RECEIVED", rule=doc["rule"],
                  detail=f"access request {doc['_id']} received on {received_on}; the branch answers it "
                         f"by {doc['due_on']} (3 business days)")
