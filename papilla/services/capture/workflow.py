"""The operator's side of capture: each finger against the quality gate, retakes, and the operator's choice.

A finger is sent as captured only when one of its captures reaches the gate
(`QualityGate.min_quality`). After `max_attempts` captures below it the
operator decides, through `OperatorDecisions` (the CLI prompts or follows
`--below-gate`; a browser console will implement the same Protocol):

* ``retake``: capture again (up to `max_total_attempts` captures in all);
* ``exception``: record the finger with a status of Rules 406 p.6-7, p.10
  (unable to print, injured, amputated) and take the others;
* ``abort``: nothing is sealed or sent (`EnrollmentAborted`).

Nothing below the gate is ever sent silently. The `Receipt` is what the
operator hands over: packet id, each finger with its quality and attempts,
the exceptions with their reasons, the rule that allowed the enrollment, and
whether the packet was sent or is waiting in the spool.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from papilla.shared.legal.decide import Decision
from papilla.shared.legal.rules import rule

from .devices import CapturedImage, ScannerError, capture_retrying

BELOW_GATE_ACTIONS = ("retake", "exception", "abort")
#: Statuses an operator may give a finger that cannot be captured, with the rule each one falls under.
EXCEPTION_RULES = {"unable_to_print": "printable_fingers_only", "injured": "injured_fingers_skipped",
                   "amputated": "printable_fingers_only"}
FINGER_NAMES = {1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring", 5: "right little",
                6: "left thumb", 7: "left index", 8: "left middle", 9: "left ring", 10: "left little"}


@dataclass(frozen=True)
class QualityGate:
    """When a capture is good enough to send.

    min_quality:        a finger is sent as captured only at or above this quality (0-100, the extractor's
                        measure, 0 for a finger the centre would refuse as unusable: extract/quality.py's
                        check_finger, the centre's own check; the station reads it from
                        PAPILLA_MIN_FINGER_QUALITY, default 20)
    max_attempts:       captures in a row before the operator is asked what to do (the best one is kept)
    max_total_attempts: captures of one finger in all, retakes included; past it a retake is not offered
    """

    min_quality: int = 20
    max_attempts: int = 3
    max_total_attempts: int = 9


@dataclass(frozen=True)
class Attempt:
    """One capture as the operator sees it live."""

    position: int
    attempt: int
    quality: int
    best_quality: int
    gate: int

    @property
    def passed(self) -> bool:
        return self.quality >= self.gate


@dataclass(frozen=True)
class Choice:
    """The operator's answer for a finger that stayed below the gate.

    action: retake | exception | abort; status: for an exception, unable_to_print | injured | amputated
    """

    action: str
    status: str | None = None

    def __post_init__(self):
        if self.action not in BELOW_GATE_ACTIONS:
            raise ValueError(f"unknown choice {self.action!r} (one of: {', '.join(BELOW_GATE_ACTIONS)})")
        if (self.action == "exception") != (self.status is not None):
            raise ValueError("an exception names the finger's status, and only an exception does")
        if self.status is not None and self.status not in EXCEPTION_RULES:
            raise ValueError(f"unknown exception {self.status!r} (one of: {', '.join(EXCEPTION_RULES)})")


class OperatorDecisions(Protocol):
    """What the station asks the operator during capture (the CLI and, later, the browser console)."""

    def show(self, attempt: Attempt) -> None:
        """A capture was taken: its quality against the gate (live)."""

    def below_gate(self, attempt: Attempt, retake_allowed: bool) -> Choice:
        """The finger stayed below the gate after the attempts in a row: retake, exception or abort."""

    def scanner_failed(self, position: int, error: ScannerError) -> bool:
        """A capture failed for a reason the operator may fix (unplugged, timeout, empty frame): try again?"""


class EnrollmentAborted(Exception):
    """The operator aborted the enrollment: nothing was sealed or sent."""


@dataclass(frozen=True)
class FixedChoice:
    """Decisions for scripts (`--below-gate`): the same choice for every finger below the gate, no scanner retry.
    A retake past `max_total_attempts` becomes an abort. `say` receives each line the operator would see."""

    choice: Choice = Choice("abort")
    say: Callable[[str], None] = lambda line: None

    def show(self, attempt: Attempt) -> None:
        self.say(attempt_line(attempt))

    def below_gate(self, attempt: Attempt, retake_allowed: bool) -> Choice:
        if self.choice.action == "retake" and not retake_allowed:
            return Choice("abort")
        return self.choice

    def scanner_failed(self, position: int, error: ScannerError) -> bool:
        return False


@dataclass(frozen=True)
class FingerLine:
    """One finger on the receipt. reason: for an exception, its status's rule citation."""

    position: int
    status: str
    quality: int | None = None
    attempts: int = 0
    reason: str | None = None

    @property
    def exception(self) -> bool:
        return self.status != "captured"


