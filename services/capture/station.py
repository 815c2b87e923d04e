"""The branch station's enrollment workflow.

The legal decision and consent first (`shared.legal.decide`, which the centre runs again), then
every existing finger is captured with a quality gate and retakes, the
packet is sealed (signed by the station, encrypted to the centre) and handed
to the outbox, which keeps it on disk until RabbitMQ confirms it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from papilla.shared.crypto.iin import birth_date_from_iin, validate_iin
from papilla.shared.crypto.sealing import seal
from papilla.shared.legal import eligibility
from papilla.shared.legal.decide import Application, Attendee, Decision, Policy, decide, record
from papilla.shared.messages import Applicant, Consent, EnrollmentPacket, Finger, FingerStatus, Present, encode
from papilla.shared.parties import PartyKeys
from papilla.shared.principals import sign

from .outbox import Outbox


@dataclass(frozen=True)
class QualityGate:
    """Retake a finger whose quality is below `min_quality`, up to `max_attempts` captures; keep the best."""

    min_quality: int = 20
    max_attempts: int = 3


@dataclass
class CaptureReport:
    packet_id: str
    qualities: dict[int, int] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    confirmed: bool = False
    decision: Decision | None = None     # the rule that allowed the enrollment (shown on the receipt)


def finger_quality(png: bytes, dpi: int) -> int:
    from papilla.services.extract.engine import extract
    from papilla.shared.formats.images import decode_image

    return int(extract(decode_image(png).pixels, dpi=dpi).quality)


class Station:
    def __init__(self, *, station_id: str, signing_key: Ed25519PrivateKey, centre_public: X25519PublicKey,
                 outbox: Outbox, gate: QualityGate = QualityGate()):
        self.station_id = station_id
        self.signing_key = signing_key
        self.centre_public = centre_public
        self.outbox = outbox
        self.gate = gate

    def capture(self, scanner, position: int, report: CaptureReport) -> Finger:
        best, best_quality = None, -1
        for attempt in range(1, self.gate.max_attempts + 1):
            image = scanner.capture(position)
            quality = finger_quality(image.png, image.dpi)
            if quality > best_quality:
                best, best_quality = image, quality
            report.attempts[position] = attempt
            if quality >= self.gate.min_quality:
                break
        report.qualities[position] = best_quality
        return Finger(position=position, status=FingerStatus.CAPTURED, image=best.png, format="png", dpi=best.dpi)

    def enroll(self, *, iin: str, full_name: str, scanner, operator: PartyKeys, consent_ref: str,
               finger_status: dict[int, str] | None = None, legal_capacity: str = "full",
               basis: str = "public_service_authentication", citizenship: str = "citizen",
               present: tuple[Present, ...] = (), reenrollment_reason: str | None = None,
               today: date | None = None, policy: Policy | None = None) -> CaptureReport:
        """Decide, capture, sign (by the operator), seal (by the station) and submit one enrollment.
        Raises the decision's Refusal before capture unless the decision allows enrollment."""
        now = datetime.now(timezone.utc)
        iin = validate_iin(iin)
        statuses = finger_status or {p: "captured" for p in range(1, 11)}
        decision = decide(Application(basis=basis, birth=birth_date_from_iin(iin), applied_at=today or now,
                                      citizenship=citizenship, capacity=legal_capacity,
                                      present=tuple(Attendee(p.role, p.written_application) for p in present),
                                      fingers=statuses, previously_registered=reenrollment_reason is not None,
                                      reason=reenrollment_reason), policy or Policy.from_env())
        if not decision.allows:
            raise decision.refusal()
        consent = Consent(form_version="406-annex-2020", signed_at=now, purposes=(basis,),
                          signed_by=_signed_by(present), document_ref=consent_ref)
        eligibility.check_consent(consent)
        report = CaptureReport(packet_id=f"{self.station_id}-{now:%Y%m%d}-{secrets.token_hex(8)}", decision=decision)
        fingers = [self.capture(scanner, p, report) if s == "captured" else Finger(position=p, status=s)
                   for p, s in sorted(statuses.items())]
        packet = EnrollmentPacket(packet_id=report.packet_id, station_id=self.station_id, operator_id=operator.party_id,
                                  captured_at=now, purpose=basis, decision=record(decision),
                                  applicant=Applicant(iin=iin, full_name=full_name, legal_capacity=legal_capacity,
                                                      citizenship=citizenship, present=tuple(present)),
                                  consent=consent, fingers=fingers, reenrollment_reason=reenrollment_reason)
        packet = sign(packet, "operator_signature", operator.signing)
        sealed = seal(encode(packet), sender_id=self.station_id, packet_id=report.packet_id,
                      signing_key=self.signing_key, centre_public=self.centre_public)
        report.confirmed = self.outbox.submit(report.packet_id, sealed)
        return report


def _signed_by(present: tuple[Present, ...]) -> str:
    """Who signs the consent: the custodian (trustee) or legal representative when present, else the subject."""
    roles = {p.role for p in present}
    if roles & {"custodian", "trustee"}:
        return "custodian"
    return "legal_representative" if "legal_representative" in roles else "subject"
