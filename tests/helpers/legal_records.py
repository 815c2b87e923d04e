"""Records under a given legal basis and signed lifecycle commands sent the way a branch sends them (sealed by
the branch's service, signed by the principal, opened by the centre's intake, run by the lifecycle worker's
function), for the tests of issue 19's legal rules (tests/legal, tests/lifecycle)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.admission.intake import subject_for
from papilla.services.lifecycle import commands, retention
from papilla.shared import clock, gallery_log
from papilla.shared.crypto import sealing
from papilla.shared.messages import LifecycleAction, LifecycleCommand, encode
from papilla.shared.principals import sign

BRANCH = "svc-branch-law"
PEOPLE = {"op": "operator", "sup": "supervisor", "body": "authorised_body", "head": "head_of_unit",
          "auditor": "auditor", "admin": "administrator", "adj": "adjudicator"}


@dataclass
class Desk:
    """The branch's service and the people who sign commands, registered at `centre`."""

    centre: object
    service: object
    people: dict

    def command(self, action: str, rid: str, *, iin: str | None = None, by: str = "op", **fields):
        message = LifecycleCommand(request_id=rid, reply_to=BRANCH, action=LifecycleAction(action), iin=iin,
                                   reason=fields.pop("reason", "written application"),
                                   principal_id=self.people[by].party_id, **fields)
        message = sign(message, "principal_signature", self.people[by].signing)
        return sealing.seal(encode(message), sender_id=BRANCH, packet_id=rid, signing_key=self.service.signing,
                            centre_public=self.centre.keys.box.public_key())

    def run(self, action: str, rid: str, **kwargs):
        """Send and run one command; its Result."""
        return commands.run_command(self.centre, intake.accept_command(self.centre,
                                                                       self.command(action, rid, **kwargs)))


def desk(centre, recipient_kind: str = "public_service") -> Desk:
    settings = centre.settings
    service = ensure_sender(centre, settings, BRANCH, "service", recipient_kind=recipient_kind)
    people = {name: ensure_sender(centre, settings, f"pr-law-{name}", "principal", role=role)
              for name, role in PEOPLE.items()}
    return Desk(centre, service, people)


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=clock.LOCAL_TZ)


def record(centre, enrollment_id: str, iin: str, basis: str, registered_on: date = date(2026, 1, 15), *,
           state: str = "ACTIVE") -> dict:
    """An enrollment under `basis` as intake writes it: one encrypted finger, in the gallery, with its term."""
    subject = subject_for(centre, iin, create=True)
    sid, captured = subject["_id"], local_noon(registered_on)
    doc = {"_id": enrollment_id, "subject_id": sid, "state": state, "station_id": "st-unit-01",
           "operator_id": "op-unit-01", "created_at": captured.astimezone(timezone.utc).isoformat(),
           "captured_at": captured.isoformat(), "legal_basis": basis,
           "finger_status": {str(p): "captured" if p == 1 else "amputated" for p in range(1, 11)}}
    centre.store.insert("enrollments", doc)
    bid = f"{enrollment_id}:1"
    centre.store.insert("biometrics", {"_id": bid, "enrollment_id": enrollment_id, "subject_id": sid, "position": 1,
                                       "image": centre.cipher.encrypt(sid, "biometrics", bid, "image",
                                                                      os.urandom(64))})
    if state == "ACTIVE":
        gallery_log.stamp(centre.store, enrollment_id, sid, active=True)
    retention.record_term(centre, enrollment_id, sid, basis, captured)
    return doc
