"""Acts of destruction at the end of retention (Law Art.17 p.2-3): proposed by the sweep, approved by two people.

An act lists the enrollments whose term has expired. It is carried out only
after two distinct registered principals have signed exactly that list: the
head of the unit approves it (Art.17 p.3) and a second person (administrator
or supervisor) countersigns it (two-person rule). Signatures are Ed25519 over
the act id and the digest of its items, checked like every lifecycle act
(`shared.principals.check_signed_by`). Carrying it out uses the same-day
destruction of `commands.destroy` when every record of the subject goes,
and removes the expired enrollments only when the subject has others still in
term. A blocked subject is held until unblocked (Law Art.1 sub.7).
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Literal

from papilla.shared import audit, clock, gallery_log, locks, names
from papilla.shared.centre import Centre
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.roles import DESTRUCTION_ACT_SIGNATURES
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Identifier, _Model
from papilla.shared.principals import check_signed_by

from . import commands, destruction

ACTS, RETENTION = names.DESTRUCTION_ACTS, names.RETENTION
ENROLLMENTS, SUBJECTS, BIOMETRICS = names.ENROLLMENTS, names.SUBJECTS, names.BIOMETRICS
DECISIONS = {"approve": DESTRUCTION_ACT_SIGNATURES[0], "countersign": DESTRUCTION_ACT_SIGNATURES[1]}


def _citation() -> str:
    return f"{rule('destruction_at_end_of_retention').citation}; {rule('destruction_act_approved').citation}"


def items_digest(items: list[dict]) -> str:
    """What a signer approves: exactly these enrollments of these subjects."""
    canonical = json.dumps(sorted((i["enrollment_id"], i["subject_id"]) for i in items), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def propose(centre: Centre, enrollment_ids: list[str], today: date) -> str:
    """Draw up an act proposing destruction of these enrollments (called by the sweep)."""
    items = [{"enrollment_id": eid, "subject_id": centre.store.get(RETENTION, eid)["subject_id"],
              "basis": centre.store.get(RETENTION, eid)["basis"], "status": "proposed"} for eid in enrollment_ids]
    act_id = f"act-{today.isoformat()}-{secrets.token_hex(4)}"
    centre.store.insert(ACTS, {"_id": act_id, "state": "proposed", "proposed_on": today.isoformat(),
                               "proposed_at": clock.now().isoformat(), "items": items,
                               "digest": items_digest(items), "signatures": [], "rule": _citation()})
    audit.append(centre, "destruction_proposed", subject_id=None, actor="retention-sweep",
                 details={"act_id": act_id, "items": len(items), "rule": _citation()})
    return act_id


class ActSignature(_Model):
    """A principal's signature on an act: `approve` (head of the unit) or `countersign` (second person)."""

    schema_: Literal["papilla.destruction-act-signature/1"] = "papilla.destruction-act-signature/1"
    act_id: Identifier
    digest: str
    decision: Literal["approve", "countersign"]
    principal_id: Identifier
    principal_signature: bytes | None = None


def sign_act(centre: Centre, signature: ActSignature) -> str:
    """Record one signature; returns the act's state ("proposed" until both have signed, then "approved"). A
    refused signature (wrong role, bad signature, another list, the same person twice) is written to the trail."""
    try:
        return _sign_act(centre, signature)
    except Refusal as refusal:
        audit.record_refusal(centre, "destruction_act_signature_refused", actor=signature.principal_id,
                             code=refusal.code, rule=refusal.rule, act_id=signature.act_id,
                             decision=signature.decision)
        raise


def _sign_act(centre: Centre, signature: ActSignature) -> str:
    action = DECISIONS[signature.decision]
    role = check_signed_by(centre.senders, signature.principal_id, signature.principal_signature, signature, action)
    with locks.lease(centre.store, f"act-{signature.act_id}"):
        act = centre.store.get(ACTS, signature.act_id)
        if act is None:
            raise Refusal(f"no act of destruction {signature.act_id}", code="unknown_act")
        if act["state"] != "proposed":
            raise Refusal(f"act {act['_id']} is already {act['state']}", code="act_not_open")
        if signature.digest != act["digest"]:
            raise Refusal(f"the signature is over another list than act {act['_id']}", code="act_digest_mismatch",
                          rule=_citation())
        _check_two_persons(act, signature)
        signatures = act["signatures"] + [{"decision": signature.decision, "principal_id": signature.principal_id,
                                           "role": role, "at": clock.now().isoformat(),
                                           "signature": signature.principal_signature}]
        state = "approved" if {s["decision"] for s in signatures} == set(DECISIONS) else "proposed"
        centre.store.update(ACTS, {"_id": act["_id"], "state": "proposed"},
                            set={"signatures": signatures, "state": state})
    audit.append(centre, "destruction_act_signed", subject_id=None, actor=signature.principal_id,
                 details={"act_id": act["_id"], "decision": signature.decision, "role": role, "state": state,
                          "rule": rule("destruction_act_approved").citation})
    return state


