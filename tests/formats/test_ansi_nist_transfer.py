"""ANSI/NIST-ITL -> Papilla -> ANSI/NIST-ITL through the centre: a transaction's fingers enrolled (admission,
extraction, lifecycle), then transferred to an authorised body: the transfer, sealed to the recipient alone,
carries an ANSI/NIST-ITL transaction with the same images, the finger exceptions and Papilla's minutiae."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import numpy as np
import pytest

from papilla.identity import ensure_sender
from papilla.services.admission.intake import PartnerEnrollment, accept_partner_enrollment
from papilla.services.lifecycle import enrollments, transfers
from papilla.shared.crypto import sealing
from papilla.shared.crypto.errors import DecryptionFailed
from papilla.shared.formats.ansi_nist import NistFinger, Transaction, read_transaction
from papilla.shared.formats.ansi_nist_papilla import pixels_of, to_fingers
from papilla.shared.formats.ansi_nist_write import write_transaction
from papilla.shared.names import BIOMETRICS, ENROLLMENTS
from papilla.shared.parties import CENTRE_ID, CentrePublic
from papilla.shared.template import template_from_bytes
from tests.helpers.abis import encoded, finger_pixels, open_partner_centre, partner_env

COURT = "svc-court-01"


class CentreOnly:
    def __init__(self, centre):
        self.record = CentrePublic(centre.keys.box.public_key(), centre.keys.signing.public_key()).as_sender()

    def get(self, sender_id):
        return self.record if sender_id == CENTRE_ID else None


@pytest.fixture
def centre(tmp_path, monkeypatch):
    partner_env(monkeypatch, tmp_path)
    c = open_partner_centre()
    c.court = ensure_sender(c, c.settings, COURT, "service", label="district court", recipient_kind="court")
    c.other = ensure_sender(c, c.settings, "svc-other-01", "service")
    yield c
    c.close()


def test_transfer_carries_the_transaction_sealed_to_the_recipient(centre):
    incoming = Transaction(tot="CAR", tcn="IN-0001", date="20261207", fingers=(
        NistFinger(position=2, image=encoded(finger_pixels(41, 2, 0), "wsq"), compression="wsq", width=320,
                   height=400),
        NistFinger(position=7, image=encoded(finger_pixels(41, 7, 0), "jpeg2000"), compression="jpeg2000",
                   width=320, height=400),
        NistFinger(position=3, status="amputated")))
    read = read_transaction(write_transaction(incoming))
    accepted = accept_partner_enrollment(centre, PartnerEnrollment(
        enrollment_id="nist-in-0001", subject_hash=centre.hasher.hash_document("test", "IN0001"),
        sender_id="mosip-regproc", principal_id="mosip-supervisor", purpose="id_document",
        fingers=to_fingers(read), captured_at=datetime.now(timezone.utc)))
    enrollment = centre.store.get(ENROLLMENTS, accepted.enrollment_id)
    assert enrollments.activate(centre, enrollment, actor="mosip-supervisor") == "ACTIVE"

    job = {"_id": "req-trf-nist-1", "principal_id": "pr-body", "approver_id": "pr-head",
           "iin_hash": centre.hasher.hash_document("test", "IN0001"),
           "transfer": {"recipient_id": COURT, "recipient_kind": "court", "legal_basis": "court ruling 2-7/2026",
                        "treaty": None, "include_images": True}}
    assert transfers.transfer(centre, job).status == "TRANSFERRED"
    sealed = bytes(centre.store.get(transfers.TRANSFERS, "req-trf-nist-1")["sealed"])
    export = json.loads(sealing.open_sealed(sealed, senders=CentreOnly(centre), centre_private=centre.court.box).payload)
    for other in (centre.other.box, centre.keys.box):
        with pytest.raises(DecryptionFailed):
            sealing.open_sealed(sealed, senders=CentreOnly(centre), centre_private=other)

    outgoing = read_transaction(base64.b64decode(export["ansi_nist_itl"]))
    assert outgoing.tcn == "req-trf-nist-1" and export["iin"] is None
    for position in (2, 7):
        assert np.array_equal(pixels_of(outgoing.finger(position)), pixels_of(incoming.finger(position)))
        stored = centre.store.get(BIOMETRICS, f"nist-in-0001:{position}")
        template = template_from_bytes(centre.cipher.decrypt(stored["subject_id"], BIOMETRICS, stored["_id"],
                                                             "template", stored["template"]))
        assert len(outgoing.finger(position).minutiae) == len(template.minutiae) > 10
        assert np.abs(outgoing.finger(position).minutiae["x"] - template.minutiae["x"]).max() <= 0.5
        assert outgoing.finger(position).quality == template.quality
    assert outgoing.finger(2).image == incoming.finger(2).image          # WSQ carried byte for byte
    assert outgoing.finger(3).status == "amputated"
