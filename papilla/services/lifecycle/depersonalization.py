"""Depersonalization and its removal by the authorised state body (Law Art.9 p.1, p.3; definition Art.1 9)).

Depersonalization makes it impossible to tell whose dactyloscopic information a record is "without using
additional information"; here that additional information is the centre's **depersonalization key**
(`keys.DEPERSONALIZATION`), held apart from the KEKs, the data-key vault and the IIN pepper.

What `depersonalize` does to one subject, in the store:

* **the link**: ``subjects.iin_hash`` (the IIN pepper's keyed hash, how every lookup finds a person) is
  replaced by a pseudonym ``dp1:<HMAC(depersonalization key, label | iin_hash)>``. Knowing the IIN and holding
  the pepper no longer finds the record; the authorised body, holding the depersonalization key, finds it again.
* **the identifying fields** are taken out of the documents: the subject's encrypted IIN, each enrollment's
  encrypted ``personal`` (name and the consent form, whose document reference identifies the person at the
  branch) and the capture origin (station, operator, capture time, reply queue: with the branch's own records
  they single a person out; the identity document's keyed hash, which the pepper and the number link back). They are kept only inside one blob on the subject, ``depersonalized.ct``, which is
  AES-256-GCM under a key derived from the depersonalization key (HMAC of a label and the subject id) around
  the data-key ciphertexts as they were. Reading it needs both keys: a copy of the data plus the data keys
  (vault, KEKs, pepper) cannot re-link, and destruction (shredding the data key) still leaves nothing readable.
* **the consent records** (`consents.py`): who signed and who accepted each consent (the accepting operator
  singles out the branch) go into the same blob; the records keep only their event and time, so the consent
  state is still read from them.
* **what stays usable** (docs/legal.md): the fingerprint images and templates stay, under the data key, and the
  enrollments stay in the 1:N gallery, so identification and deduplication keep working (Law Art.16 p.1, 3): a
  hit names a pseudonymous record; a 1:1 check by IIN answers NOT_ENROLLED (the IIN link is what was removed).
  ``created_at``, ``legal_basis``, states and finger status stay, so retention terms still run.

`remove_depersonalization` reverses it exactly, only with the same depersonalization key. Both are refused for
a blocked subject (blocking stops depersonalizing, Law Art.1 7)) and while an enrollment is still in progress.
"""
from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from papilla.shared import audit
from papilla.shared.centre import Centre
from papilla.shared.crypto.keys import DEPERSONALIZATION
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.rules import rule
from papilla.shared.messages import Result
from papilla.shared.names import ENROLLMENTS, SUBJECTS

from .consents import CONSENTS

RULE_ID = "depersonalization_by_authorised_body"
PSEUDONYM_PREFIX = "dp1:"
_LINK_LABEL = b"papilla/depersonalization/v1/link\x00"
_SEAL_LABEL = b"papilla/depersonalization/v1/seal\x00"
_AAD_LABEL = b"papilla/depersonalization/v1/aad\x00"
NONCE_SIZE = 12
#: enrollment fields that identify the person or single them out; taken out of the document
#: document_hash: the identity document's keyed hash links back to the person like the IIN's
ORIGIN_FIELDS = ("station_id", "operator_id", "captured_at", "reply_to", "document_hash")
#: enrollment states that are settled; any other (EXTRACTED, PENDING_REVIEW…) is still being processed
SETTLED = ("ACTIVE", "ARCHIVED", "REJECTED")


class DepersonalizationKeyMismatch(Exception):
    """The blob does not open: another depersonalization key, or tampering."""


def pseudonym(centre: Centre, iin_hash: str) -> str:
    """The depersonalized link of a subject: found only with the depersonalization key."""
    return PSEUDONYM_PREFIX + centre.provider.mac(DEPERSONALIZATION, _LINK_LABEL + iin_hash.encode()).hex()


def _seal_key(centre: Centre, subject_id: str) -> bytes:
    return centre.provider.mac(DEPERSONALIZATION, _SEAL_LABEL + subject_id.encode())


def _b64(blob: dict) -> dict:
    return {k: base64.b64encode(bytes(v)).decode() if isinstance(v, (bytes, bytearray, memoryview)) else v
            for k, v in blob.items()}


def _unb64(blob: dict) -> dict:
    return {k: base64.b64decode(v) if k in ("n", "ct") else v for k, v in blob.items()}


