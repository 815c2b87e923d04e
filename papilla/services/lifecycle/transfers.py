"""Transfers of dactyloscopic information to authorised bodies (Law Art.9 p.4-5).

A transfer is a lifecycle command of the authorised state body (`roles.PERMISSIONS["transfer"]`) naming the
order (`messages.TransferOrder`: the registered recipient, its kind, the legal basis, and for a foreign state
the ratified treaty, Art.9 p.5) and approved by a second principal, the head of the unit, who signs the same
bytes (two-person rule; both signatures are checked at intake by `check_approval`). It is refused for a
blocked subject (blocking stops transferring, Art.1 7)).

What is exported (docs/legal.md): the dactyloscopic information the law speaks of and what the recipient needs
to know whose it is: the IIN, the ACTIVE enrollment's id, registration date and per-finger status, and its
templates as one ISO/IEC 19794-2 record; the finger images only when the order asks for them. Never the name,
the consent form or the capture station (not dactyloscopic information, and not needed by the recipient). The
export is sealed to the recipient's registered X25519 key and signed by the centre (`crypto.sealing`, the
packet format): the centre keeps the sealed bytes for delivery but cannot read them back. The store keeps the
legal basis only encrypted under the subject's data key; the audit entry holds ids, the recipient kind and a
digest of the legal basis.
"""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

from papilla.shared import audit, names
from papilla.shared.centre import Centre
from papilla.shared.crypto.registry import SenderLookup
from papilla.shared.crypto.sealing import seal
from papilla.shared.errors import Refusal
from papilla.shared.formats.ansi_nist_papilla import from_enrollment
from papilla.shared.formats.ansi_nist_write import write_transaction
from papilla.shared.formats.iso19794_2 import write_iso
from papilla.shared.legal import states, uses
from papilla.shared.legal.rules import refuse, rule
from papilla.shared.messages import LifecycleAction, LifecycleCommand, Result
from papilla.shared.names import BIOMETRICS, ENROLLMENTS, SUBJECTS
from papilla.shared.parties import CENTRE_ID, recipient_kind
from papilla.shared.principals import check_signed_by
from papilla.shared.template import template_from_bytes

TRANSFERS = names.TRANSFERS
SCHEMA = "papilla.transfer/1"


def rule_for(kind: str | None) -> str:
    return "transfer_to_foreign_state" if kind == "foreign_state" else "transfer_to_authorised_bodies"


def registered_kind(centre: Centre, order: dict) -> str:
    """The recipient's kind as the centre registered it; an order that declares another is refused."""
    kind = recipient_kind(centre.store, order["recipient_id"])
    declared = order.get("recipient_kind")
    if kind is None:
        raise refuse("requester_purpose_registered", "unknown_recipient",
                     f"{order['recipient_id']} is not a service registered with a recipient kind")
    if declared and declared != kind:
        raise refuse("requester_purpose_registered", "recipient_kind_mismatch",
                     f"the order says the recipient is a {declared}; the centre registered it as a {kind}")
    if kind == "foreign_state" and not order.get("treaty"):
        raise refuse("transfer_to_foreign_state", "treaty_required",
                     "a transfer to a foreign state names the ratified treaty")
    return kind


def check_approval(senders: SenderLookup, command: LifecycleCommand) -> None:
    """At intake: a transfer carries its order and the approval of a second principal who signed the same bytes;
    no other command carries either."""
    if command.action is not LifecycleAction.TRANSFER:
        if command.transfer is not None or command.approver_id is not None:
            raise Refusal("only a transfer carries a transfer order or an approver", code="unexpected_fields")
        return
    citation = rule("transfer_to_authorised_bodies").citation
    if command.transfer is None:
        raise Refusal("a transfer names its recipient and legal basis", code="transfer_order_required", rule=citation)
    if command.approver_id is None:
        raise Refusal("a transfer needs the approval of a second principal", code="approval_required", rule=citation)
    if command.approver_id == command.principal_id:
        raise Refusal("a transfer is approved by a second person, not the one who orders it",
                      code="same_person_approval", rule=citation)
    check_signed_by(senders, command.approver_id, command.approver_signature, command, "approve_transfer")


def _result(job: dict, status: str, *, reason: str | None = None, rule_id: str | None = None) -> Result:
    return Result(request_id=job["_id"], kind="lifecycle", status=status, reason=reason,
                  rule=rule(rule_id).citation if rule_id else None)


