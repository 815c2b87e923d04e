"""The MOSIP operations over Papilla's own admission, matching and lifecycle code.

insert:   the CBEFF fingers are extracted and stored by admission (`accept_partner_enrollment`) and admitted
          to the gallery by the lifecycle's state machine (`enrollments.activate`, EXTRACTED → ACTIVE): MOSIP
          de-duplicates with identify, so insert does not (ABIS API: "De-duplication must not be performed").
identify: the gallery searched by the matcher at the cut `matching.identify_cut` sets for the targetFPIR asked
          (or the centre's), against the whole gallery or the named references; blocked subjects are not in
          the gallery, so they are never candidates.
delete:   the lifecycle's destruction on application (`commands.destroy`), with the partner's principal as the
          actor whose role the role table checks and the audit records; a blocked subject is not destroyed.
Every operation is audited with the partner service as actor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from papilla.services.abis import cbeff
from papilla.services.abis.failures import AbisFailure, Reason
from papilla.services.abis.partner import AbisPartner, check_registered
from papilla.services.abis.requests import AbisRequest
from papilla.services.abis.responses import Match, Outcome
from papilla.services.admission.intake import PartnerEnrollment, accept_partner_enrollment
from papilla.services.extract.templating import finger_records
from papilla.services.lifecycle import commands, enrollments
from papilla.services.match import engine, matching
from papilla.services.match.gallery import Gallery
from papilla.shared import audit
from papilla.shared.centre import Centre
from papilla.shared.legal import roles, states
from papilla.shared.names import ENROLLMENTS, JOBS


@dataclass
class AbisContext:
    """What the operations work on. `pending` counts requests received and not yet answered (the queue
    adapter's; 0 when one request is processed offline)."""

    centre: Centre
    gallery: Gallery
    partner: AbisPartner
    fetch_params: cbeff.FetchParams = field(default_factory=cbeff.FetchParams)
    pending: Callable[[], int] = lambda: 0


def enrollment_id(partner: AbisPartner, reference_id: str) -> str:
    return f"abis:{partner.service_id}:{reference_id}"


def reference_of(partner: AbisPartner, enrollment: str) -> str | None:
    prefix = f"abis:{partner.service_id}:"
    return enrollment[len(prefix):] if enrollment.startswith(prefix) else None


def subject_hash(ctx: AbisContext, reference_id: str) -> str:
    """Keyed hash of the partner's reference (hex first: the document hash folds case and drops punctuation)."""
    return ctx.centre.hasher.hash_document(f"abis:{ctx.partner.service_id}", reference_id.encode().hex())


def _enrollment(ctx: AbisContext, reference_id: str) -> dict | None:
    return ctx.centre.store.get(ENROLLMENTS, enrollment_id(ctx.partner, reference_id))


def _audit(ctx: AbisContext, action: str, request: AbisRequest, subject_id: str | None = None, **details) -> None:
    audit.append(ctx.centre, action, subject_id=subject_id, actor=ctx.partner.service_id,
                 details={"request_id": request.request_id, **details})


def insert(ctx: AbisContext, request: AbisRequest) -> Outcome:
    check_registered(ctx.centre.senders, ctx.partner, "enroll")
    if _enrollment(ctx, request.reference_id) is not None:
        raise AbisFailure(Reason.REFERENCE_ID_EXISTS, "the referenceId was inserted before")
    fingers = cbeff.fingers_of(cbeff.fetch(request.reference_url, ctx.fetch_params))
    accepted = accept_partner_enrollment(ctx.centre, PartnerEnrollment(
        enrollment_id=enrollment_id(ctx.partner, request.reference_id),
        subject_hash=subject_hash(ctx, request.reference_id), sender_id=ctx.partner.service_id,
        principal_id=ctx.partner.principal_id, purpose=ctx.partner.legal_basis, fingers=fingers,
        captured_at=request.request_time))
    enrollment = ctx.centre.store.get(ENROLLMENTS, accepted.enrollment_id)
    state = enrollments.activate(ctx.centre, enrollment, actor=ctx.partner.principal_id)
    enrollments.complete_gallery(ctx.centre, ctx.centre.store.get(ENROLLMENTS, accepted.enrollment_id))
    _audit(ctx, "abis_insert", request, enrollment["subject_id"], enrollment_id=accepted.enrollment_id, state=state,
           positions=[f.position for f in fingers if f.image is not None])
    return Outcome()


def _probes(ctx: AbisContext, request: AbisRequest) -> tuple[dict, str | None]:
    """The probe fingers (prepared) and the enrollment they come from (excluded from the candidates)."""
    if request.reference_id is not None:
        enrollment = _enrollment(ctx, request.reference_id)
        if enrollment is None or enrollment["state"] != states.ACTIVE:
            raise AbisFailure(Reason.REFERENCE_ID_NOT_FOUND, "the referenceId is not in the reference database")
        return ctx.gallery.fingers_of(enrollment["_id"], enrollment["subject_id"]), enrollment["_id"]
    fingers = cbeff.fingers_of(cbeff.fetch(request.reference_url, ctx.fetch_params))
    return {r.position: engine.prepare(r.template) for r in finger_records(fingers, enrollment=False)}, None


def identify(ctx: AbisContext, request: AbisRequest) -> Outcome:
    check_registered(ctx.centre.senders, ctx.partner)
    probes, own = _probes(ctx, request)
    ctx.gallery.sync()
    within = None if request.gallery is None else {enrollment_id(ctx.partner, r) for r in request.gallery}
    size = len(ctx.gallery.entries) if within is None else len(within & set(ctx.gallery.entries))
    cut = matching.identify_cut(ctx.centre.settings, size, request.flags.fpir)
    limit = request.flags.max_results or ctx.partner.max_results
    found = ctx.gallery.search(probes, threshold=cut.threshold, exclude={own} if own else set(),
                               limit=len(ctx.gallery.entries) if within is not None else limit)
    matches = []
    for candidate in found:
        reference = reference_of(ctx.partner, candidate["enrollment_id"])
        if reference is not None and (within is None or candidate["enrollment_id"] in within):
            matches.append(Match(reference, float(candidate["score"]), dict(candidate.get("finger_scores", {}))))
    matches = matches[:limit]
    _audit(ctx, "abis_identify", request, candidates=len(matches), fmr=cut.fmr, gallery_size=size)
    return Outcome(candidates=tuple(matches))


def delete(ctx: AbisContext, request: AbisRequest) -> Outcome:
    check_registered(ctx.centre.senders, ctx.partner, "destroy")
    roles.check_applicant("destroy", ctx.partner.delete_on_application_of)
    enrollment = _enrollment(ctx, request.reference_id)
    if enrollment is None:
        raise AbisFailure(Reason.REFERENCE_ID_NOT_FOUND, "the referenceId is not in the reference database")
    job = {"_id": request.request_id, "principal_id": ctx.partner.principal_id,
           "on_application_of": ctx.partner.delete_on_application_of,
           "iin_hash": subject_hash(ctx, request.reference_id)}
    result = commands.destroy(ctx.centre, job, trigger="destroyed_on_application")
    if result.status != states.DESTROYED:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"deletion refused: {result.detail or result.reason}",
                          rule=result.rule)
    _audit(ctx, "abis_delete", request, enrollment_id=enrollment["_id"], rule=result.rule)
    return Outcome()


def reference_count(ctx: AbisContext, request: AbisRequest) -> Outcome:
    check_registered(ctx.centre.senders, ctx.partner)
    count = ctx.centre.store.count(ENROLLMENTS, {"partner": ctx.partner.service_id, "state": states.ACTIVE})
    return Outcome(count=count)


def pending_jobs(ctx: AbisContext, request: AbisRequest) -> Outcome:
    check_registered(ctx.centre.senders, ctx.partner)
    return Outcome(count=ctx.pending())


def ping(ctx: AbisContext, request: AbisRequest) -> Outcome:
    ctx.centre.store.count(JOBS, {})      # the store answers: the ABIS is alive
    return Outcome(count=ctx.pending())


OPERATIONS = {"insert": insert, "identify": identify, "delete": delete, "referenceCount": reference_count,
              "pendingJobs": pending_jobs, "ping": ping}
