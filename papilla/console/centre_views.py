"""What the centre console shows, read from the centre's store: the adjudication queue and one case, acts of
destruction awaiting signatures, the audit trail. Ids only in what is listed; images and templates are
decrypted for the adjudicator's page and never written anywhere."""
from __future__ import annotations

from dataclasses import dataclass

from papilla.services.lifecycle import destruction_acts
from papilla.services.match import matching
from papilla.services.match.engine import thresholds
from papilla.shared import audit_verify, deadletters, names
from papilla.shared.audit_view import shown
from papilla.shared.audit_chain import trail_of
from papilla.shared.centre import Centre
from papilla.shared.crypto.iin import InvalidIIN, validate_iin
from papilla.shared.legal import states
from papilla.shared.routing import DEDUPLICATE
from papilla.shared.template import FingerTemplate, template_from_bytes

from .drawing import paired_drawing, with_minutiae




@dataclass(frozen=True)
class QueueRow:
    enrollment_id: str
    created_at: str
    reason: str | None
    station_id: str
    candidates: int
    best_score: float | None


def queue(centre: Centre) -> list[QueueRow]:
    """Enrollments in PENDING_REVIEW, oldest first."""
    rows = []
    for e in centre.store.find(names.ENROLLMENTS, {"state": states.PENDING_REVIEW}, sort=[("created_at", 1)]):
        cands = e.get("candidates") or []
        rows.append(QueueRow(e["_id"], e.get("created_at", ""), e.get("review_reason"), e.get("station_id", ""),
                             len(cands), max((c["score"] for c in cands), default=None)))
    return rows


@dataclass(frozen=True)
class FingerPair:
    position: int
    new_quality: int | None
    candidate_quality: int | None
    score: float | None
    hit: bool                      # the per-finger score reaches the per-finger threshold


@dataclass(frozen=True)
class Case:
    enrollment: dict
    candidate: dict | None         # the candidate shown beside it (the best one unless another is picked)
    candidates: list[dict]
    fingers: list[FingerPair]
    fused_cut: float
    finger_cut: float
    fmr: float
    gallery_size: int


@dataclass(frozen=True)
class IncompleteSearch:
    """An enrollment whose 1:N deduplication never completed: every attempt met a gallery partition that did
    not answer (`scatter.PartialResult`) or another failure, and the message was dead-lettered. A partial
    candidate list is never taken for "no duplicate", so the enrollment waits, undecided, until an operator
    redrives the dead letter (`papilla dlq requeue ID`); nothing can be adjudicated on part of the gallery."""

    enrollment_id: str
    state: str | None              # the enrollment's state now (EXTRACTED while it waits)
    since: str
    detail: str
    dead_letter_id: str


def incomplete_searches(centre: Centre, limit: int = 100) -> list[IncompleteSearch]:
    rows = []
    for doc in centre.store.find(deadletters.COLLECTION, {"queue": DEDUPLICATE.queue, "state": "dead"},
                                 sort=[("created_at", 1)], limit=limit):
        if doc["actor"] != DEDUPLICATE.actor:
            continue
        enrollment = centre.store.get(names.ENROLLMENTS, doc.get("request_id")) if doc.get("request_id") else None
        if enrollment is not None and enrollment["state"] == states.EXTRACTED:
            rows.append(IncompleteSearch(enrollment["_id"], enrollment["state"], doc["created_at"], doc["detail"],
                                         doc["_id"]))
    return rows


def case(centre: Centre, enrollment_id: str, pick: int = 0) -> Case | None:
    enrollment = centre.store.get(names.ENROLLMENTS, enrollment_id)
    if enrollment is None:
        return None
    cands = sorted(enrollment.get("candidates") or [], key=lambda c: -c["score"])
    candidate = cands[pick] if 0 <= pick < len(cands) else (cands[0] if cands else None)
    gallery_size = centre.store.count(names.ENROLLMENTS, {"state": states.ACTIVE})
    cut = matching.dedup_cut(centre.settings, gallery_size)
    finger_cut = thresholds().finger(cut.fmr)
    mine = _qualities(centre, enrollment_id)
    theirs = _qualities(centre, candidate["enrollment_id"]) if candidate else {}
    scores = {int(k): v for k, v in (candidate or {}).get("finger_scores", {}).items()}
    fingers = [FingerPair(p, mine.get(p), theirs.get(p), scores.get(p),
                          scores.get(p) is not None and scores[p] >= finger_cut) for p in range(1, 11)]
    return Case(enrollment, candidate, cands, fingers, cut.threshold, finger_cut, cut.fmr, gallery_size)


