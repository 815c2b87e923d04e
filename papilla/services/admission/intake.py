"""The extract stage: open sealed packets and requests, extract, store encrypted.

Pure domain code over a `Centre`; the dramatiq actors in `services/workers/` only
decode arguments, call these functions and send the next message.
Idempotent by packet / request id: a redelivered message finds its work done.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone

from papilla.services.extract.templating import FingerRecord, finger_records
from papilla.services.lifecycle import consents, retention, transfers
from papilla.shared import audit, results
from papilla.shared.centre import Centre
from papilla.shared.config import operational_retention
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin, validate_iin
from papilla.shared.crypto.sealing import OpenedPacket, SealError, open_sealed, peek_header
from papilla.shared.errors import Refusal
from papilla.shared.legal import bases, eligibility, states, uses
from papilla.shared.legal.decide import Decision, Policy, check_recollection, decide, from_packet, local_date
from papilla.shared.legal.roles import check_applicant
from papilla.shared.legal.rules import refuse, rule
from papilla.shared.messages import (
    EnrollmentPacket,
    IdentifyRequest,
    LifecycleCommand,
    MessageError,
    Result,
    StationStatusRequest,
    VerifyRequest,
    parse_request,
)
from papilla.shared.names import BIOMETRICS, ENROLLMENTS, JOBS, SUBJECTS, job_key_subject
from papilla.shared.parties import recipient_kind
from papilla.shared.principals import check_signed_by
from papilla.shared.store.base import DuplicateKeyError
from papilla.shared.store.expiry import expires_after
from papilla.shared.template import template_to_bytes


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def open_message(centre: Centre, sealed: bytes, *, sender_kind: str) -> tuple[OpenedPacket, object]:
    """Verify the sender's seal and validate the message inside, or raise a Refusal."""
    try:
        opened = open_sealed(sealed, senders=centre.senders, centre_private=centre.centre_key)
    except SealError as exc:
        raise Refusal(_seal_refusal(exc, sealed), code=exc.code, rule=rule("cryptographic_protection").citation) from None
    record = centre.senders.get(opened.sender_id)
    if record.kind != sender_kind:
        raise Refusal(f"sender {opened.sender_id} is a {record.kind}, this queue accepts {sender_kind} messages",
                      code="wrong_sender_kind")
    try:
        message = parse_request(opened.payload)
    except MessageError as exc:
        raise Refusal(str(exc), code=exc.code) from None
    return opened, message


def _seal_refusal(exc: SealError, sealed: bytes) -> str:
    """The sentence a sender reads (ids only; the header is unauthenticated, so nothing else is echoed)."""
    try:
        sender = peek_header(sealed).sender_id
    except SealError:
        return str(exc)
    return {"unknown_sender": f"{sender} is not registered at the centre",
            "revoked_sender": f"{sender} was revoked at the centre",
            "bad_signature": f"the packet's signature is not {sender}'s (altered, or signed with another key)",
            "decryption_failed": "the packet was not sealed to this centre's key (wrong centre public key file?)",
            }.get(exc.code, str(exc))


def checked_iin(iin: str) -> str:
    try:
        return validate_iin(iin)
    except InvalidIIN as exc:
        raise Refusal(f"applicant IIN invalid: {exc}", code="invalid_iin") from None


def subject_for(centre: Centre, iin: str, *, create: bool) -> dict | None:
    """The subject record of this IIN, found by keyed hash (created once, race-free)."""
    return subject_by_hash(centre, centre.hasher.hash(iin), iin.encode(), create=create)


def subject_by_hash(centre: Centre, iin_hash: str, iin: bytes | None, *, create: bool) -> dict | None:
    """The subject found by its keyed hash (an IIN's, or a partner reference's for a person a partner system
    registered, whose IIN Papilla never holds: `iin` None), created once, race-free."""
    found = centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash})
    if found or not create:
        return found
    subject_id = f"sub-{_random_id()}"
    doc = {"_id": subject_id, "iin_hash": iin_hash, "created_at": now_iso(), "state": states.REGISTERED}
    if iin is not None:
        doc["iin"] = centre.cipher.encrypt(subject_id, SUBJECTS, subject_id, "iin", iin)
    try:
        centre.store.insert(SUBJECTS, doc)
        return doc
    except DuplicateKeyError:
        centre.cipher.shred(subject_id)  # the data key made for the losing record
        return centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash})


