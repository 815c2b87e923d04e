"""The store's collection names, the one place they are spelled (indexes, services and commands import them).

`store/indexes.py` declares each collection's indexes under these names; tests/architecture checks that
no other module spells a collection name as a string.
"""
from __future__ import annotations

SUBJECTS = "subjects"
ENROLLMENTS = "enrollments"
#: per finger: encrypted image and minutiae (the FingerTemplate extraction made); written by admission
BIOMETRICS = "biometrics"
#: per enrollment: the matcher's prepared form of all its fingers in one encrypted field; written by match
TEMPLATES = "templates"
#: probe jobs (admission → match), the key-rotation job and store locks share this collection by `_id`
JOBS = "jobs"
GALLERY = "gallery"
RESULTS = "results"
SENDERS = "senders"
DEAD_LETTERS = "dead_letters"
DATA_KEYS = "data_keys"
AUDIT = "audit"
#: the audit trail's head ("head") and its signed checkpoints ("checkpoint:<seq>")
AUDIT_META = "audit_meta"
RETENTION = "retention"
RETENTION_EVENTS = "retention_events"
DESTRUCTION_ACTS = "destruction_acts"
ACCESS_REQUESTS = "access_requests"
TRANSFERS = "transfers"
CONSENTS = "consents"

ALL = (SUBJECTS, ENROLLMENTS, BIOMETRICS, TEMPLATES, JOBS, GALLERY, RESULTS, SENDERS, DEAD_LETTERS, DATA_KEYS,
       AUDIT, AUDIT_META, RETENTION, RETENTION_EVENTS, DESTRUCTION_ACTS, ACCESS_REQUESTS, TRANSFERS, CONSENTS)


def job_key_subject(request_id: str) -> str:
    """Probe templates of a request are encrypted under their own data key, destroyed when answered."""
    return f"job-{request_id}"