@dataclass
class Receipt:
    """What the station hands over after sealing (printed by `lines`, or `as_dict` for a console)."""

    packet_id: str
    station_id: str
    operator_id: str
    decision: Decision                        # the rule that allowed the enrollment
    fingers: list[FingerLine] = field(default_factory=list)
    confirmed: bool = False                   # the broker confirmed it; False: it waits in the spool

    @property
    def qualities(self) -> dict[int, int]:
        return {f.position: f.quality for f in self.fingers if f.quality is not None and not f.exception}

    @property
    def attempts(self) -> dict[int, int]:
        return {f.position: f.attempts for f in self.fingers if f.attempts}

    @property
    def exceptions(self) -> list[FingerLine]:
        return [f for f in self.fingers if f.exception]

    def lines(self) -> list[str]:
        d = self.decision
        out = [f"packet {self.packet_id} ({self.station_id}, operator {self.operator_id}): "
               + ("sent to the centre" if self.confirmed else
                  "spooled: the broker is unavailable, `papilla station flush` sends it later")]
        out.append(f"allowed: {d.decision} under {d.rule} ({d.citation})")
        out += [f"  also: {rule_id} ({citation})" for rule_id, citation in d.also]
        for f in self.fingers:
            name = f"finger {f.position} ({FINGER_NAMES[f.position]})"
            if f.exception:
                tried = f", {f.attempts} capture(s) below the gate" if f.attempts else ""
                out.append(f"  {name}: {f.status.replace('_', ' ')}{tried} ({f.reason})")
            else:
                out.append(f"  {name}: quality {f.quality}, {f.attempts} capture(s)")
        return out

    def as_dict(self) -> dict:
        d = self.decision
        return {"packet_id": self.packet_id, "station_id": self.station_id, "operator_id": self.operator_id,
                "sent": self.confirmed, "decision": d.decision, "rule": d.rule, "citation": d.citation,
                "fingers": [vars(f) for f in self.fingers]}


def attempt_line(a: Attempt) -> str:
    verdict = "ok" if a.passed else "below the gate"
    return (f"finger {a.position} ({FINGER_NAMES[a.position]}): capture {a.attempt}, quality {a.quality} "
            f"/ gate {a.gate}: {verdict}")


def exception_line(position: int, status: str, attempts: int = 0) -> FingerLine:
    return FingerLine(position, status, None, attempts, rule(EXCEPTION_RULES[status]).citation)


def capture_finger(scanner, position: int, gate: QualityGate, decisions: OperatorDecisions,
                   measure: Callable[[CapturedImage], int]) -> tuple[CapturedImage | None, FingerLine]:
    """Capture one finger until a capture reaches the gate or the operator decides otherwise.

    Returns the best image (None for an exception) and its receipt line; raises `EnrollmentAborted`."""
    best, best_quality, attempt, in_row = None, -1, 0, 0
    while True:
        image = capture_retrying(scanner, position, ask_retry=lambda exc: decisions.scanner_failed(position, exc))
        attempt, in_row = attempt + 1, in_row + 1
        quality = int(measure(image))
        if quality > best_quality:
            best, best_quality = image, quality
        shown = Attempt(position, attempt, quality, best_quality, gate.min_quality)
        decisions.show(shown)
        if quality >= gate.min_quality:
            return best, FingerLine(position, "captured", best_quality, attempt)
        if in_row < gate.max_attempts and attempt < gate.max_total_attempts:
            continue
        choice = decisions.below_gate(shown, retake_allowed=attempt < gate.max_total_attempts)
        if choice.action == "abort" or (choice.action == "retake" and attempt >= gate.max_total_attempts):
            raise EnrollmentAborted(f"finger {position} stayed below the quality gate ({best_quality} < "
                                    f"{gate.min_quality}) after {attempt} capture(s); the enrollment was aborted "
                                    "and nothing was sent")
        if choice.action == "exception":
            return None, exception_line(position, choice.status, attempt)
        in_row = 0
