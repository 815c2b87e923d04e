"""MOSIP ABIS requests: parsed and checked at the edge.

Tolerant where real clients differ from each other (and from the specification's own examples): the version
as `version` or `ver`, the time as `requesttime`, `requestTime` or `timestamp` (ISO 8601 or Unix seconds),
the URL as `referenceURL` or `referenceUrl`, flags as numbers or numeric strings and `targetFPIR` in any
case. Strict where the specification is: the operation id, a request id, a request time, a supported
version, the reference id of insert and delete, the URL of insert; each refused with its numbered reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .failures import AbisFailure, Reason

OPERATIONS = ("insert", "identify", "delete", "ping", "pendingJobs", "referenceCount")
PREFIX = "mosip.abis."
VERSIONS = ("1.0", "1.1")
MAX_REQUEST_BYTES = 1_000_000
MAX_GALLERY = 100_000
MAX_RESULTS_LIMIT = 1000
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Flags:
    """The identify flags Papilla interprets (others are accepted and ignored, as the specification allows).

    max_results: at most this many candidates (None: the partner's default)
    target_fpir: round(-10 log10 FPIR), e.g. 30 for 1 in 1,000 (None: the centre's PAPILLA_IDENTIFY_FPIR)
    """

    max_results: int | None = None
    target_fpir: float | None = None

    @property
    def fpir(self) -> float | None:
        return None if self.target_fpir is None else 10 ** (-self.target_fpir / 10)


@dataclass(frozen=True)
class AbisRequest:
    operation: str                       # one of OPERATIONS
    request_id: str
    version: str
    request_time: datetime
    reference_id: str | None = None
    reference_url: str | None = None
    flags: Flags = Flags()
    gallery: tuple[str, ...] | None = None   # identify restricted to these reference ids

    @property
    def id(self) -> str:
        return PREFIX + self.operation


def operation_of(doc: dict) -> str | None:
    """The operation a request names, if it names one of ours (for answering a refused request)."""
    value = doc.get("id") if isinstance(doc, dict) else None
    if isinstance(value, str) and value.startswith(PREFIX) and value[len(PREFIX):] in OPERATIONS:
        return value[len(PREFIX):]
    return None


def load(raw: bytes | str) -> dict:
    """The request document, or failure 4 (not JSON, not an object, too large)."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"request over {MAX_REQUEST_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"request is not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, "request is not a JSON object")
    return doc


def _first(doc: dict, *keys: str):
    return next((doc[k] for k in keys if doc.get(k) not in (None, "")), None)


def _text(value, field: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"{field} must be a string")
    return value.strip()


def _time(value) -> datetime:
    text = _text(value, "requesttime")
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise AbisFailure(Reason.INVALID_REQUEST_TIME, "requesttime is neither ISO 8601 nor Unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _version(doc: dict) -> str:
    value = _first(doc, "version", "ver")
    text = None if value is None else _text(value, "version")
    if text not in VERSIONS:
        raise AbisFailure(Reason.INVALID_VERSION, f"version must be one of {', '.join(VERSIONS)}")
    return text


def _reference(value, field: str = "referenceId") -> str:
    text = _text(value, field)
    if not _REFERENCE.match(text):
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"{field} must be 1-128 letters, digits and . _ : -")
    return text


def _number(value, field: str, low: float, high: float) -> float:
    try:
        number = float(_text(value, field))
    except ValueError:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"flag {field} is not a number") from None
    if not low <= number <= high:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, f"flag {field} must be within {low:g}..{high:g}")
    return number


def _flags(value) -> Flags:
    if value in (None, ""):
        return Flags()
    if not isinstance(value, dict):
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, "flags must be an object")
    lowered = {str(k).lower(): v for k, v in value.items()}
    max_results = lowered.get("maxresults")
    target = lowered.get("targetfpir")
    return Flags(max_results=None if max_results in (None, "") else
                 int(_number(max_results, "maxResults", 1, MAX_RESULTS_LIMIT)),
                 target_fpir=None if target in (None, "") else _number(target, "targetFPIR", 3, 120))


def _gallery(value) -> tuple[str, ...] | None:
    if value in (None, "", {}):
        return None
    ids = value.get("referenceIds") if isinstance(value, dict) else None
    if not isinstance(ids, list) or len(ids) > MAX_GALLERY:
        raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, "gallery must be {\"referenceIds\": [{\"referenceId\": …}]}")
    out = []
    for entry in ids:
        if not isinstance(entry, dict) or entry.get("referenceId") in (None, ""):
            raise AbisFailure(Reason.INVALID_REQUEST_STRUCTURE, "each gallery entry names a referenceId")
        out.append(_reference(entry["referenceId"], "gallery referenceId"))
    return tuple(out)


def parse(doc: dict) -> AbisRequest:
    """The checked request, or the AbisFailure with its reason (the order of the checks is the table's)."""
    operation = operation_of(doc)
    if operation is None:
        raise AbisFailure(Reason.INVALID_ID, f"id must be one of {', '.join(PREFIX + o for o in OPERATIONS)}")
    request_id = _first(doc, "requestId", "requestID")
    if request_id is None:
        raise AbisFailure(Reason.MISSING_REQUEST_ID, "requestId is missing")
    request_id = _reference(request_id, "requestId")
    version = _version(doc)
    when = _first(doc, "requesttime", "requestTime", "timestamp")
    if when is None:
        raise AbisFailure(Reason.MISSING_REQUEST_TIME, "requesttime is missing")
    reference = _first(doc, "referenceId", "referenceID")
    url = _first(doc, "referenceURL", "referenceUrl")
    request = AbisRequest(operation, request_id, version, _time(when),
                          reference_id=None if reference is None else _reference(reference),
                          reference_url=None if url is None else _text(url, "referenceURL"),
                          flags=_flags(doc.get("flags")) if operation == "identify" else Flags(),
                          gallery=_gallery(doc.get("gallery")) if operation == "identify" else None)
    _check_operation_fields(request)
    return request


def _check_operation_fields(request: AbisRequest) -> None:
    if request.operation in ("insert", "delete") and request.reference_id is None:
        raise AbisFailure(Reason.MISSING_REFERENCE_ID, f"{request.operation} needs a referenceId")
    if request.operation == "insert" and request.reference_url is None:
        raise AbisFailure(Reason.MISSING_REFERENCE_URL, "insert needs a referenceURL")
    if request.operation == "identify" and request.reference_id is None and request.reference_url is None:
        raise AbisFailure(Reason.MISSING_REFERENCE_ID, "identify needs a referenceId or a referenceURL")