@dataclass(frozen=True)
class Accepted:
    enrollment_id: str
    state: str


def accept_enrollment(centre: Centre, sealed: bytes, *, today: date | None = None) -> Accepted:
    """Open, check, extract and store an enrollment packet; state EXTRACTED (or what it already reached)."""
    opened, packet = open_message(centre, sealed, sender_kind="station")
    if not isinstance(packet, EnrollmentPacket):
        raise Refusal("the enrollment queue accepts papilla.enrollment/3 packets only", code="wrong_schema")
    try:
        check_station_and_operator(centre, opened, packet.packet_id, packet)
        return _accept_packet(centre, packet, today)
    except Refusal as refusal:   # answered on the authenticated sender's own queue
        refusal.request_id, refusal.reply_to, refusal.kind = opened.packet_id, opened.sender_id, "enrollment"
        raise


def check_station_and_operator(centre: Centre, opened: OpenedPacket, message_id: str, message) -> str:
    """What a station's message must be before anything it carries is looked at (the seal already proved a
    registered, unrevoked station): its ids as the sealed header says, results for the station itself, and
    signed by a registered, active operator whose role may enroll. Returns that operator's role."""
    if message_id != opened.packet_id or message.station_id != opened.sender_id:
        raise Refusal("packet id or station id differs from the sealed header", code="header_mismatch")
    bound_reply_to(opened.sender_id, message.reply_to)
    return check_signed_by(centre.senders, message.operator_id, message.operator_signature, message, "enroll")


def answer_station_status(centre: Centre, sealed: bytes) -> Result:
    """`station_status`, stored and published to the station's own results queue."""
    answer = station_status(centre, sealed)
    return results.deliver(centre.store, centre.publisher, answer, peek_header(sealed).sender_id)


def station_status(centre: Centre, sealed: bytes) -> Result:
    """The answer to a station's question before capture (`StationStatusRequest`): the same checks its packet
    will meet (`open_message`, `check_station_and_operator`), so a revoked station or operator, or a role that
    may not enroll, learns it before ten fingers are taken. A refusal is raised, and answered like a packet's."""
    opened, question = open_message(centre, sealed, sender_kind="station")
    if not isinstance(question, StationStatusRequest):
        raise Refusal("the station status actor accepts papilla.station-status/1 questions only", code="wrong_schema")
    try:
        role = check_station_and_operator(centre, opened, question.request_id, question)
    except Refusal as refusal:
        refusal.request_id, refusal.reply_to, refusal.kind = opened.packet_id, opened.sender_id, "status"
        raise
    return Result(request_id=question.request_id, kind="status", status="REGISTERED",
                  rule=rule("identity_and_consent").citation,
                  detail=f"station {opened.sender_id} and operator {question.operator_id} (role {role}) may enroll")


