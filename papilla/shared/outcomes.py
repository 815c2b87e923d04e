"""What happens to a message that leaves the pipeline unanswered: one middleware, one place.

Refused (an expected `Refusal` the actor declares in `throws`), failed after
its last retry, expired, or undecodable: each such message gets exactly one
dead-letter record (reason code, rule, ids; its body only encrypted), one
count, and, when the sender is known, one REFUSED or FAILED result with the
right request kind on its reply queue. The message is then acknowledged:
the record is where it is kept. Only when the record cannot be written (the
store is down) is the message left failed, so RabbitMQ moves it to the
queue's `.XQ` and it is not lost.

dramatiq runs `after_process_message` hooks in reverse middleware order, so
this middleware must come *before* `Retries` in the broker's list to see the
final outcome (`message.failed` set by `Retries`): `broker.base_middleware`
puts it first.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import dramatiq

from . import deadletters, metrics, results
from .errors import Refusal
from .messages import Result

log = logging.getLogger(__name__)
#: Tries at writing a message's dead letter and answer before it is left on `.XQ` (backoff 1 s doubling to 2 min).
SETTLE_ATTEMPTS = 10
SETTLE_MAX_BACKOFF_MS = 120_000


@dataclass(frozen=True)
class ReplyTarget:
    """Who is waiting for an answer to a message, as far as the centre can tell."""
    request_id: str | None
    reply_to: str | None
    kind: str                       # Result.kind
    sender_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    code: str
    detail: str
    rule: str | None
    refused: bool                   # an expected refusal (REFUSED), not a failure (FAILED)


def outcome_of(message, exception: BaseException | None) -> Outcome:
    """Reason code and vetted detail; only our own exceptions carry detail, others are named by type."""
    if isinstance(exception, Refusal):
        return Outcome(exception.code, exception.detail, exception.rule, refused=True)
    retries = message.options.get("retries", 0)
    if exception is None:
        return Outcome("expired", "the message outlived its age limit before it was processed", None, refused=False)
    return Outcome("exhausted_retries", f"{type(exception).__name__} in each of {retries} attempts", None, refused=False)


class UnansweredMessages(dramatiq.Middleware):
    """Dead letter, count and answer for every message that leaves unanswered (see the module's doc).

    `centre` gives the store, cipher and result publisher; `reply_target(message, exception)` says who waits.
    """

    def __init__(self, centre: Callable[[], object], reply_target: Callable[[object, BaseException | None],
                                                                              ReplyTarget | None]):
        self._centre = centre
        self._reply_target = reply_target

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is not None and message.failed:
            self._settle(broker, message, exception)

    def after_skip_message(self, broker, message):
        if message.failed:   # AgeLimit: too old to process
            self._settle(broker, message, None)

    def _settle(self, broker, message, exception: BaseException | None) -> None:
        outcome = outcome_of(message, exception)
        try:
            target = self._reply_target(message, exception)
            centre = self._centre()
            deadletters.record(centre.store, centre.cipher, message, reason=outcome.code, detail=outcome.detail,
                               rule=outcome.rule, sender_id=target.sender_id if target else None,
                               request_id=target.request_id if target else None, refused=outcome.refused)
            if target and target.request_id and target.reply_to:
                results.deliver(centre.store, centre.publisher, Result(
                    request_id=target.request_id, kind=target.kind, status="REFUSED" if outcome.refused else "FAILED",
                    reason=outcome.code, rule=outcome.rule, detail=outcome.detail), target.reply_to)
        except Exception as exc:  # the store or broker is down: try again later, else leave it in .XQ
            if self._settle_later(broker, message, outcome, exc):
                return
            log.error("message %s (%s) could not be dead-lettered (%s): left on %s.XQ",
                      message.message_id, outcome.code, type(exc).__name__, message.queue_name)
            metrics.DEAD_LETTERS.labels(message.queue_name, "unrecorded").inc()
            return
        if outcome.refused:   # refusals have their own count; dead letters count failures
            metrics.count_refusal(message, outcome.code)
        else:
            metrics.DEAD_LETTERS.labels(message.queue_name, outcome.code).inc()
        log.warning("message %s on %s %s: %s", message.message_id, message.queue_name,
                    "refused" if outcome.refused else "dead-lettered", outcome.code)
        message.failed = False   # recorded (and answered): acknowledge instead of parking it in .XQ

    @staticmethod
    def _settle_later(broker, message, outcome: Outcome, exc: Exception) -> bool:
        """Send `message` back with a delay to record it once the store answers again; False when out of tries."""
        attempts = message.options.get("settle_attempts", 0)
        if attempts >= SETTLE_ATTEMPTS:
            return False
        delay = min(1000 * 2 ** attempts, SETTLE_MAX_BACKOFF_MS)
        message.options["settle_attempts"] = attempts + 1
        try:
            broker.enqueue(message, delay=delay)
        except Exception:
            return False
        log.warning("message %s (%s) could not be dead-lettered yet (%s): trying again in %d ms",
                    message.message_id, outcome.code, type(exc).__name__, delay)
        message.failed = False   # the delayed copy carries it on
        return True
