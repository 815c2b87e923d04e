"""The one-home centre of the domain tests (no broker): its station and operator, and what they send it —
sealed enrollment packets from FVC images, enrollments settled by hand, lifecycle jobs.

The `centre` fixture itself is in tests/conftest.py (`open_centre` below)."""
from __future__ import annotations

from datetime import datetime, timezone

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.lifecycle import enrollments
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.crypto import sealing
from papilla.shared.messages import EnrollmentPacket, Finger, encode
from papilla.shared.parties import init_centre
from papilla.shared.principals import sign
from papilla.shared.results import MemoryResultSink

from tests.helpers.builders import identity
from tests.helpers.harness import FvcScanner

STATION, OPERATOR = "st-unit-01", "op-unit-01"


def open_centre() -> Centre:
    """A centre initialised in the PAPILLA_HOME of the environment, with STATION and OPERATOR registered
    (`centre.station_key`, `centre.operator`)."""
    settings = Settings.from_env()
    init_centre(settings)
    c = Centre.open(settings, publisher=MemoryResultSink())
    c.station_key = ensure_sender(c, settings, STATION, "station").signing
    c.operator = ensure_sender(c, settings, OPERATOR, "principal", role="operator")
    return c


def signed_by_operator(centre, packet):
    return sign(packet, "operator_signature", centre.operator.signing)


def sealed_packet(centre, fvc_dir, packet_id: str, iin: str, fingers: dict[int, str], **applicant) -> bytes:
    images = FvcScanner(fvc_dir / "DB1_B", fingers).images()
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=now,
        **identity(iin, "Unit Person", operator_id=centre.operator.party_id, signed_on=now, **applicant),
        fingers=[Finger(position=p, status="captured", image=c.png, format="png", dpi=500) for p, c in images.items()]
        + [Finger(position=p, status="injured") for p in range(1, 11) if p not in images])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())


def reenrollment_packet(centre, fvc_dir, iin) -> bytes:
    """Packet `st-unit-01-r3`: the person `iin` re-enrolled for irreversible damage, with FVC 105_3."""
    images = FvcScanner(fvc_dir / "DB1_B", {1: "105_3"}).images()
    now = datetime(2026, 11, 22, 11, 0, tzinfo=timezone.utc)
    packet = EnrollmentPacket(
        packet_id="st-unit-01-r3", station_id=STATION, operator_id=centre.operator.party_id, captured_at=now,
        **identity(iin, "Unit Person", operator_id=centre.operator.party_id, signed_on=now),
        fingers=[Finger(position=1, status="captured", image=images[1].png, format="png", dpi=500)]
        + [Finger(position=p, status="injured") for p in range(2, 11)],
        reenrollment_reason="irreversible_damage")
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet.packet_id,
                        signing_key=centre.station_key, centre_public=centre.keys.box.public_key())


def enrolled(centre, fvc_dir, packet_id, iin, fingers):
    accepted = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, packet_id, iin, fingers))
    gallery = Gallery(centre)
    result = enrollments.settle(centre, accepted.enrollment_id,
                                *matching.deduplicate(centre, gallery, accepted.enrollment_id))
    return accepted.enrollment_id, result


def job(centre, action, iin=None, **fields):
    principal = {"block": "pr-body", "unblock": "pr-body", "adjudicate": "pr-adj"}.get(action, "pr-op")
    return {"_id": f"req-{action}-{len(fields)}", "kind": "lifecycle", "action": action, "principal_id": principal,
            "iin_hash": centre.hasher.hash(iin) if iin else None, "on_application_of": "subject", **fields}
