"""The branch station's enrollment workflow (the CLI is its first front end; a browser console comes later).

identify by document -> legal basis -> decision with its citation -> consent record -> capture each finger
against the quality gate, with the operator's choice when one stays below it (`workflow`) -> decide again on
the fingers as captured -> sign (operator) -> seal (station) -> outbox -> `Receipt`.

`shared.legal.decide` and `shared.legal.eligibility` are the same checks the centre runs again on the packet.
The packet is sealed to the centre and handed to the outbox, which keeps it on disk until RabbitMQ confirms it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from papilla.shared.crypto.iin import birth_date_from_iin, validate_iin
from papilla.shared.crypto.sealing import seal
from papilla.shared.legal import eligibility
from papilla.shared.legal.decide import Application, Attendee, Decision, Policy, decide, local_date, record
from papilla.shared.messages import (
    Applicant,
    Consent,
    EnrollmentPacket,
    Finger,
    FingerStatus,
    IdentityDocument,
    LifecycleAction,
    LifecycleCommand,
    Present,
    encode,
)
from papilla.shared.parties import PartyKeys
from papilla.shared.principals import sign

from .devices import CapturedImage
from .outbox import Outbox
from .workflow import (  # noqa: F401
    Choice,
    EnrollmentAborted,
    FingerLine,
    FixedChoice,
    OperatorDecisions,
    QualityGate,
    Receipt,
    capture_finger,
    exception_line,
)

#: The consent form the station records (the Annex to Rules 406, as approved in 2020).
CONSENT_FORM = "406-annex-2020"


@dataclass(frozen=True)
class ConsentForm:
    """What the operator reads off the signed consent form (Rules 406 p.3 and Annex). No field has a default:
    nothing about consent may be assumed. Name, date of birth and IIN on the form are the applicant's (the
    operator compared them; the centre checks them again on the record).

    signature_ref:        reference of the signed form (scan or register number at the branch)
    signed_on:            the date of consent written on the form
    conditions_explained: the operator explained the conditions and grounds of use (p.3 para.2); must be true
    signed_by:            subject | legal_representative | custodian
    application_ref:      the representative's or custodian's written application, when they sign
    """

    signature_ref: str
    signed_on: date
    conditions_explained: bool
    signed_by: str
    application_ref: str | None = None


def image_quality(image: CapturedImage) -> int:
    # lazy: the engine loads numba and JIT-compiles; every `papilla` command imports this module to build its
    # parser, and units such as papilla-audit-verify run with MemoryDenyWriteExecute (no JIT allowed)
    from papilla.services.extract.quality import finger_quality

    return finger_quality(image.png, image.dpi)


class Station:
    def __init__(self, *, station_id: str, signing_key: Ed25519PrivateKey, centre_public: X25519PublicKey,
                 outbox: Outbox, gate: QualityGate = QualityGate(),
                 measure: Callable[[CapturedImage], int] = image_quality):
        self.station_id = station_id
        self.signing_key = signing_key
        self.centre_public = centre_public
        self.outbox = outbox
        self.gate = gate
        self.measure = measure

    def enroll(self, *, iin: str, full_name: str, document: IdentityDocument, consent: ConsentForm | None, scanner,
               operator: PartyKeys, decisions: OperatorDecisions | None = None,
               finger_status: dict[int, str] | None = None, legal_capacity: str = "full",
               basis: str = "public_service_authentication", citizenship: str = "citizen",
               present: tuple[Present, ...] = (), reenrollment_reason: str | None = None,
               today: date | None = None, policy: Policy | None = None) -> Receipt:
        """Identify, decide, record consent, capture, sign (by the operator), seal (by the station) and submit.

        decisions: the operator's choices during capture (default: abort when a finger stays below the gate).
        Raises a Refusal (identity, decision or consent) before capture, `EnrollmentAborted` when the operator
        aborts, and a Refusal after capture when the fingers as captured no longer allow the enrollment."""
        now = datetime.now(timezone.utc)
        policy = policy or Policy.from_env()
        applicant = Applicant(iin=validate_iin(iin), full_name=full_name, legal_capacity=legal_capacity,
                              citizenship=citizenship, present=tuple(present), document=document)
        eligibility.check_identity(applicant)
        statuses = finger_status or {p: "captured" for p in range(1, 11)}
        application = Application(basis=basis, birth=birth_date_from_iin(iin), applied_at=today or now,
                                  citizenship=citizenship, capacity=legal_capacity,
                                  present=tuple(Attendee(p.role, p.written_application) for p in present),
                                  fingers=statuses, previously_registered=reenrollment_reason is not None,
                                  reason=reenrollment_reason)
        first = allowing(decide(application, policy))
        signed = consent_record(consent, applicant, operator.party_id, basis) if consent is not None else None
        eligibility.check_consent(signed, applicant=applicant, operator_id=operator.party_id, purpose=basis,
                                  collected_on=local_date(now, policy), required=eligibility.consent_required(first))
        fingers, lines = self.capture_all(scanner, statuses, decisions or FixedChoice())
        decision = allowing(decide(_with_fingers(application, fingers), policy))   # exceptions change the fingers
        receipt = Receipt(f"{self.station_id}-{now:%Y%m%d}-{secrets.token_hex(8)}", self.station_id,
                          operator.party_id, decision, lines)
        packet = EnrollmentPacket(packet_id=receipt.packet_id, station_id=self.station_id,
                                  operator_id=operator.party_id, captured_at=now, purpose=basis,
                                  decision=record(decision), applicant=applicant, consent=signed, fingers=fingers,
                                  reenrollment_reason=reenrollment_reason)
        packet = sign(packet, "operator_signature", operator.signing)
        sealed = seal(encode(packet), sender_id=self.station_id, packet_id=receipt.packet_id,
                      signing_key=self.signing_key, centre_public=self.centre_public)
        receipt.confirmed = self.outbox.submit(receipt.packet_id, sealed)
        return receipt

    def capture_all(self, scanner, statuses: dict[int, str],
                    decisions: OperatorDecisions) -> tuple[list[Finger], list[FingerLine]]:
        """Every finger to take, in position order; the others recorded with their status."""
        fingers, lines = [], []
        for position, status in sorted(statuses.items()):
            if status != "captured":
                fingers.append(Finger(position=position, status=status))
                lines.append(exception_line(position, status))
                continue
            image, line = capture_finger(scanner, position, self.gate, decisions, self.measure)
            lines.append(line)
            fingers.append(Finger(position=position, status=line.status) if image is None else
                           Finger(position=position, status=FingerStatus.CAPTURED, image=image.png, format="png",
                                  dpi=image.dpi))
        return fingers, lines


def allowing(decision: Decision) -> Decision:
    if not decision.allows:
        raise decision.refusal()
    return decision


def consent_record(form: ConsentForm, applicant: Applicant, operator_id: str, basis: str) -> Consent:
    """The consent as the packet carries it: the form's facts, with the applicant's name, birth date and IIN."""
    return Consent(form_version=CONSENT_FORM, full_name=applicant.full_name,
                   birth_date=birth_date_from_iin(applicant.iin), iin=applicant.iin, signed_on=form.signed_on,
                   accepted_by=operator_id, signature_ref=form.signature_ref,
                   conditions_explained=form.conditions_explained, purposes=(basis,), signed_by=form.signed_by,
                   application_ref=form.application_ref)


def _with_fingers(application: Application, fingers: list[Finger]) -> Application:
    return replace(application, fingers={f.position: f.status.value for f in fingers})


def default_signer(legal_capacity: str, present: tuple[Present, ...]) -> tuple[str, str | None]:
    """Who signed, when the operator does not say: a person found incapacitated does not sign, so the custodian
    (trustee) present signs with their written application; anyone else signs their own consent (a child
    of 12-16 too: Law Art.11 p.2, the representative brings the application). (signed_by, application_ref)"""
    if legal_capacity == "incapacitated":
        for p in present:
            if p.role in ("custodian", "trustee"):
                return "custodian", p.written_application
    return "subject", None


#: The person's written applications a branch receives and sends on to the centre as lifecycle commands:
#: destruction (Rules 406 p.11), withdrawal of consent (Rules 395 p.6), the demand to block (Rules 395 p.25), the
#: request to know what is held (Rules 395 p.15-16).
BRANCH_APPLICATIONS = ("destroy", "withdraw_consent", "block_on_demand", "receive_access_request")


def subject_application(action: str, *, request_id: str, reply_to: str, iin: str, applicant: str, reason: str,
                        operator: PartyKeys) -> LifecycleCommand:
    """The command for a person's written application received at the branch, signed by the operator who received
    it (`applicant`: subject, legal_representative or custodian). The branch's service sends it
    (`PapillaClient.lifecycle` does the same from the command line); the centre decides it and cites the rule."""
    if action not in BRANCH_APPLICATIONS:
        raise ValueError(f"a branch receives applications to {', '.join(BRANCH_APPLICATIONS)}, not {action!r}")
    command = LifecycleCommand(request_id=request_id, reply_to=reply_to, action=LifecycleAction(action),
                               iin=validate_iin(iin), reason=reason, principal_id=operator.party_id,
                               on_application_of=applicant)
    return sign(command, "principal_signature", operator.signing)