def seal_hidden(centre: Centre, subject_id: str, hidden: dict) -> dict:
    """`hidden` (data-key ciphertexts) sealed under the depersonalization key, bound to the subject."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    plaintext = json.dumps(hidden, sort_keys=True).encode()
    ct = AESGCM(_seal_key(centre, subject_id)).encrypt(nonce, plaintext, _AAD_LABEL + subject_id.encode())
    return {"n": nonce, "ct": ct}


def open_hidden(centre: Centre, subject_id: str, sealed: dict) -> dict:
    try:
        plaintext = AESGCM(_seal_key(centre, subject_id)).decrypt(bytes(sealed["n"]), bytes(sealed["ct"]),
                                                                 _AAD_LABEL + subject_id.encode())
    except (InvalidTag, KeyError, ValueError):
        raise DepersonalizationKeyMismatch("the depersonalized record does not open with this key") from None
    return json.loads(plaintext)


def _result(job: dict, status: str, *, reason: str | None = None, rule_id: str | None = RULE_ID) -> Result:
    return Result(request_id=job["_id"], kind="lifecycle", status=status, reason=reason,
                  rule=rule(rule_id).citation if rule_id else None)


def _settled_enrollments(centre: Centre, job: dict, subject: dict, trigger: str) -> tuple[list[dict], Result | None]:
    """The subject's enrollments, and the refusal when the state machine does not allow `trigger` (a blocked
    subject) or one of them is still being decided."""
    enrollments = list(centre.store.find(ENROLLMENTS, {"subject_id": subject["_id"]}))
    try:
        states.check_subject(subject, trigger)
    except Refusal as refusal:
        return enrollments, Result(request_id=job["_id"], kind="lifecycle", status="REFUSED", reason=refusal.code,
                                   rule=refusal.rule, detail=refusal.detail)
    if any(e["state"] not in SETTLED for e in enrollments):
        return enrollments, _result(job, "REFUSED", reason="enrollment_in_progress")
    return enrollments, None


def depersonalize(centre: Centre, job: dict) -> Result:
    """Replace the subject's IIN link by the pseudonym and seal the identifying fields under the key held apart."""
    iin_hash = job.get("iin_hash")
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash}) if iin_hash else None
    if subject is None:
        if iin_hash and centre.store.find_one(SUBJECTS, {"iin_hash": pseudonym(centre, iin_hash)}):
            return _result(job, "REFUSED", reason="already_depersonalized")
        return _result(job, "NOT_ENROLLED", rule_id=None)
    sid = subject["_id"]
    enrollments, refused = _settled_enrollments(centre, job, subject, "depersonalize")
    if refused is not None:
        return refused
    consent_records = list(centre.store.find(CONSENTS, {"subject_id": sid}))
    hidden = {"subject": {"iin": _b64(subject["iin"])}, "enrollments": {},
              "consents": {c["_id"]: _b64(c["record"]) for c in consent_records if c.get("record")}}
    for enrollment in enrollments:
        origin = {f: enrollment.get(f) for f in ORIGIN_FIELDS}
        origin_ct = centre.cipher.encrypt(sid, ENROLLMENTS, enrollment["_id"], "origin", json.dumps(origin).encode())
        hidden["enrollments"][enrollment["_id"]] = {"origin": _b64(origin_ct),
                                                    "personal": _b64(enrollment["personal"])
                                                    if enrollment.get("personal") else None}
    sealed = seal_hidden(centre, sid, hidden)
    # the subject first (its link and the sealed blob in one update), then the enrollments' fields go
    if states.move_subject(centre.store, subject, "depersonalize", unset=("iin",),
                           iin_hash=pseudonym(centre, iin_hash),
                           depersonalized={**sealed, "at": datetime.now(timezone.utc).isoformat(),
                                           "by": job["principal_id"]}) is None:
        return depersonalize(centre, job)            # its state changed meanwhile: decide again
    for enrollment in enrollments:
        centre.store.update(ENROLLMENTS, {"_id": enrollment["_id"]}, unset=["personal", *ORIGIN_FIELDS])
    for record in consent_records:                   # who signed and accepted the consent go with the link
        centre.store.update(CONSENTS, {"_id": record["_id"]}, unset=["record"])
    centre.store.release_deleted()   # old pages holding the link and the fields go (WAL checkpoint, vacuum)
    audit.append(centre, "depersonalized", subject_id=sid, actor=job["principal_id"], rule=rule(RULE_ID).citation,
                 details={"request_id": job["_id"], "enrollments": len(enrollments)})
    return _result(job, "DEPERSONALIZED")


def remove_depersonalization(centre: Centre, job: dict) -> Result:
    """Restore the IIN link and the identifying fields: needs the IIN and the depersonalization key."""
    iin_hash = job.get("iin_hash")
    if not iin_hash:
        return _result(job, "NOT_ENROLLED", rule_id=None)
    link = pseudonym(centre, iin_hash)
    subject = centre.store.find_one(SUBJECTS, {"iin_hash": link})
    if subject is None:
        if centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash}):
            return _result(job, "REFUSED", reason="not_depersonalized")
        return _result(job, "NOT_ENROLLED", rule_id=None)
    sid = subject["_id"]
    enrollments, refused = _settled_enrollments(centre, job, subject, "remove_depersonalization")
    if refused is not None:
        return refused
    if centre.store.find_one(SUBJECTS, {"iin_hash": iin_hash}):   # enrolled anew meanwhile: merge first
        return _result(job, "REFUSED", reason="iin_enrolled_again")
    try:
        hidden = open_hidden(centre, sid, subject["depersonalized"])
    except DepersonalizationKeyMismatch:
        return _result(job, "REFUSED", reason="depersonalization_key_mismatch")
    for eid, fields in hidden["enrollments"].items():
        origin = json.loads(centre.cipher.decrypt(sid, ENROLLMENTS, eid, "origin", _unb64(fields["origin"])))
        restored = {k: v for k, v in origin.items() if v is not None}
        if fields.get("personal"):
            restored["personal"] = _unb64(fields["personal"])
        centre.store.update(ENROLLMENTS, {"_id": eid}, set=restored)
    for record_id, record in hidden.get("consents", {}).items():
        centre.store.update(CONSENTS, {"_id": record_id}, set={"record": _unb64(record)})
    if states.move_subject(centre.store, subject, "remove_depersonalization", unset=("depersonalized",),
                           iin_hash=iin_hash, iin=_unb64(hidden["subject"]["iin"])) is None:
        return remove_depersonalization(centre, job)   # its state changed meanwhile: decide again
    audit.append(centre, "depersonalization_removed", subject_id=sid, actor=job["principal_id"],
                 rule=rule(RULE_ID).citation,
                 details={"request_id": job["_id"], "depersonalized_by": subject["depersonalized"].get("by")})
    return _result(job, "DEPERSONALIZATION_REMOVED")
