"""Packets for the legal-decision tests: a one-finger FVC enrollment under a stated legal basis, sealed by the
one-home centre's station (tests/helpers/centre.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from papilla.shared.crypto import sealing
from papilla.shared.messages import DecisionRecord, EnrollmentPacket, Finger, encode

from tests.helpers.builders import identity
from tests.helpers.centre import STATION, signed_by_operator
from tests.helpers.harness import FvcScanner

#: the prefix of every citation of the Law on dactyloscopic and genomic registration
LAW = "Law on dactyloscopic and genomic registration, "
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def packet_for(centre, fvc_dir, packet_id: str, iin: str, *, basis: str, claimed: DecisionRecord | None = None,
               reenrollment_reason: str | None = None, **applicant) -> bytes:
    images = FvcScanner(fvc_dir / "DB1_B", {1: "101_1"}).images()
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=NOW,
        purpose=basis, decision=claimed, reenrollment_reason=reenrollment_reason,
        **identity(iin, "Unit Person", operator_id=centre.operator.party_id, signed_on=NOW, purpose=basis, **applicant),
        fingers=[Finger(position=1, status="captured", image=images[1].png, format="png", dpi=500)]
        + [Finger(position=p, status="injured") for p in range(2, 11)])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())