def transfer(centre: Centre, job: dict) -> Result:
    order = job.get("transfer")
    if not order or not job.get("approver_id"):
        return _result(job, "REFUSED", reason="approval_required", rule_id="transfer_to_authorised_bodies")
    try:
        kind = registered_kind(centre, order)
    except Refusal as refusal:
        return _refused(job, refusal)
    rule_id = rule_for(kind)
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": job["iin_hash"]}) if job.get("iin_hash") else None
    if subject is None:
        return _result(job, "NOT_ENROLLED")
    try:
        states.check_subject(subject, "transferred")   # blocking stops transferring (Law Art.1 7))
    except Refusal as refusal:
        return _refused(job, refusal)
    recipient = centre.senders.get(order["recipient_id"])
    if recipient is None or not recipient.active or recipient.box_key is None:
        return _result(job, "REFUSED", reason="unknown_recipient", rule_id=rule_id)
    enrollment = centre.store.find_one(ENROLLMENTS, {"subject_id": subject["_id"], "state": "ACTIVE"})
    if enrollment is None:
        return _result(job, "REFUSED", reason="no_active_enrollment", rule_id=rule_id)
    try:      # a record kept for public-service authentication is not transferred (Rules 395 p.18)
        uses.check_use("transfer", enrollment.get("legal_basis"), kind)
    except Refusal as refusal:
        return _refused(job, refusal)
    order = {**order, "recipient_kind": kind}
    payload = export_payload(centre, job, subject, enrollment, rule(rule_id).citation)
    sealed = seal(payload, sender_id=CENTRE_ID, packet_id=job["_id"], signing_key=centre.keys.signing,
                  centre_public=recipient.box_key)
    sid = subject["_id"]
    centre.store.insert(TRANSFERS, {
        "_id": job["_id"], "subject_id": sid, "enrollment_id": enrollment["_id"],
        "recipient_id": order["recipient_id"], "recipient_kind": kind, "record_basis": enrollment.get("legal_basis"),
        "principal_id": job["principal_id"], "approver_id": job["approver_id"], "rule": rule(rule_id).citation,
        "created_at": datetime.now(timezone.utc).isoformat(), "sealed": sealed,
        "order": centre.cipher.encrypt(sid, TRANSFERS, job["_id"], "order", json.dumps(order).encode())})
    audit.append(centre, "transferred", subject_id=sid, actor=job["principal_id"], rule=rule(rule_id).citation,
                 details={"request_id": job["_id"], "approver": job["approver_id"],
                          "recipient": order["recipient_id"], "recipient_kind": order["recipient_kind"],
                          "legal_basis_digest": hashlib.sha256(order["legal_basis"].encode()).hexdigest()[:16],
                          "with_images": bool(order.get("include_images"))})
    return _result(job, "TRANSFERRED", rule_id=rule_id)


def _refused(job: dict, refusal: Refusal) -> Result:
    return Result(request_id=job["_id"], kind="lifecycle", status="REFUSED", reason=refusal.code, rule=refusal.rule,
                  detail=refusal.detail[:500])


def sealed_export(centre: Centre, request_id: str) -> bytes:
    """The sealed export of a transfer, for delivery, checked again at export: the recipient still active and
    its registered kind still one that may receive a record of this basis (`uses`, "export")."""
    doc = centre.store.get(TRANSFERS, request_id)
    if doc is None:
        raise Refusal(f"no transfer {request_id}", code="unknown_transfer")
    recipient = centre.senders.get(doc["recipient_id"])
    if recipient is None or not recipient.active:
        raise refuse("transfer_to_authorised_bodies", "unknown_recipient",
                     f"the recipient {doc['recipient_id']} is no longer registered")
    enrollment = centre.store.get(ENROLLMENTS, doc["enrollment_id"])
    uses.check_use("export", (enrollment or {}).get("legal_basis", doc.get("record_basis")),
                   recipient_kind(centre.store, doc["recipient_id"]))
    audit.append(centre, "transfer_exported", subject_id=doc["subject_id"], actor=doc["recipient_id"],
                 rule=doc["rule"], details={"request_id": request_id,
                                            "recipient_kind": recipient_kind(centre.store, doc["recipient_id"])})
    return bytes(doc["sealed"])


def export_payload(centre: Centre, job: dict, subject: dict, enrollment: dict, citation: str) -> bytes:
    """The JSON the recipient opens: who, the legal basis, the templates (ISO 19794-2), images if ordered."""
    sid, order = subject["_id"], job["transfer"]
    fingers = sorted(centre.store.find(BIOMETRICS, {"enrollment_id": enrollment["_id"]}), key=lambda d: d["position"])
    decrypt = centre.cipher.decrypt
    templated = [f for f in fingers if f.get("template")]
    templates = [template_from_bytes(decrypt(sid, BIOMETRICS, f["_id"], "template", f["template"]))
                 for f in templated]
    body = {
        "schema": SCHEMA, "transfer_id": job["_id"], "rule": citation, "recipient_id": order["recipient_id"],
        "recipient_kind": order["recipient_kind"], "legal_basis": order["legal_basis"], "treaty": order.get("treaty"),
        "approved_by": job["approver_id"], "ordered_by": job["principal_id"],
        # a person registered by a partner system (services/abis) is known by the partner's reference only
        "iin": decrypt(sid, SUBJECTS, sid, "iin", subject["iin"]).decode() if subject.get("iin") else None,
        "enrollment_id": enrollment["_id"], "registered_at": enrollment.get("created_at"),
        "finger_status": enrollment.get("finger_status", {}),
        "iso19794_2": base64.b64encode(write_iso(templates, finger_positions=[f["position"] for f in fingers
                                                                               if f.get("template")])).decode()
        if templates else None,
    }
    images = {f["position"]: decrypt(sid, BIOMETRICS, f["_id"], "image", f["image"]) for f in fingers} \
        if order.get("include_images") else None
    if images is not None:
        body["images"] = {str(p): base64.b64encode(image).decode() for p, image in images.items()}
    # the same fingers as an ANSI/NIST-ITL transaction, the format police and border systems read
    transaction = from_enrollment(tcn=job["_id"], date=datetime.now(timezone.utc).strftime("%Y%m%d"),
                                  finger_status=enrollment.get("finger_status", {}), images=images,
                                  templates={f["position"]: t for f, t in zip(templated, templates)})
    body["ansi_nist_itl"] = base64.b64encode(write_transaction(transaction)).decode()
    return json.dumps(body).encode()