def _accept_packet(centre: Centre, packet: EnrollmentPacket, today: date | None) -> Accepted:
    existing = centre.store.get(ENROLLMENTS, packet.packet_id)
    if existing:
        return Accepted(existing["_id"], existing["state"])

    iin = checked_iin(packet.applicant.iin)
    known = subject_for(centre, iin, create=False)
    if known is not None:   # blocked comes first: the station learns that, not "verify instead" (Law Art.1 7))
        states.check_subject(known, "enrolled")
    decision = legal_decision(centre, packet, iin, today)
    eligibility.check_identity(packet.applicant)
    eligibility.check_consent(packet.consent, applicant=packet.applicant, operator_id=packet.operator_id,
                              purpose=packet.purpose, collected_on=local_date(packet.captured_at, Policy.from_env()),
                              required=eligibility.consent_required(decision))

    records = finger_records(packet.fingers, enrollment=True)
    if not records:     # never a record without the information it is made of (Law Art.1 5); Art.10-1 p.4)
        raise refuse("no_record_without_biometrics", "no_biometrics",
                     "the packet carries no captured finger: no record is made without dactyloscopic information")
    subject = subject_for(centre, iin, create=True)
    states.check_subject(subject, "enrolled")   # a blocked subject is not collected again (Law Art.1 7))
    enrollment_id = packet.packet_id
    for record in records:
        _store_finger(centre, subject["_id"], enrollment_id, record, _image_of(packet, record.position))
    document = packet.applicant.document
    personal = json.dumps({"full_name": packet.applicant.full_name,
                           "document": document.model_dump(mode="json"),
                           "consent": packet.consent.model_dump(mode="json") if packet.consent else None}).encode()
    doc = {
        "_id": enrollment_id, "subject_id": subject["_id"],
        "state": states.initial_enrollment_state(), "state_trigger": "extracted",
        "station_id": packet.station_id, "operator_id": packet.operator_id, "created_at": now_iso(),
        "captured_at": packet.captured_at.isoformat(), "reply_to": packet.station_id,
        "reenrollment_reason": packet.reenrollment_reason,
        "finger_status": {str(f.position): f.status.value for f in packet.fingers},
        "finger_quality": {str(r.position): int(r.template.quality) for r in records},
        "personal": centre.cipher.encrypt(subject["_id"], ENROLLMENTS, enrollment_id, "personal", personal),
        "document_hash": centre.hasher.hash_document(document.type, document.number),   # keyed, like iin_hash
    }
    doc["decision"] = decision.as_dict()   # the rule that allowed it, decided here (shared/legal/decide.py)
    # -- retention (services/lifecycle/retention.py): the legal basis, and the term it sets, at enrollment --
    doc["legal_basis"] = packet.purpose
    retention.record_term(centre, enrollment_id, subject["_id"], packet.purpose, packet.captured_at)
    # the consent the branch took, as a record (before the enrollment: a redelivery after a crash finds both)
    if packet.consent is not None:   # a mandatory category is registered without it (Law Art.10 p.2)
        consents.record_given(centre, subject["_id"], enrollment_id, signed_by=packet.consent.signed_by,
                              accepted_by=packet.consent.accepted_by, legal_basis=packet.purpose)
    try:
        centre.store.insert(ENROLLMENTS, doc)
    except DuplicateKeyError:  # a concurrent redelivery won
        doc = centre.store.get(ENROLLMENTS, enrollment_id)
    return Accepted(enrollment_id, doc["state"])


@dataclass(frozen=True)
class PartnerEnrollment:
    """An enrollment sent by a registered partner system (a MOSIP registration processor through the ABIS
    adapter, services/abis): the partner identified the applicant, took the consent and decided the application
    under the legal basis it is registered with; Papilla knows the person by the keyed hash of the partner's
    reference only. The partner's principal is the actor of record (its role is checked by the caller)."""

    enrollment_id: str
    subject_hash: str            # keyed hash of the partner's reference (`IinHasher.hash_document`)
    sender_id: str               # the registered service that sent it
    principal_id: str            # the registered principal on whose authority the partner acts
    purpose: str                 # the partner's legal basis (shared/legal/bases.py)
    fingers: list
    captured_at: datetime


