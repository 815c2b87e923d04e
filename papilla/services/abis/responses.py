"""MOSIP ABIS responses, in one of two published shapes (`profile`), with no key either shape lacks.

* ``spec``: MOSIP's ABIS API specification (version 0.9): `responsetime` ISO 8601, `returnValue` and
  `failureReason` as strings, identify candidates with `analytics` and per-modality `modalities`, the
  pending count as `jobscount`, the reference count as `count`.
* ``kit``: the response JSON schemas of MOSIP's ABIS testing kit: `timestamp` in Unix seconds (pendingJobs:
  `responseTime` and `jobsCount`), integer codes (failure reasons 0-9, see `failures.kit_code`), candidates
  with `internalScore`, `scaledScore`, `analytics` (a list) and `scores`; ping also carries `jobscount`.

Scores: `internalScore` is Papilla's fused score in hundredths; `scaledScore` is ten times the fused score,
which is -log10 of the false-match probability, so it reads on the same scale as `targetFPIR`
(round(-10 log10 rate)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .failures import AbisFailure, kit_code

PROFILES = ("spec", "kit")
SUCCESS, FAILED = 1, 2
BIOMETRIC_TYPE = "FIR"     # finger image record: the only modality Papilla matches


@dataclass(frozen=True)
class Match:
    """One candidate: the partner's reference id and Papilla's fused score."""

    reference_id: str
    score: float
    finger_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What an operation found, before it is shaped into a profile's response."""

    candidates: tuple[Match, ...] | None = None   # identify
    count: int | None = None                       # referenceCount, pendingJobs (and ping in the kit)


def internal_score(score: float) -> str:
    return str(max(0, round(score * 100)))


def scaled_score(score: float) -> str:
    return str(max(0, round(score * 10)))


def _time(profile: str, now: datetime) -> str:
    if profile == "kit":
        return str(int(now.timestamp()))
    return now.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _code(profile: str, value: int) -> int | str:
    return value if profile == "kit" else str(value)


def _head(profile: str, operation: str, request_id: str, now: datetime) -> dict:
    time_key = "responseTime" if profile == "kit" and operation == "pendingJobs" else (
        "timestamp" if profile == "kit" else "responsetime")
    return {"id": f"mosip.abis.{operation}", "requestId": request_id, time_key: _time(profile, now)}


def _candidate(profile: str, match: Match) -> dict:
    internal, scaled = internal_score(match.score), scaled_score(match.score)
    if profile == "kit":
        return {"referenceId": match.reference_id, "internalScore": internal, "scaledScore": scaled,
                "analytics": [], "scores": [{"biometricType": BIOMETRIC_TYPE, "internalScore": internal,
                                             "scaledScore": scaled, "analytics": []}]}
    return {"referenceId": match.reference_id,
            "analytics": {"internalScore": internal, "scaledScore": scaled},
            "modalities": [{"biometricType": BIOMETRIC_TYPE,
                            "analytics": {"internalScore": internal, "scaledScore": scaled,
                                          "fingers": {p: internal_score(s) for p, s in match.finger_scores.items()}}}]}


def success(profile: str, operation: str, request_id: str, outcome: Outcome = Outcome(),
            now: datetime | None = None) -> dict:
    out = _head(profile, operation, request_id, now or datetime.now(timezone.utc))
    if operation == "pendingJobs":
        out["jobsCount" if profile == "kit" else "jobscount"] = str(outcome.count or 0)
    elif operation == "ping" and profile == "kit":
        out["jobscount"] = str(outcome.count or 0)
    elif operation == "referenceCount":
        out["count"] = str(outcome.count or 0)
    out["returnValue"] = _code(profile, SUCCESS)
    if operation == "identify":
        candidates = [_candidate(profile, m) for m in outcome.candidates or ()]
        out["candidateList"] = {"count": str(len(candidates)), "candidates": candidates}
    return out


def failure(profile: str, operation: str, request_id: str, error: AbisFailure,
            now: datetime | None = None) -> dict:
    out = _head(profile, operation, request_id, now or datetime.now(timezone.utc))
    if profile == "kit":         # the kit's schemas require the count fields on failure too
        extra = {"pendingJobs": "jobsCount", "ping": "jobscount", "referenceCount": "count"}.get(operation)
        if extra:
            out[extra] = "0"
    out["returnValue"] = _code(profile, FAILED)
    out["failureReason"] = kit_code(error.reason) if profile == "kit" else str(int(error.reason))
    return out
