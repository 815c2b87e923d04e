"""Transfers to authorised bodies (Law Art.9 p.4-5): ordered by the authorised body, approved by a second
principal (head of the unit) signing the same bytes, refused for blocked subjects, audited, and exported sealed
to the recipient alone: templates (ISO 19794-2) and the IIN, never the name or consent; images only if ordered."""
from __future__ import annotations

import base64
import json
from datetime import date

import pytest

from papilla.cli import main
from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.lifecycle import commands, transfers
from papilla.shared.crypto import sealing
from papilla.shared.crypto.errors import DecryptionFailed
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.formats.iso19794_2 import read_iso
from papilla.shared.messages import LifecycleAction, LifecycleCommand, TransferOrder, encode
from papilla.shared.parties import CENTRE_ID, CentrePublic
from papilla.shared.principals import sign
from tests.helpers.legal_records import enrolled_under


def enrolled(centre, fvc_dir, packet_id, iin, fingers):
    """A citizen registered for an identity document (Law Art.10 p.1): a record the Law lets be transferred."""
    return enrolled_under(centre, fvc_dir, packet_id, iin, fingers, basis="id_document")

DANA = make_test_iin(date(1988, 8, 8), False, 31)
DESK, COURT, OTHER, FOREIGN = "svc-transfer-desk", "svc-court-01", "svc-other-01", "svc-foreign-01"


@pytest.fixture
def desk(centre):
    settings = centre.settings
    centre.desk = ensure_sender(centre, settings, DESK, "service")
    centre.court = ensure_sender(centre, settings, COURT, "service", label="district court", recipient_kind="court")
    centre.other = ensure_sender(centre, settings, OTHER, "service")
    centre.foreign = ensure_sender(centre, settings, FOREIGN, "service", recipient_kind="foreign_state")
    centre.people = {name: ensure_sender(centre, settings, f"pr-{name}", "principal", role=role)
                     for name, role in (("body", "authorised_body"), ("body2", "authorised_body"),
                                        ("head", "head_of_unit"), ("admin", "administrator"))}
    return centre


def order(kind="court", recipient=COURT, **fields) -> TransferOrder:
    return TransferOrder(recipient_id=recipient, recipient_kind=kind, legal_basis="court ruling 2-101/2026", **fields)


def sealed_command(desk, rid, *, by="body", approver="head", transfer=None, action="transfer") -> bytes:
    message = LifecycleCommand(request_id=rid, reply_to=DESK, action=LifecycleAction(action), iin=DANA,
                               reason="court ruling", principal_id=desk.people[by].party_id,
                               transfer=transfer if transfer is not None else order(),
                               approver_id=desk.people[approver].party_id if approver else None)
    message = sign(message, "principal_signature", desk.people[by].signing)
    if approver:
        message = sign(message, "approver_signature", desk.people[approver].signing)
    return sealing.seal(encode(message), sender_id=DESK, packet_id=rid, signing_key=desk.desk.signing,
                        centre_public=desk.keys.box.public_key())


def run(desk, sealed) -> object:
    return commands.run_command(desk, intake.accept_command(desk, sealed))


class CentreOnly:
    """What a recipient knows: the centre's public keys (the file the centre exported)."""

    def __init__(self, desk):
        self.record = CentrePublic(desk.keys.box.public_key(), desk.keys.signing.public_key()).as_sender()

    def get(self, sender_id):
        return self.record if sender_id == CENTRE_ID else None


def open_as(desk, private_box, sealed: bytes) -> dict:
    return json.loads(sealing.open_sealed(sealed, senders=CentreOnly(desk), centre_private=private_box).payload)


