"""Records on given registration dates, written as intake writes them (no extraction: the sweep never reads images)."""
from __future__ import annotations

import os
from datetime import date, datetime, time, timezone

from papilla.identity import ensure_sender
from papilla.services.admission.intake import subject_for
from papilla.services.lifecycle import retention
from papilla.shared import clock, gallery_log

from tests.helpers.centre import STATION


def principal(centre, party_id: str, role: str):
    return ensure_sender(centre, centre.settings, party_id, "principal", role=role)


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=clock.LOCAL_TZ)


def enroll(centre, enrollment_id: str, iin: str, basis: str, registered_on: date, *, state: str = "ACTIVE") -> dict:
    """An enrollment with one encrypted finger image, in the gallery, with its retention term."""
    subject = subject_for(centre, iin, create=True)
    sid, captured = subject["_id"], local_noon(registered_on)
    doc = {"_id": enrollment_id, "subject_id": sid, "state": state, "station_id": STATION,
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
