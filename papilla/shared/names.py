"""Collection names and key-subject helpers shared by the services (one place, no cross-service imports)."""
from __future__ import annotations

SUBJECTS = "subjects"
ENROLLMENTS = "enrollments"
#: per finger: encrypted image and minutiae (the FingerTemplate extraction made); written by extract
BIOMETRICS = "biometrics"
#: per enrollment: the matcher's prepared form of all its fingers in one encrypted field; written by match
TEMPLATES = "templates"
JOBS = "jobs"


def job_key_subject(request_id: str) -> str:
    """Probe templates of a request are encrypted under their own data key, destroyed when answered."""
    return f"job-{request_id}"