def test_a_transfer_is_sealed_to_the_recipient_alone_and_audited(desk, fvc_dir, tmp_path):
    enrollment_id, _ = enrolled(desk, fvc_dir, "st-unit-01-t1", DANA, {1: "101_1", 3: "103_1"})
    done = run(desk, sealed_command(desk, "req-trf-1"))
    assert done.status == "TRANSFERRED" and "Art.9 p.4" in done.rule
    doc = desk.store.get(transfers.TRANSFERS, "req-trf-1")
    assert (doc["recipient_id"], doc["approver_id"]) == (COURT, "pr-head")
    assert "legal_basis" not in doc and b"court ruling" not in json.dumps(doc, default=str).encode()

    export = open_as(desk, desk.court.box, bytes(doc["sealed"]))
    assert export["iin"] == DANA and export["enrollment_id"] == enrollment_id and "p.4" in export["rule"]
    assert export["legal_basis"] == "court ruling 2-101/2026" and export["approved_by"] == "pr-head"
    iso = read_iso(base64.b64decode(export["iso19794_2"]))
    assert sorted(v.finger_position for v in iso.views) == [1, 3]
    assert "images" not in export and "Unit Person" not in json.dumps(export)   # no name, no images unasked
    for other_box in (desk.other.box, desk.keys.box):     # another body, and not even the centre, reads it
        with pytest.raises(DecryptionFailed):
            open_as(desk, other_box, bytes(doc["sealed"]))
    assert main(["lifecycle", "transfer-export", "req-trf-1", "--out", str(tmp_path / "court.sealed")]) == 0
    assert (tmp_path / "court.sealed").read_bytes() == bytes(doc["sealed"])
    entry = desk.store.find_one("audit", {"action": "transferred"})
    assert entry["actor"] == "pr-body" and entry["details"]["approver"] == "pr-head"
    assert entry["details"]["recipient_kind"] == "court" and "Art.9 p.4" in entry["rule"]


def test_images_only_when_ordered_and_a_foreign_state_needs_its_treaty(desk, fvc_dir):
    enrolled(desk, fvc_dir, "st-unit-01-t2", DANA, {2: "102_1"})
    with pytest.raises(ValueError, match="treaty"):
        order("foreign_state")
    done = run(desk, sealed_command(desk, "req-trf-2", transfer=order("foreign_state", FOREIGN,
                                                                      treaty="Treaty No. 12-VII", include_images=True)))
    assert done.status == "TRANSFERRED" and "Art.9 p.5" in done.rule
    export = open_as(desk, desk.foreign.box, bytes(desk.store.get(transfers.TRANSFERS, "req-trf-2")["sealed"]))
    assert export["treaty"] == "Treaty No. 12-VII" and list(export["images"]) == ["2"]
    assert base64.b64decode(export["images"]["2"])[:4] == b"\x89PNG"


def test_a_blocked_subject_is_not_transferred(desk, fvc_dir):
    enrolled(desk, fvc_dir, "st-unit-01-t3", DANA, {1: "101_1"})
    blocked = commands.block(desk, {"_id": "req-trf-blk", "iin_hash": desk.hasher.hash(DANA), "principal_id": "body"},
                             blocked=True)
    assert blocked.status == "BLOCKED"
    refused = run(desk, sealed_command(desk, "req-trf-3"))
    assert (refused.status, refused.reason) == ("REFUSED", "subject_blocked") and "Art.1 7)" in refused.rule
    assert desk.store.get(transfers.TRANSFERS, "req-trf-3") is None


@pytest.mark.parametrize("case, code", [
    (dict(approver=None), "approval_required"),
    (dict(approver="body"), "same_person_approval"),
    (dict(approver="body2"), "role_not_permitted"),      # another authorised body is not the head of the unit
    (dict(approver="admin"), "role_not_permitted"),
    (dict(by="head", approver="body"), "role_not_permitted"),   # the head approves, never orders
])
def test_who_may_order_and_approve_a_transfer(desk, case, code):
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, sealed_command(desk, f"req-trf-{code}-{len(case)}", **case))
    assert refused.value.code == code
    if code != "role_not_permitted" or case.get("by"):
        assert "Art.9 p.4" in refused.value.rule
    else:
        assert refused.value.rule is None     # the approval is the centre's own two-person rule (roles.py)


def test_an_approval_over_other_bytes_and_transfer_fields_on_other_actions_are_refused(desk):
    message = LifecycleCommand(request_id="req-trf-forged", reply_to=DESK, action=LifecycleAction("transfer"),
                               iin=DANA, reason="court ruling", principal_id="pr-body", transfer=order(),
                               approver_id="pr-head")
    approved_elsewhere = sign(message.model_copy(update={"reason": "something else"}), "approver_signature",
                              desk.people["head"].signing).approver_signature
    message = sign(message, "principal_signature", desk.people["body"].signing)
    message = message.model_copy(update={"approver_signature": approved_elsewhere})
    sealed = sealing.seal(encode(message), sender_id=DESK, packet_id="req-trf-forged", signing_key=desk.desk.signing,
                          centre_public=desk.keys.box.public_key())
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, sealed)
    assert refused.value.code == "bad_principal_signature"
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, sealed_command(desk, "req-blk-with-order", action="block"))
    assert refused.value.code == "unexpected_fields"
