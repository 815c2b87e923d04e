"""The capture run behind the station console: `Station.enroll` (the same workflow as `papilla station
enroll`) in a thread, with the operator's choices coming from the browser.

`WebDecisions` implements `workflow.OperatorDecisions`: each capture's quality is kept for the page (which
polls it), and a finger that stays below the gate waits for the operator's POSTed choice (retake, exception
with its reason, abort). `RecordingScanner` keeps the latest image of each finger for the live preview. After
sealing, the run waits on the station's results queue for the centre's decision on the packet."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from papilla.services.capture.devices import CapturedImage, ScannerError
from papilla.services.capture.workflow import Attempt, Choice, EnrollmentAborted, Receipt
from papilla.shared.errors import Refusal

from .station_facts import describe


@dataclass(frozen=True)
class RunPolicy:
    """How long the run waits for people.

    choice_wait_s:   a finger below the gate waits this long for the operator's choice, then aborts
                     (nothing sent; default 10 min)
    decision_wait_s: after sending, how long to wait for the centre's decision (default 120 s; later it is
                     on the station's results queue: `papilla station answers`)
    status_wait_s:   before capture, how long to wait for the centre's answer to "may this station and this
                     operator enroll?" (default 15 s; then the page says the check was not made)
    """

    choice_wait_s: float = 600.0
    decision_wait_s: float = 120.0
    status_wait_s: float = 15.0


@dataclass
class FingerView:
    position: int
    attempts: int = 0
    quality: int | None = None
    best: int | None = None
    passed: bool = False


@dataclass
class Pending:
    attempt: Attempt
    retake_allowed: bool


@dataclass
class CaptureRun:
    """One enrollment in progress; `state`: capturing | choice | sealed | refused | aborted | failed."""

    gate: int
    state: str = "capturing"
    fingers: dict[int, FingerView] = field(default_factory=lambda: {p: FingerView(p) for p in range(1, 11)})
    previews: dict[int, CapturedImage] = field(default_factory=dict)
    pending: Pending | None = None
    receipt: Receipt | None = None
    problem: str | None = None            # the refusal's or error's sentence
    problem_rule: str | None = None
    decision: str | None = None           # the centre's decision, described in one line
    decision_status: str | None = None
    awaiting: bool = False                # sent, and waiting for the centre's decision
    _choice: Choice | None = None
    _answered: threading.Event = field(default_factory=threading.Event)
    _cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- from the browser ---------------------------------------------------------------------------------
    def answer(self, choice: Choice) -> bool:
        with self.lock:
            if self.pending is None:
                return False
            self._choice, self.pending = choice, None
            self.state = "capturing"
        self._answered.set()
        return True

    def cancel(self) -> None:
        """The session ended: a finger waiting for a choice is aborted (nothing is sent)."""
        self._cancelled = True
        self._answered.set()

    @property
    def done(self) -> bool:
        return self.state not in ("capturing", "choice")


class WebDecisions:
    """`OperatorDecisions` answered from the browser."""

    def __init__(self, run: CaptureRun, policy: RunPolicy):
        self.run, self.policy = run, policy

    def show(self, attempt: Attempt) -> None:
        with self.run.lock:
            view = self.run.fingers[attempt.position]
            view.attempts, view.quality, view.best = attempt.attempt, attempt.quality, attempt.best_quality
            view.passed = attempt.passed

    def below_gate(self, attempt: Attempt, retake_allowed: bool) -> Choice:
        run = self.run
        with run.lock:
            run._answered.clear()
            run.pending, run.state = Pending(attempt, retake_allowed), "choice"
        answered = run._answered.wait(self.policy.choice_wait_s)
        if run._cancelled or not answered:
            return Choice("abort")
        return run._choice or Choice("abort")

    def scanner_failed(self, position: int, error: ScannerError) -> bool:
        return False           # the run ends with the scanner's sentence; the operator starts again


class RecordingScanner:
    """The scanner, keeping each finger's latest capture for the page's preview."""

    def __init__(self, scanner, run: CaptureRun):
        self.scanner, self.run = scanner, run
        self.mapping = getattr(scanner, "mapping", None)

    def capture(self, finger_position: int) -> CapturedImage:
        image = self.scanner.capture(finger_position)
        with self.run.lock:
            self.run.previews[finger_position] = image
        return image


def start(run: CaptureRun, enroll: Callable[..., Receipt], await_decision: Callable[[Receipt], object],
          policy: RunPolicy, scanner, **enroll_args) -> threading.Thread:
    """Run `enroll(scanner=…, decisions=…, **enroll_args)` in a thread, then `await_decision(receipt)` (the
    centre's result, or None) when the packet was sent."""

    def work():
        try:
            receipt = enroll(scanner=RecordingScanner(scanner, run), decisions=WebDecisions(run, policy),
                             **enroll_args)
        except Refusal as exc:
            return _ended(run, "refused", exc.detail, exc.rule)
        except EnrollmentAborted as exc:
            return _ended(run, "aborted", str(exc))
        except (ScannerError, ValueError) as exc:
            return _ended(run, "failed", str(exc).splitlines()[0])
        with run.lock:
            run.receipt, run.state, run.awaiting = receipt, "sealed", receipt.confirmed
        if receipt.confirmed:
            result = await_decision(receipt)
            with run.lock:
                run.awaiting = False
                if result is not None:
                    run.decision, run.decision_status = describe(result), result.status

    thread = threading.Thread(target=work, name="station-console-capture", daemon=True)
    thread.start()
    return thread


def _ended(run: CaptureRun, state: str, sentence: str, rule: str | None = None) -> None:
    with run.lock:
        run.state, run.problem, run.problem_rule, run.pending = state, sentence, rule, None