def accept_partner_enrollment(centre: Centre, application: PartnerEnrollment) -> Accepted:
    """Extract and store a partner's enrollment (EXTRACTED), through the same extraction, storage, state machine
    and retention as a station's packet; a redelivery finds it done. Refusals: blocked subject, unusable fingers."""
    existing = centre.store.get(ENROLLMENTS, application.enrollment_id)
    if existing:
        return Accepted(existing["_id"], existing["state"])
    legal_basis = bases.basis(application.purpose)
    records = finger_records(application.fingers, enrollment=True)
    subject = subject_by_hash(centre, application.subject_hash, None, create=True)
    states.check_subject(subject, "enrolled")
    enrollment_id = application.enrollment_id
    for record in records:
        image = next(f.image for f in application.fingers if f.position == record.position)
        _store_finger(centre, subject["_id"], enrollment_id, record, image)
    doc = {"_id": enrollment_id, "subject_id": subject["_id"], "state": states.initial_enrollment_state(),
           "state_trigger": "extracted", "station_id": application.sender_id,
           "operator_id": application.principal_id, "created_at": now_iso(),
           "captured_at": application.captured_at.isoformat(), "reply_to": None, "reenrollment_reason": None,
           "finger_status": {str(f.position): f.status.value for f in application.fingers},
           "finger_quality": {str(r.position): int(r.template.quality) for r in records},
           "decision": {"decision": "decided_by_partner", "rule": legal_basis.rule_id,
                        "citation": legal_basis.collected_under},
           "legal_basis": application.purpose, "partner": application.sender_id}
    retention.record_term(centre, enrollment_id, subject["_id"], application.purpose, application.captured_at)
    try:
        centre.store.insert(ENROLLMENTS, doc)
    except DuplicateKeyError:
        doc = centre.store.get(ENROLLMENTS, enrollment_id)
    return Accepted(enrollment_id, doc["state"])


def legal_decision(centre: Centre, packet: EnrollmentPacket, iin: str, today: date | None) -> Decision:
    """The centre decides the application again (never trusting the station's decision, nor its word on a
    previous registration: the centre's store says whether this person holds an ACTIVE enrollment, Law Art.10
    p.3, Rules 406 p.8-9) or raises its Refusal."""
    registered = previously_registered(centre, iin)
    check_recollection(packet, registered)
    decision = decide(from_packet(packet, birth_date_from_iin(iin), today or packet.captured_at,
                                  previously_registered=registered), Policy.from_env())
    if not decision.allows:
        raise decision.refusal()
    return decision


def previously_registered(centre: Centre, iin: str) -> bool:
    """Does the centre hold an ACTIVE enrollment of the person with this IIN (found by its keyed hash)?"""
    subject = subject_for(centre, iin, create=False)
    return subject is not None and centre.store.find_one(ENROLLMENTS, {"subject_id": subject["_id"],
                                                                       "state": "ACTIVE"}) is not None


def _image_of(packet: EnrollmentPacket, position: int) -> bytes:
    return next(f.image for f in packet.fingers if f.position == position)


def _store_finger(centre: Centre, subject_id: str, enrollment_id: str, record: FingerRecord, image: bytes) -> None:
    doc_id = f"{enrollment_id}:{record.position}"
    enc = centre.cipher.encrypt
    doc = {
        "_id": doc_id, "enrollment_id": enrollment_id, "subject_id": subject_id, "position": record.position,
        "quality": int(record.template.quality),
        "image": enc(subject_id, BIOMETRICS, doc_id, "image", image),
        "template": enc(subject_id, BIOMETRICS, doc_id, "template", template_to_bytes(record.template)),
    }
    try:
        centre.store.insert(BIOMETRICS, doc)
    except DuplicateKeyError:
        pass  # written by an earlier delivery of the same packet


def accept_command(centre: Centre, sealed: bytes) -> str:
    """Open a lifecycle command (its own queue, served by the lifecycle worker) and store it as a job."""
    return accept_request(centre, sealed, lifecycle=True)[0]