def _check_two_persons(act: dict, signature: ActSignature) -> None:
    for existing in act["signatures"]:
        if existing["principal_id"] == signature.principal_id:
            raise Refusal("the act needs two different persons: this principal has already signed it",
                          code="same_person_twice", rule=rule("destruction_act_approved").citation)
        if existing["decision"] == signature.decision:
            raise Refusal(f"act {act['_id']} already has its {signature.decision} signature",
                          code="already_signed", rule=rule("destruction_act_approved").citation)


def approved(centre: Centre) -> list[str]:
    return [a["_id"] for a in centre.store.find(ACTS, {"state": "approved"}, sort=[("_id", 1)])]


@dataclass(frozen=True)
class Execution:
    act_id: str
    destroyed: tuple[str, ...]       # enrollment ids destroyed
    held_blocked: tuple[str, ...]    # enrollment ids waiting for the subject to be unblocked
    state: str


def execute(centre: Centre, act_id: str) -> Execution:
    """Carry out an approved act; items of blocked subjects wait (the act stays approved until they go)."""
    act = centre.store.get(ACTS, act_id)
    if act is None or act["state"] != "approved":
        raise Refusal(f"act {act_id} is not approved by the head of the unit and a second person",
                      code="act_not_approved", rule=_citation())
    approver = next(s["principal_id"] for s in act["signatures"] if s["decision"] == "approve")
    items, destroyed, held = [dict(i) for i in act["items"]], [], []
    for subject_id in dict.fromkeys(i["subject_id"] for i in items):
        mine = [i for i in items if i["subject_id"] == subject_id and i["status"] != "destroyed"]
        if not mine:
            continue
        outcome = _destroy_items(centre, act_id, subject_id, [i["enrollment_id"] for i in mine], approver)
        for item in mine:
            item["status"] = outcome
            (destroyed if outcome == "destroyed" else held).append(item["enrollment_id"])
    state = "executed" if not held else "approved"
    centre.store.update(ACTS, {"_id": act_id, "state": "approved"},
                        set={"items": items, "state": state,
                             **({"executed_at": clock.now().isoformat()} if state == "executed" else {})})
    audit.append(centre, "destruction_act_executed", subject_id=None, actor=approver,
                 details={"act_id": act_id, "destroyed": len(destroyed), "held_blocked": len(held),
                          "state": state, "rule": _citation()})
    return Execution(act_id, tuple(destroyed), tuple(held), state)


def _destroy_items(centre: Centre, act_id: str, subject_id: str, enrollment_ids: list[str], approver: str) -> str:
    subject = centre.store.get(SUBJECTS, subject_id)
    if subject is None:                      # destroyed meanwhile (application): nothing left to do
        centre.store.delete(RETENTION, {"subject_id": subject_id})
        return "destroyed"
    if states.is_blocked(subject):
        return "held_blocked"
    others = [e["_id"] for e in centre.store.find(ENROLLMENTS, {"subject_id": subject_id})
              if e["_id"] not in enrollment_ids]
    if not others:   # everything of this person goes: same-day destruction, data key shredded
        commands.destroy(centre, {"_id": f"{act_id}.{subject_id}", "iin_hash": subject["iin_hash"],
                                  "principal_id": approver, "on_application_of": None}, trigger="retention_expired")
        centre.store.delete(RETENTION, {"subject_id": subject_id})
        centre.store.delete(names.RETENTION_EVENTS, {"subject_id": subject_id})
        return "destroyed"
    for eid in enrollment_ids:   # other records still in term: only these enrollments go
        enrollment = centre.store.get(ENROLLMENTS, eid)
        if enrollment is not None:
            states.check_enrollment(enrollment, "retention_expired", subject)   # → DESTROYED
    for eid in destruction.destroy_enrollments(centre, subject_id, enrollment_ids):
        audit.append(centre, "enrollment_destroyed", subject_id=subject_id, actor=approver,
                     details={"act_id": act_id, "enrollment_id": eid, "rule": _citation()})
    return "destroyed"
