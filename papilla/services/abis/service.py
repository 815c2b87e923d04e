"""One MOSIP ABIS request in, one response out: parse, run the operation, shape the answer.

Every failure is a response with returnValue 2 and its numbered reason, never an exception out of `handle`:
MOSIP waits for an answer to each requestId. A refusal by a rule of the law (role, blocking, application)
is answered with reason 4 and logged with the rule's citation; an unexpected error with reason 3 (its type
only: no request content, no biometric data in the log).
"""
from __future__ import annotations

import logging

from papilla.shared.errors import Refusal

from . import domain, requests, responses
from .failures import AbisFailure, Reason

log = logging.getLogger(__name__)

#: Papilla refusal codes and the MOSIP reason that answers them (the rest: 4, unable to serve the request)
REFUSAL_REASONS = {"unusable_finger": Reason.QUALITY_CHECK_FAILED,
                   "too_few_minutiae_total": Reason.QUALITY_CHECK_FAILED,
                   "bad_image": Reason.INVALID_CBEFF}


def failure_of(refusal: Refusal) -> AbisFailure:
    return AbisFailure(REFUSAL_REASONS.get(refusal.code, Reason.INVALID_REQUEST_STRUCTURE),
                       f"refused ({refusal.code}): {refusal.detail}", rule=refusal.rule)


def _request_id(doc: dict) -> str:
    value = doc.get("requestId") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else ""


def handle(ctx: domain.AbisContext, raw: bytes | str) -> dict:
    """The response document for one request (the partner's profile)."""
    profile, doc = ctx.partner.profile, {}
    try:
        doc = requests.load(raw)
        request = requests.parse(doc)
        outcome = domain.OPERATIONS[request.operation](ctx, request)
        return responses.success(profile, request.operation, request.request_id, outcome)
    except AbisFailure as failure:
        error = failure
    except Refusal as refusal:
        error = failure_of(refusal)
    except Exception as exc:   # noqa: BLE001 - MOSIP must get an answer; the type is logged, never the content
        log.exception("ABIS request failed unexpectedly (%s)", type(exc).__name__)
        error = AbisFailure(Reason.UNEXPECTED_ERROR, f"unexpected {type(exc).__name__}")
    log.info("ABIS %s", error)
    operation = requests.operation_of(doc)
    out = responses.failure(profile, operation or "ping", _request_id(doc), error)
    if operation is None:       # an id that names no operation: echoed when it is a string
        out["id"] = doc.get("id") if isinstance(doc.get("id"), str) else "mosip.abis"
    return out
