"""MOSIP ABIS failure reasons, as data: the code, MOSIP's wording, and the code the testing kit can carry.

The codes are those of MOSIP's ABIS API specification (version 0.9 of 5 February 2021, "Failure Reasons",
codes 1-18). The ABIS testing kit's response schemas cap `failureReason` at 9 (they predate codes 10-18), so
the kit profile sends the older code that says the same thing (`kit_code`); docs/abis.md has the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Reason(IntEnum):
    INTERNAL_ERROR = 1
    ABORTED = 2
    UNEXPECTED_ERROR = 3
    INVALID_REQUEST_STRUCTURE = 4
    MISSING_REFERENCE_ID = 5
    MISSING_REQUEST_ID = 6
    UNABLE_TO_FETCH = 7
    MISSING_REFERENCE_URL = 8
    MISSING_REQUEST_TIME = 9
    REFERENCE_ID_EXISTS = 10
    CBEFF_HAS_NO_DATA = 11
    REFERENCE_ID_NOT_FOUND = 12
    INVALID_VERSION = 13
    INVALID_ID = 14
    INVALID_REQUEST_TIME = 15
    INVALID_CBEFF = 16
    DATA_SHARE_EXPIRED = 17
    QUALITY_CHECK_FAILED = 18


#: MOSIP's wording of each reason (ABIS API specification, "Failure Reasons")
WORDING: dict[Reason, str] = {
    Reason.INTERNAL_ERROR: "internal error - Unknown",
    Reason.ABORTED: "aborted",
    Reason.UNEXPECTED_ERROR: "unexpected error",
    Reason.INVALID_REQUEST_STRUCTURE: "unable to serve the request - invalid request structure",
    Reason.MISSING_REFERENCE_ID: "missing referenceId (in request body)",
    Reason.MISSING_REQUEST_ID: "missing requestId (in request body)",
    Reason.UNABLE_TO_FETCH: "unable to fetch biometric details (using referenceURL)",
    Reason.MISSING_REFERENCE_URL: "missing reference URL (in request body)",
    Reason.MISSING_REQUEST_TIME: "missing requesttime (in request body)",
    Reason.REFERENCE_ID_EXISTS: "referenceId already exists (in ABIS)",
    Reason.CBEFF_HAS_NO_DATA: "CBEFF has no data",
    Reason.REFERENCE_ID_NOT_FOUND: "referenceId not found (in ABIS)",
    Reason.INVALID_VERSION: "invalid version",
    Reason.INVALID_ID: "invalid id",
    Reason.INVALID_REQUEST_TIME: "invalid requesttime format",
    Reason.INVALID_CBEFF: "invalid CBEFF format",
    Reason.DATA_SHARE_EXPIRED: "data share URL has expired",
    Reason.QUALITY_CHECK_FAILED: "Biometric Quality check failed",
}

#: the testing kit's code (0-9) for the reasons added after its schemas were written
_KIT_CODES = {Reason.REFERENCE_ID_EXISTS: Reason.INVALID_REQUEST_STRUCTURE,
              Reason.CBEFF_HAS_NO_DATA: Reason.UNABLE_TO_FETCH,
              Reason.REFERENCE_ID_NOT_FOUND: Reason.MISSING_REFERENCE_ID,
              Reason.INVALID_VERSION: Reason.INVALID_REQUEST_STRUCTURE,
              Reason.INVALID_ID: Reason.INVALID_REQUEST_STRUCTURE,
              Reason.INVALID_REQUEST_TIME: Reason.INVALID_REQUEST_STRUCTURE,
              Reason.INVALID_CBEFF: Reason.UNABLE_TO_FETCH,
              Reason.DATA_SHARE_EXPIRED: Reason.UNABLE_TO_FETCH,
              Reason.QUALITY_CHECK_FAILED: Reason.UNEXPECTED_ERROR}


def kit_code(reason: Reason) -> int:
    return int(_KIT_CODES.get(reason, reason))


@dataclass
class AbisFailure(Exception):
    """A request answered with returnValue 2. `detail` is Papilla's sentence for the operator's log (ids and
    field names only, never biometric data); `rule` the legal citation when a rule of the law refused it."""

    reason: Reason
    detail: str
    rule: str | None = None

    def __str__(self) -> str:
        return f"failure {int(self.reason)} ({WORDING[self.reason]}): {self.detail}"
