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
from papilla.services.lifecycle import commands, enrollments, retention
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared import clock, gallery_log
from papilla.shared.crypto import sealing
from papilla.shared.messages import (EnrollmentPacket, Finger, IdentifyRequest, LifecycleAction, LifecycleCommand,
                                     VerifyRequest, encode)
from papilla.shared.principals import sign

from tests.helpers.builders import identity
from tests.helpers.centre import STATION, signed_by_operator
from tests.helpers.harness import FvcScanner

BRANCH = "svc-branch-law"
PEOPLE = {"op": "operator", "sup": "supervisor", "body": "authorised_body", "head": "head_of_unit",
          "auditor": "auditor", "admin": "administrator", "adj": "adjudicator"}


@dataclass
class Desk:
    """The branch's service and the people who sign commands, registered at `centre`."""

    centre: object
    service: object
    people: dict

    def command(self, action: str, rid: str, *, iin: str | None = None, by: str = "op", approver: str | None = None,
                **fields):
        message = LifecycleCommand(request_id=rid, reply_to=BRANCH, action=LifecycleAction(action), iin=iin,
                                   reason=fields.pop("reason", "written application"),
                                   principal_id=self.people[by].party_id,
                                   approver_id=self.people[approver].party_id if approver else None, **fields)
        message = sign(message, "principal_signature", self.people[by].signing)
        if approver:
            message = sign(message, "approver_signature", self.people[approver].signing)
        return self.seal(message)

    def seal(self, command: LifecycleCommand) -> bytes:
        """A signed command sealed by the branch's service, as the branch sends it."""
        return sealing.seal(encode(command), sender_id=BRANCH, packet_id=command.request_id,
                            signing_key=self.service.signing, centre_public=self.centre.keys.box.public_key())

    def send(self, command: LifecycleCommand):
        """A command signed elsewhere (e.g. `station.subject_application`), sealed, accepted and run; its Result."""
        return commands.run_command(self.centre, intake.accept_command(self.centre, self.seal(command)))

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


CAPTURED_AT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def sealed_enrollment(centre, fvc_dir, packet_id: str, iin: str, fingers: dict[int, str], *,
                      basis: str = "public_service_authentication", others: str = "injured", **applicant) -> bytes:
    """An enrollment packet under `basis` with the FVC impressions `fingers` (the other positions `others`), as a
    station seals it."""
    images = FvcScanner(fvc_dir / "DB1_B", fingers).images()
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=CAPTURED_AT,
        purpose=basis, **identity(iin, "Unit Person", operator_id=centre.operator.party_id, signed_on=CAPTURED_AT,
                                  purpose=basis, **applicant),
        fingers=[Finger(position=p, status="captured", image=c.png, format="png", dpi=500) for p, c in images.items()]
        + [Finger(position=p, status=others) for p in range(1, 11) if p not in images])
    packet = signed_by_operator(centre, packet)
    return sealing.seal(encode(packet), sender_id=STATION, packet_id=packet_id, signing_key=centre.station_key,
                        centre_public=centre.keys.box.public_key())


def enrolled_under(centre, fvc_dir, packet_id: str, iin: str, fingers: dict[int, str], *,
                   basis: str = "public_service_authentication", **applicant):
    """Accepted, deduplicated and settled: (enrollment id, its Result)."""
    accepted = intake.accept_enrollment(centre, sealed_enrollment(centre, fvc_dir, packet_id, iin, fingers,
                                                                  basis=basis, **applicant))
    gallery = Gallery(centre)
    done = enrollments.settle(centre, accepted.enrollment_id,
                              *matching.deduplicate(centre, gallery, accepted.enrollment_id))
    return accepted.enrollment_id, done


def service(centre, service_id: str, recipient_kind: str):
    """A service registered by the centre as `recipient_kind`."""
    return ensure_sender(centre, centre.settings, service_id, "service", recipient_kind=recipient_kind)


def probe(centre, fvc_dir, service_id: str, keys, rid: str, fingers: dict[int, str], *, iin: str | None = None) -> str:
    """Send a verify (with `iin`) or identify request from the service, accepted by intake; answer it with `answer`."""
    images = [Finger(position=p, status="captured", image=(fvc_dir / "DB1_B" / f"{name}.tif").read_bytes(),
                     format="tiff", dpi=500) for p, name in fingers.items()]
    request = (VerifyRequest(request_id=rid, reply_to=service_id, iin=iin, fingers=images) if iin else
               IdentifyRequest(request_id=rid, reply_to=service_id, fingers=images))
    sealed = sealing.seal(encode(request), sender_id=service_id, packet_id=rid, signing_key=keys.signing,
                          centre_public=centre.keys.box.public_key())
    return intake.accept_request(centre, sealed)[0]


def answer(centre, rid: str):
    return matching.answer_probe(centre, Gallery(centre), rid)