def accept_request(centre: Centre, sealed: bytes, *, lifecycle: bool = False) -> tuple[str, str]:
    """Open a verify / identify request (or, with `lifecycle`, a lifecycle command) and store it as a job.
    Returns (request id, job kind)."""
    opened, request = open_message(centre, sealed, sender_kind="service")
    if isinstance(request, (EnrollmentPacket, StationStatusRequest)):
        raise Refusal("enrollment packets and station questions go to the enrollment queue", code="wrong_schema")
    if isinstance(request, LifecycleCommand) != lifecycle:
        raise Refusal("lifecycle commands go to the papilla.command queue, verify and identify requests to "
                      "papilla.request", code="wrong_queue")
    try:
        if request.request_id != opened.packet_id:
            raise Refusal("request id differs from the sealed header", code="header_mismatch")
        bound_reply_to(opened.sender_id, request.reply_to)
        if isinstance(request, LifecycleCommand):
            check_signed_by(centre.senders, request.principal_id, request.principal_signature, request,
                            request.action.value)
            check_applicant(request.action.value, request.on_application_of)
            transfers.check_approval(centre.senders, request)     # a transfer's second principal (Law Art.9 p.4)
        else:     # what the sender is, as the centre registered it, may use some record this way (Rules 395 p.18)
            uses.check_may_use(request_kind(request), recipient_kind(centre.store, opened.sender_id))
        return _accept_job(centre, opened, request)
    except Refusal as refusal:   # answered on the authenticated sender's own queue
        refusal.request_id, refusal.reply_to, refusal.kind = opened.packet_id, opened.sender_id, request_kind(request)
        if isinstance(request, LifecycleCommand):    # a refused act (wrong role, bad signature…) is in the trail
            audit.record_refusal(centre, "command_refused", actor=request.principal_id, code=refusal.code,
                                 rule=refusal.rule, request_id=request.request_id, command=request.action.value,
                                 sender=opened.sender_id)
        raise


def bound_reply_to(sender_id: str, reply_to: str | None) -> None:
    """Results go to the authenticated sender only: a reply_to naming another party is refused."""
    if reply_to is not None and reply_to != sender_id:
        raise Refusal(f"reply_to must be the sender's own id {sender_id}", code="reply_to_not_owned")


def request_kind(request) -> str:
    """The Result kind answering `request`."""
    if isinstance(request, LifecycleCommand):
        return "lifecycle"
    return "verify" if isinstance(request, VerifyRequest) else "identify"


def _accept_job(centre: Centre, opened: OpenedPacket, request) -> tuple[str, str]:
    existing = centre.store.get(JOBS, request.request_id)
    if existing:
        return existing["_id"], existing["kind"]
    doc = {"_id": request.request_id, "reply_to": opened.sender_id, "state": "pending", "created_at": now_iso(),
           "sender_id": opened.sender_id}
    if isinstance(request, LifecycleCommand):
        # when the application left the branch (the sender's signed sealing time, never later than now): a
        # command that waited in RabbitMQ through a lifecycle outage is still judged by the day it was received
        doc["received_at"] = min(opened.created_at, datetime.now(timezone.utc)).isoformat()
        doc.update(kind="lifecycle", action=request.action.value, reason=request.reason,
                   principal_id=request.principal_id, on_application_of=request.on_application_of,
                   enrollment_id=request.enrollment_id, decision=request.decision, approver_id=request.approver_id,
                   transfer=request.transfer.model_dump(mode="json") if request.transfer else None)
        if request.iin is not None:
            doc["iin_hash"] = centre.hasher.hash(checked_iin(request.iin))
    else:
        doc.update(kind=request_kind(request))
        if isinstance(request, VerifyRequest):
            doc["iin_hash"] = centre.hasher.hash(checked_iin(request.iin))
        if isinstance(request, IdentifyRequest):
            doc["max_candidates"] = request.max_candidates
        # a probe job never answered (its message dead-lettered) expires with its probes' key; a lifecycle
        # command never does (an unanswered destruction application stays overdue until it is carried out)
        doc["expire_at"] = expire_at = expires_after(operational_retention().jobs_days)
        records = finger_records(request.fingers, enrollment=False)
        if not records:
            raise Refusal("the request carries no captured finger", code="no_probe_fingers")
        key_subject = job_key_subject(request.request_id)
        doc["probes"] = {str(r.position): centre.cipher.encrypt(key_subject, JOBS, request.request_id,
                                                               f"probe{r.position}", template_to_bytes(r.template),
                                                               key_expire_at=expire_at)
                         for r in records}
    try:
        centre.store.insert(JOBS, doc)
    except DuplicateKeyError:
        pass
    return doc["_id"], doc["kind"]


def _random_id() -> str:
    return secrets.token_hex(12)
