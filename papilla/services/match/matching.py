"""The match stage: 1:N deduplication of enrollments, 1:1 verification and 1:N identification.

Pure domain code over a `Centre` and a `Gallery`; the actors only decode
arguments and send the next message. Idempotent: an enrollment already
decided is not re-decided, a request already answered is answered the same.
"""
from __future__ import annotations

from dataclasses import dataclass

from papilla.shared import audit, names, results
from papilla.shared.centre import Centre
from papilla.shared.crypto.errors import DataKeyDestroyed
from papilla.shared.errors import Refusal
from papilla.shared.legal import states, uses
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Candidate, Result
from papilla.shared.names import job_key_subject
from papilla.shared.parties import recipient_kind

from . import engine, templates
from .gallery import Gallery

ENROLLMENTS, SUBJECTS, JOBS = names.ENROLLMENTS, names.SUBJECTS, names.JOBS


def _thresholds():
    return engine.thresholds()


def check_rates(settings) -> None:
    """Every configured rate has a threshold (run at start-up: a bad setting fails there, not mid-request)."""
    engine = _engine()
    for name in ("verify_fmr", "identify_fmr", "dedup_fmr"):
        engine.thresholds().fused(engine.check_fmr(getattr(settings, name), f"PAPILLA_{name.upper()}"))


def _engine():
    return engine


def one_to_many_fmr(per_comparison_cap: float, fpir: float, gallery_size: int) -> float:
    """Per-comparison FMR for a 1:N search: a search makes `gallery_size` comparisons, so the
    chance of any false candidate (FPIR) is about gallery_size x FMR."""
    return min(per_comparison_cap, fpir / max(gallery_size, 1))


@dataclass(frozen=True)
class Cut:
    """A decision threshold and where it comes from (shown beside a score, e.g. by `papilla demo`)."""

    threshold: float
    fmr: float          # the per-comparison false-match rate the threshold is calibrated for
    purpose: str        # "duplicate" | "verify" | "identify"


def dedup_cut(settings, gallery_size: int) -> Cut:
    """The fused score an enrollment's candidate must reach against a gallery of `gallery_size`."""
    fmr = one_to_many_fmr(settings.dedup_fmr, settings.dedup_fpir, gallery_size)
    return Cut(_thresholds().fused(fmr), fmr, "duplicate")


def verify_cut(settings) -> Cut:
    """The fused score a 1:1 verification must reach to MATCH."""
    return Cut(_thresholds().fused(settings.verify_fmr), settings.verify_fmr, "verify")


def deduplicate(centre: Centre, gallery: Gallery, enrollment_id: str) -> tuple[list[dict], int] | None:
    """Candidates for an EXTRACTED enrollment among the active gallery, and the gallery seq searched
    (None: not ours to decide any more)."""
    enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    if enrollment is None or enrollment["state"] != "EXTRACTED":
        return None
    gallery.sync()
    snapshot = gallery.last_seq
    probes = gallery.fingers_of(enrollment_id, enrollment["subject_id"])
    threshold = dedup_cut(centre.settings, len(gallery.entries)).threshold
    # The person's own earlier record is not a duplicate: re-enrollment is decided by the lifecycle rules.
    return gallery.search(probes, threshold=threshold, exclude={enrollment_id},
                          exclude_subject=enrollment["subject_id"], limit=20), snapshot


def _probes(centre: Centre, job: dict) -> dict[int, object]:
    return templates.probes_of(centre, job)


def verify(centre: Centre, gallery: Gallery, job: dict) -> Result:
    rid = job["_id"]
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": job["iin_hash"]})
    if subject is None:
        return Result(request_id=rid, kind="verify", status="NOT_ENROLLED")
    if states.is_blocked(subject):
        return Result(request_id=rid, kind="verify", status="BLOCKED", rule=rule("blocking").citation)
    active = centre.store.find_one(ENROLLMENTS, {"subject_id": subject["_id"], "state": "ACTIVE"})
    if active is None:
        return Result(request_id=rid, kind="verify", status="NOT_ENROLLED")
    try:       # the record's basis and the requester's registered kind (Rules 395 p.18; docs/legal.md)
        uses.check_use("verify", active.get("legal_basis"), recipient_kind(centre.store, job.get("sender_id")))
    except Refusal as refusal:
        return Result(request_id=rid, kind="verify", status="REFUSED", reason=refusal.code, rule=refusal.rule,
                      detail=refusal.detail[:500])
    reference = gallery.fingers_of(active["_id"], subject["_id"])
    finger_scores = {str(pos): float(engine.compare(probe, reference[pos]))
                     for pos, probe in _probes(centre, job).items() if pos in reference}
    if not finger_scores:
        return Result(request_id=rid, kind="verify", status="NO_MATCH", reason="no_common_fingers")
    score = float(engine.fuse(finger_scores))
    matched = score >= verify_cut(centre.settings).threshold
    return Result(request_id=rid, kind="verify", status="MATCH" if matched else "NO_MATCH",
                  score=score, finger_scores=finger_scores)


