"""The branch station's enrollment workflow.

Eligibility and consent first (the same rules the centre re-checks), then
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
from papilla.shared.messages import Applicant, Consent, EnrollmentPacket, Finger, FingerStatus, encode
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
               custodian_present: bool = False, reenrollment_reason: str | None = None,
               today: date | None = None) -> CaptureReport:
        """Check, capture, sign (by the operator), seal (by the station) and submit one enrollment.
        Raises a Refusal before capture if ineligible."""
        now = datetime.now(timezone.utc)
        iin = validate_iin(iin)
        eligibility.check_applicant(birth=birth_date_from_iin(iin), today=today or now.date(),
                                    legal_capacity=legal_capacity, custodian_present=custodian_present)
        statuses = finger_status or {p: "captured" for p in range(1, 11)}
        eligibility.check_fingers(statuses)
        consent = Consent(form_version="406-annex-2020", signed_at=now, purposes=("public_service_authentication",),
                          signed_by="custodian" if legal_capacity == "incapacitated" else "subject",
                          document_ref=consent_ref)
        eligibility.check_consent(consent)
        report = CaptureReport(packet_id=f"{self.station_id}-{now:%Y%m%d}-{secrets.token_hex(8)}")
        fingers = [self.capture(scanner, p, report) if s == "captured" else Finger(position=p, status=s)
                   for p, s in sorted(statuses.items())]
        packet = EnrollmentPacket(packet_id=report.packet_id, station_id=self.station_id, operator_id=operator.party_id,
                                  captured_at=now, applicant=Applicant(iin=iin, full_name=full_name,
                                                                       legal_capacity=legal_capacity,
                                                                       custodian_present=custodian_present),
                                  consent=consent, fingers=fingers, reenrollment_reason=reenrollment_reason)
        packet = sign(packet, "operator_signature", operator.signing)
        sealed = seal(encode(packet), sender_id=self.station_id, packet_id=report.packet_id,
                      signing_key=self.signing_key, centre_public=self.centre_public)
        report.confirmed = self.outbox.submit(report.packet_id, sealed)
        return report
