"""Finding the subject a command or an application names, and the answers every lifecycle command gives.

A subject is named by the keyed hash of its IIN. A depersonalized subject's link was replaced by a pseudonym
(`depersonalization.pseudonym`) that only the depersonalization key gives: the centre holds that key, so a
depersonalized person who applies with their IIN at a branch is still found, and keeps their rights (access,
destruction, withdrawal, blocking on demand). `find_subject` is the one lookup that does both.
"""
from __future__ import annotations

from datetime import date, datetime

from papilla.shared import clock
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result
from papilla.shared.names import SUBJECTS

from .depersonalization import pseudonym

#: compare-and-set attempts on a subject whose state another command changes at the same moment
MOVE_ATTEMPTS = 3


def find_subject(centre: Centre, iin_hash: str | None, *, depersonalized: bool = True) -> dict | None:
    """The subject of this IIN hash; with `depersonalized` (the default), also one found through its pseudonym."""
    if not iin_hash:
        return None
    found = centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash})
    if found is None and depersonalized:
        found = centre.store.find_one(SUBJECTS, {"iin_hash": pseudonym(centre, iin_hash)})
    return found


def is_depersonalized(subject: dict | None) -> bool:
    return states.subject_state(subject) == states.DEPERSONALIZED or \
        (states.subject_state(subject) == states.BLOCKED and (subject or {}).get(states.BLOCKED_FROM)
         == states.DEPERSONALIZED)


def result(job: dict, status: str, *, reason: str | None = None, rule_id: str | None = None,
           citation: str | None = None, detail: str | None = None) -> Result:
    """A lifecycle command's answer; `citation` overrides the rule's own when several rules applied."""
    return Result(request_id=job["_id"], kind="lifecycle", status=status, reason=reason,
                  rule=citation or (rule(rule_id).citation if rule_id else None), detail=detail)


def refused(job: dict, refusal: Refusal) -> Result:
    """A refusal (e.g. a transition the state machine does not allow) as the command's answer."""
    return Result(request_id=job["_id"], kind="lifecycle", status="REFUSED", reason=refusal.code, rule=refusal.rule,
                  detail=refusal.detail[:500])


def move(centre: Centre, subject: dict, trigger: str, **fields) -> str:
    """`states.move_subject`, read again and retried when another command changed the subject meanwhile."""
    for _ in range(MOVE_ATTEMPTS):
        state = states.move_subject(centre.store, subject, trigger, **fields)
        if state is not None:
            return state
        subject = centre.store.get(SUBJECTS, subject["_id"]) or {"_id": subject["_id"], "state": states.DESTROYED}
    raise Refusal(f"the subject's state kept changing during {trigger}: send the command again",
                  code="concurrent_change")


def received_on(job: dict) -> date:
    """The local day (Kazakhstan) the application was received: when the branch's service sealed the command
    (`received_at`, set by the intake), else when the centre stored its job (`created_at`)."""
    return clock.local_date(datetime.fromisoformat(job.get("received_at") or job["created_at"]))
