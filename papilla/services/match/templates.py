"""The matcher's prepared templates: made by match from extract's FingerTemplates, stored apart from images.

Extract writes each finger's `FingerTemplate` (and its image) to `biometrics`.
Match prepares the matcher's form once per enrollment and keeps all its fingers
in ONE encrypted field of one `templates` document, so a worker loading the
gallery reads only templates (never images) and decrypts once per enrollment.
A template of an older engine version is prepared again from the stored
minutiae and saved.
"""
from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from papilla.services.match import engine
from papilla.services.match.engine import PreparedTemplate, TemplateVersionError
from papilla.shared.centre import Centre
from papilla.shared.crypto.errors import CryptoError
from papilla.shared.names import BIOMETRICS, JOBS, TEMPLATES, job_key_subject
from papilla.shared.store.base import DuplicateKeyError
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate, template_from_bytes

log = logging.getLogger(__name__)

_FIELD = "prepared"


def pack_fingers(fingers: dict[int, PreparedTemplate]) -> bytes:
    """All fingers of an enrollment in one byte string: (position, length, prepared bytes) repeated."""
    out = []
    for position in sorted(fingers):
        blob = fingers[position].to_bytes()
        out.append(struct.pack("<BI", position, len(blob)) + blob)
    return b"".join(out)


def unpack_fingers(data: bytes) -> dict[int, PreparedTemplate]:
    """Inverse of `pack_fingers`; TemplateVersionError when any finger is from another engine version."""
    fingers, off = {}, 0
    while off < len(data):
        position, size = struct.unpack_from("<BI", data, off)
        off += 5
        fingers[position] = PreparedTemplate.from_bytes(data[off:off + size])
        off += size
    return fingers


def _finger_template(centre: Centre, doc: dict) -> FingerTemplate:
    """The FingerTemplate extract stored for one finger (older records: raw minutiae plus size fields)."""
    dec = centre.cipher.decrypt
    if "template" in doc:
        return template_from_bytes(dec(doc["subject_id"], BIOMETRICS, doc["_id"], "template", doc["template"]))
    raw = dec(doc["subject_id"], BIOMETRICS, doc["_id"], "minutiae", doc["minutiae"])
    return FingerTemplate(width=int(doc.get("width", 0)), height=int(doc.get("height", 0)),
                          minutiae=np.frombuffer(raw, dtype=MINUTIA_DTYPE).copy(), quality=int(doc["quality"]))


def prepare_enrollment(centre: Centre, enrollment_id: str, subject_id: str) -> dict[int, PreparedTemplate]:
    """Prepare an enrollment's fingers from its FingerTemplates and store them (idempotent: last writer wins
    with identical content)."""
    fingers = {int(doc["position"]): engine.prepare(_finger_template(centre, doc))
               for doc in centre.store.find(BIOMETRICS, {"enrollment_id": enrollment_id})}
    sealed = centre.cipher.encrypt(subject_id, TEMPLATES, enrollment_id, _FIELD, pack_fingers(fingers))
    doc = {"subject_id": subject_id, "engine": engine.ENGINE_VERSION, _FIELD: sealed}
    try:
        centre.store.update(TEMPLATES, {"_id": enrollment_id}, set=doc, upsert_doc={"_id": enrollment_id})
    except DuplicateKeyError:
        pass  # a concurrent worker stored the same templates
    return fingers


def _open(centre: Centre, doc: dict) -> dict[int, PreparedTemplate] | None:
    """Decrypt one templates document; None when it is from an older engine (prepare again)."""
    if doc.get("engine") != engine.ENGINE_VERSION:
        return None
    try:
        return unpack_fingers(centre.cipher.decrypt(doc["subject_id"], TEMPLATES, doc["_id"], _FIELD, doc[_FIELD]))
    except TemplateVersionError:
        return None


def fingers_of(centre: Centre, enrollment_id: str, subject_id: str) -> dict[int, PreparedTemplate]:
    """The prepared fingers of one enrollment, prepared (and stored) first when missing or outdated."""
    doc = centre.store.get(TEMPLATES, enrollment_id)
    fingers = _open(centre, doc) if doc is not None else None
    if fingers is None:
        if doc is not None:
            log.info("re-preparing templates from engine %s for %s", doc.get("engine"), engine.ENGINE_VERSION)
        fingers = prepare_enrollment(centre, enrollment_id, subject_id)
    return fingers


@dataclass(frozen=True)
class Loaded:
    enrollment_id: str
    subject_id: str
    fingers: dict[int, PreparedTemplate]


def load_many(centre: Centre, entries: Iterable[tuple[str, str]], batch: int = 500) -> Iterator[Loaded]:
    """Bulk load (enrollment id, subject id) pairs: one store query per `batch` enrollments, one decryption
    per enrollment. Unreadable entries (data key destroyed meanwhile) are left out."""
    entries = list(entries)
    for start in range(0, len(entries), batch):
        chunk = dict(entries[start:start + batch])
        docs = {d["_id"]: d for d in centre.store.find(TEMPLATES, {"_id": {"$in": list(chunk)}})}
        for enrollment_id, subject_id in chunk.items():
            try:
                doc = docs.get(enrollment_id)
                fingers = _open(centre, doc) if doc is not None else None
                if fingers is None:
                    fingers = prepare_enrollment(centre, enrollment_id, subject_id)
            except CryptoError:
                log.warning("gallery entry unreadable (data key destroyed?); left out")
                continue
            yield Loaded(enrollment_id, subject_id, fingers)


def probes_of(centre: Centre, job: dict) -> dict[int, PreparedTemplate]:
    """A verify / identify job's probe fingers, prepared for matching."""
    key_subject = job_key_subject(job["_id"])
    out = {}
    for pos, blob in job["probes"].items():
        data = centre.cipher.decrypt(key_subject, JOBS, job["_id"], f"probe{pos}", blob)
        out[int(pos)] = engine.prepare(template_from_bytes(data))
    return out