#: candidates searched before the purpose filter drops records the requester may not be given
SEARCH_LIMIT = 100


def identify_cut(settings, gallery_size: int, fpir: float | None = None) -> Cut:
    """The fused score a 1:N candidate must reach among `gallery_size` entries, at the centre's identification
    FPIR or the one the requester asked for (`fpir`, e.g. a MOSIP targetFPIR), capped by PAPILLA_IDENTIFY_FMR."""
    fmr = one_to_many_fmr(settings.identify_fmr, settings.identify_fpir if fpir is None else fpir, gallery_size)
    return Cut(_thresholds().fused(fmr), fmr, "identify")


def identify(centre: Centre, gallery: Gallery, job: dict) -> Result:
    """Ranked candidates among the records the requester may identify against (its registered kind and each
    record's basis, `shared.legal.uses`): a record kept for another purpose is never a candidate."""
    kind = recipient_kind(centre.store, job.get("sender_id"))
    try:
        uses.check_may_use("identify", kind)
    except Refusal as refusal:
        return Result(request_id=job["_id"], kind="identify", status="REFUSED", reason=refusal.code,
                      rule=refusal.rule, detail=refusal.detail[:500])
    gallery.sync()
    threshold = identify_cut(centre.settings, len(gallery.entries)).threshold
    found = gallery.search(_probes(centre, job), threshold=threshold, limit=SEARCH_LIMIT)
    allowed = [c for c in found if uses.permitted("identify", _basis_of(centre, c["enrollment_id"]), kind)]
    allowed = allowed[:int(job.get("max_candidates", 10))]
    return Result(request_id=job["_id"], kind="identify", status="CANDIDATES" if allowed else "NO_CANDIDATES",
                  candidates=tuple(Candidate(**c) for c in allowed))


def _basis_of(centre: Centre, enrollment_id: str) -> str | None:
    enrollment = centre.store.get(ENROLLMENTS, enrollment_id)
    return enrollment.get("legal_basis") if enrollment else None


def audit_use(centre: Centre, job: dict, done: Result) -> None:
    """Every verification and identification in the trail: who asked (the authenticated sender), as what (the
    kind the centre registered), for which purpose (the rule of the use), and what it was told (ids only)."""
    use = job["kind"]
    kind = recipient_kind(centre.store, job.get("sender_id"))
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": job["iin_hash"]}) if job.get("iin_hash") else None
    purposes = sorted({u.citation for u in uses.USES if u.use == use and kind in u.kinds})
    audit.append(centre, "verified" if use == "verify" else "identified",
                 subject_id=subject["_id"] if subject else None, actor=job.get("sender_id") or "unknown",
                 rule=rule("use_audited").citation,
                 details={"request_id": job["_id"], "requester_kind": kind, "purpose": "; ".join(purposes) or None,
                          "status": done.status, "reason": done.reason,
                          "candidates": [c.enrollment_id for c in done.candidates]})


def answer_probe(centre: Centre, gallery: Gallery, request_id: str) -> Result | None:
    """Answer a stored verify / identify job once; the probe key is destroyed when answered."""
    def compute(job: dict) -> Result:
        try:
            done = verify(centre, gallery, job) if job["kind"] == "verify" else identify(centre, gallery, job)
        except DataKeyDestroyed:
            done = Result(request_id=request_id, kind=job["kind"], status="REFUSED", reason="probe_expired")
        audit_use(centre, job, done)
        return done

    done, job = results.answer_job(centre.store, centre.publisher, request_id, compute)
    if job is not None:
        centre.cipher.forget(job_key_subject(request_id))   # the probe templates become unreadable
        centre.store.delete(JOBS, {"_id": request_id})
    return done