def _qualities(centre: Centre, enrollment_id: str) -> dict[int, int]:
    return {d["position"]: d.get("quality") for d in centre.store.find(names.BIOMETRICS,
                                                                       {"enrollment_id": enrollment_id})}


def finger(centre: Centre, enrollment_id: str, position: int) -> tuple[bytes, FingerTemplate] | None:
    """The stored image and template of one finger, decrypted (None when absent or destroyed)."""
    doc = centre.store.get(names.BIOMETRICS, f"{enrollment_id}:{position}")
    if doc is None:
        return None
    dec = centre.cipher.decrypt
    image = dec(doc["subject_id"], names.BIOMETRICS, doc["_id"], "image", doc["image"])
    template = template_from_bytes(dec(doc["subject_id"], names.BIOMETRICS, doc["_id"], "template", doc["template"]))
    return image, template


def finger_png(centre: Centre, enrollment_id: str, position: int) -> bytes | None:
    found = finger(centre, enrollment_id, position)
    return None if found is None else with_minutiae(*found)


def candidate_of(centre: Centre, enrollment_id: str, pick: int) -> str | None:
    """The enrollment id of the `pick`-th best candidate the matcher listed for this enrollment (None if none):
    the console draws a pair only between an enrollment and one of its own candidates."""
    enrollment = centre.store.get(names.ENROLLMENTS, enrollment_id)
    cands = sorted((enrollment or {}).get("candidates") or [], key=lambda c: -c["score"])
    return cands[pick]["enrollment_id"] if 0 <= pick < len(cands) else None


def pair_png(centre: Centre, enrollment_id: str, position: int, pick: int = 0) -> bytes | None:
    """One finger of the enrollment beside the same finger of its candidate, the paired minutiae joined (None
    when the candidate or either finger is absent or destroyed)."""
    candidate_id = candidate_of(centre, enrollment_id, pick)
    mine = finger(centre, enrollment_id, position)
    theirs = finger(centre, candidate_id, position) if candidate_id else None
    if mine is None or theirs is None:
        return None
    png, _explanation = paired_drawing(mine[0], mine[1], theirs[0], theirs[1])
    return png


def open_acts(centre: Centre) -> list[dict]:
    """Acts of destruction still awaiting a signature, with what each one needs."""
    acts = []
    for act in centre.store.find(destruction_acts.ACTS, {"state": "proposed"}, sort=[("_id", 1)]):
        done = {s["decision"] for s in act["signatures"]}
        acts.append({**act, "missing": [d for d in destruction_acts.DECISIONS if d not in done]})
    return acts


def audit_report(centre: Centre) -> audit_verify.Report:
    return audit_verify.verify(trail_of(centre))


def subject_of(centre: Centre, text: str) -> str | None:
    """The subject pseudonym (sub-…) typed, or the one of the IIN typed (found by keyed hash)."""
    text = text.strip()
    if text.startswith("sub-"):
        return text
    try:
        iin = validate_iin(text)
    except InvalidIIN:
        return None
    subject = centre.store.find_one(names.SUBJECTS, {"iin_hash": centre.hasher.hash(iin)})
    return subject["_id"] if subject else None


def trail(centre: Centre, subject_id: str, limit: int = 200) -> list[dict]:
    t = trail_of(centre)
    found = centre.store.find(names.AUDIT, {"subject_id": subject_id}, sort=[("_id", 1)], limit=limit)
    return [shown(t, e) for e in found]


REFUSED_ACTIONS = ("console_refused",)


def refused_attempts(centre: Centre, limit: int = 50) -> tuple[list[dict], list[dict]]:
    """(console refusals recorded in the audit trail, dead letters refused at admission), newest first."""
    t = trail_of(centre)
    entries = centre.store.find(names.AUDIT, {"action": {"$in": list(REFUSED_ACTIONS)}}, sort=[("_id", -1)],
                                limit=limit)
    dead = centre.store.find(deadletters.COLLECTION, {"state": "refused"}, sort=[("created_at", -1)], limit=limit)
    return [shown(t, e) for e in entries], [{k: d.get(k) for k in ("_id", "created_at", "queue", "reason", "rule",
                                                                   "detail", "sender_id")} for d in dead]
