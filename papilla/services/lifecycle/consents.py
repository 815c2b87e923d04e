"""Consent as data: given and withdrawn, each with who signed it and who accepted it (Rules 406 p.3; Rules 395 p.6).

A consent record is written when the centre accepts an enrollment (consent *given*: who signed the form —
the subject, a legal representative or a custodian — and the operator who accepted it, from the packet) and
when a withdrawal is received (`withdraw_consent`: who applied and the principal who accepted it). Who signed
and who accepted are personal data: they are kept only encrypted under the subject's data key, so they are
destroyed with the subject (crypto-shredding) and the documents deleted with it. In clear: ids, the event
("given" / "withdrawn") and its time, so the consent state can be read without any inference from other fields.

The subject's consent state (`consent_state`) is the latest record: GIVEN, WITHDRAWN, or NONE (no record).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from papilla.shared import clock, names
from papilla.shared.centre import Centre
from papilla.shared.store.base import DuplicateKeyError

CONSENTS = names.CONSENTS
GIVEN, WITHDRAWN, NONE = "GIVEN", "WITHDRAWN", "NONE"
#: the basis an enrollment written before `legal_basis` was recorded is read under
PUBLIC_SERVICE = "public_service_authentication"
_EVENTS = {"given": GIVEN, "withdrawn": WITHDRAWN}


@dataclass(frozen=True)
class ConsentState:
    """The subject's consent as its records say.

    state:        GIVEN, WITHDRAWN or NONE
    at:           when the latest record was made (ISO 8601), None without records
    by:           who signed or applied: subject, legal_representative or custodian
    accepted_by:  the operator or principal who accepted it
    enrollment_id: the enrollment a given consent was taken for (None for a withdrawal)
    """

    state: str
    at: str | None = None
    by: str | None = None
    accepted_by: str | None = None
    enrollment_id: str | None = None


def _write(centre: Centre, subject_id: str, record_id: str, event: str, enrollment_id: str | None,
           sealed: dict) -> None:
    blob = centre.cipher.encrypt(subject_id, CONSENTS, record_id, "record", json.dumps(sealed).encode())
    try:
        centre.store.insert(CONSENTS, {"_id": record_id, "subject_id": subject_id, "enrollment_id": enrollment_id,
                                       "event": event, "at": clock.now().isoformat(), "record": blob})
    except DuplicateKeyError:
        pass   # written by an earlier delivery of the same packet or command


def record_given(centre: Centre, subject_id: str, enrollment_id: str, *, signed_by: str, accepted_by: str,
                 legal_basis: str) -> None:
    """Consent given, recorded when the centre accepts the enrollment (idempotent per enrollment)."""
    _write(centre, subject_id, f"{enrollment_id}:given", "given", enrollment_id,
           {"by": signed_by, "accepted_by": accepted_by, "legal_basis": legal_basis})


def record_withdrawn(centre: Centre, subject_id: str, job: dict) -> None:
    """Consent withdrawn on the written application of `job["on_application_of"]`, accepted by its principal."""
    _write(centre, subject_id, f"{job['_id']}:withdrawn", "withdrawn", None,
           {"by": job.get("on_application_of"), "accepted_by": job["principal_id"], "request_id": job["_id"]})


def records(centre: Centre, subject_id: str) -> list[dict]:
    """The subject's consent records, oldest first, opened (event, at, by, accepted_by, enrollment_id)."""
    opened = []
    docs = centre.store.find(CONSENTS, {"subject_id": subject_id})
    # at one instant (a clock set by a test), a withdrawal follows the consent it withdraws
    for doc in sorted(docs, key=lambda d: (d["at"], d["event"] == "withdrawn", d["_id"])):
        sealed = json.loads(centre.cipher.decrypt(subject_id, CONSENTS, doc["_id"], "record", doc["record"])) \
            if doc.get("record") else {}    # depersonalized: who signed and accepted are sealed apart
        opened.append({"event": doc["event"], "at": doc["at"], "enrollment_id": doc.get("enrollment_id"), **sealed})
    return opened


def consent_state(centre: Centre, subject_id: str) -> ConsentState:
    """Read from the records, never inferred: the latest given or withdrawn record decides."""
    found = records(centre, subject_id)
    if not found:
        return ConsentState(NONE)
    last = found[-1]
    return ConsentState(_EVENTS[last["event"]], last["at"], last.get("by"), last.get("accepted_by"),
                        last.get("enrollment_id"))
