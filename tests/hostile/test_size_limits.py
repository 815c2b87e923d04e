"""One chain of size limits from the image to the broker: the largest packet the schema admits fits every
limit after it, and each edge refuses what is over its own limit before doing work."""
from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from papilla.shared import wire
from papilla.shared.crypto import sealing
from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.messages import (MAX_IMAGE_BYTES, Applicant, Consent, EnrollmentPacket, Finger, IdentityDocument,
                                     Present, encode)

pytestmark = pytest.mark.hostile
CONF = Path(__file__).resolve().parents[2] / "infra" / "rabbitmq" / "rabbitmq.conf"
ID = "a" * 128   # the longest sender / packet id


def largest_packet() -> bytes:
    now = datetime.now(timezone.utc)
    return encode(EnrollmentPacket(
        packet_id=ID, station_id=ID, operator_id=ID, captured_at=now,
        applicant=Applicant(iin="840517400415", full_name="x" * 256, present=tuple(
            Present(role="custodian", written_application="w" * 128) for _ in range(4)),
            document=IdentityDocument(type="stateless_certificate", number="N" * 32, birth_date=date(1984, 5, 17))),
        consent=Consent(form_version="v" * 32, full_name="x" * 256, birth_date=date(1984, 5, 17), iin="840517400415",
                        signed_on=now.date(), accepted_by=ID, signature_ref="s" * 128, conditions_explained=True,
                        purposes=("public_service_authentication",) * 4, signed_by="legal_representative",
                        application_ref="a" * 128),
        fingers=[Finger(position=p, status="captured", image=b"\xff" * MAX_IMAGE_BYTES, format="wsq", dpi=1000)
                 for p in range(1, 11)], reply_to=ID))


def test_the_largest_valid_packet_fits_every_limit_after_it():
    payload = largest_packet()
    assert len(payload) <= sealing.MAX_PAYLOAD
    key, centre = sealing.generate_signing_key(), sealing.generate_centre_key()
    sealed = sealing.seal(payload, sender_id=ID, packet_id=ID, signing_key=key, centre_public=centre.public_key())
    assert len(sealed) <= sealing.MAX_SEALED
    body = json.dumps({"queue_name": "papilla.enroll", "actor_name": "extract_enrollment",
                       "args": [base64.b64encode(sealed).decode()], "kwargs": {}, "options": {"redelivered": True},
                       "message_id": "0" * 36, "message_timestamp": 10 ** 13}).encode()
    assert len(body) <= wire.MAX_MESSAGE_BYTES
    broker_limit = int(re.search(r"^max_message_size\s*=\s*(\d+)", CONF.read_text(), re.M).group(1))
    assert wire.MAX_MESSAGE_BYTES < broker_limit <= wire.MAX_MESSAGE_BYTES + 2 * 1024 * 1024   # just above


def test_a_payload_over_the_limit_is_not_sealed_and_a_sealed_packet_over_it_not_parsed():
    key, centre = sealing.generate_signing_key(), sealing.generate_centre_key()
    with pytest.raises(ValueError):
        sealing.seal(b"x" * (sealing.MAX_PAYLOAD + 1), sender_id="s-1", packet_id="p-1", signing_key=key,
                     centre_public=centre.public_key())
    with pytest.raises(sealing.MalformedPacket, match="larger than"):
        sealing.peek_header(b"PPLS" + b"\0" * sealing.MAX_SEALED)


def test_an_image_over_the_byte_limit_is_refused_before_it_is_opened():
    with pytest.raises(ImageFormatError, match="over the 2000000-byte limit"):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES)


def test_a_body_over_the_message_limit_is_refused_unread():
    fields = wire.GuardedJSONEncoder().decode(b"{" + b" " * wire.MAX_MESSAGE_BYTES + b"}")
    assert fields["actor_name"] == "undecodable_message" and fields["args"][0] == "message_too_large"
