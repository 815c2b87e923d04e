"""The operator workflow: each finger against the quality gate, retakes, the operator's explicit choice when a
finger stays below it (never sent silently), and the receipt."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from papilla.commands.station_console import PromptDecisions
from papilla.services.capture.devices import ScannerTimeout, captured_from_pixels
from papilla.services.capture.station import QualityGate
from papilla.services.capture.workflow import (Attempt, Choice, EnrollmentAborted, FixedChoice, capture_finger)
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal

from tests.helpers.builders import papers

IIN = make_test_iin(date(1980, 6, 1), True, 3)


class Scripted:
    """A scanner whose captures have the qualities given per position, in order (the last one repeats)."""

    def __init__(self, qualities: dict[int, list[int]], failures: int = 0):
        self.qualities = {p: list(q) for p, q in qualities.items()}
        self.taken: dict[int, int] = {}
        self.failures = failures

    def capture(self, position):
        if self.failures:
            self.failures -= 1
            raise ScannerTimeout("no finger on the glass within 10 s: place the finger and try again")
        self.taken[position] = self.taken.get(position, 0) + 1
        return captured_from_pixels(position, np.full((64, 64), self.taken[position], dtype=np.uint8), 500)

    def quality(self, image) -> int:
        position = image.finger_position
        row = self.qualities.get(position, [99])
        return row[min(self.taken[position], len(row)) - 1]


class Recorder:
    """Answers like `FixedChoice` (the scripts' decisions) and keeps what the operator was shown and asked."""

    def __init__(self, choice: Choice, retry_scanner: bool = False):
        self.fixed, self.retry = FixedChoice(choice), retry_scanner
        self.seen, self.asked = [], []

    def show(self, attempt):
        self.seen.append(attempt)

    def below_gate(self, attempt, retake_allowed):
        self.asked.append((attempt.position, attempt.attempt, retake_allowed))
        return self.fixed.below_gate(attempt, retake_allowed)

    def scanner_failed(self, position, error):
        return self.retry


GATE = QualityGate(min_quality=95, max_attempts=3, max_total_attempts=6)


def test_a_finger_reaching_the_gate_is_captured_with_its_best_quality_and_attempts():
    scanner = Scripted({1: [40, 96, 30]})
    image, line = capture_finger(scanner, 1, GATE, Recorder(Choice("abort")), scanner.quality)
    assert (line.status, line.quality, line.attempts) == ("captured", 96, 2)
    assert image.png == captured_from_pixels(1, np.full((64, 64), 2, dtype=np.uint8), 500).png   # the second take
    scanner = Scripted({1: [40, 70, 30]})
    image, line = capture_finger(scanner, 1, GATE, Recorder(Choice("exception", "injured")), scanner.quality)
    assert image is None and line.attempts == 3


def test_quality_68_against_a_gate_of_95_is_never_sent_silently():
    """The issue's example: after the attempts the operator is asked; the default answer aborts."""
    scanner = Scripted({1: [68]})
    decisions = Recorder(Choice("abort"))
    with pytest.raises(EnrollmentAborted, match=r"finger 1 stayed below the quality gate \(68 < 95\) after 3"):
        capture_finger(scanner, 1, GATE, decisions, scanner.quality)
    assert decisions.asked == [(1, 3, True)]
    assert [a.quality for a in decisions.seen] == [68, 68, 68] and not decisions.seen[-1].passed


def test_an_exception_records_the_status_and_its_rule_instead_of_the_image():
    scanner = Scripted({1: [68]})
    image, line = capture_finger(scanner, 1, GATE, Recorder(Choice("exception", "injured")), scanner.quality)
    assert image is None
    assert (line.status, line.quality, line.attempts, line.reason) == ("injured", None, 3, "Rules 406, p.7")


def test_retakes_stop_at_the_total_and_then_abort():
    scanner = Scripted({1: [10]})
    decisions = Recorder(Choice("retake"))
    with pytest.raises(EnrollmentAborted, match="after 6 capture"):
        capture_finger(scanner, 1, GATE, decisions, scanner.quality)
    assert decisions.asked == [(1, 3, True), (1, 6, False)] and scanner.taken[1] == 6


def test_a_retake_that_reaches_the_gate_is_sent():
    scanner = Scripted({1: [10, 10, 10, 97]})
    image, line = capture_finger(scanner, 1, GATE, Recorder(Choice("retake")), scanner.quality)
    assert (line.status, line.quality, line.attempts) == ("captured", 97, 4)


def test_a_scanner_failure_is_shown_to_the_operator_who_may_retry():
    scanner = Scripted({1: [99]}, failures=1)
    _, line = capture_finger(scanner, 1, GATE, Recorder(Choice("abort"), retry_scanner=True), scanner.quality)
    assert line.status == "captured"
    with pytest.raises(ScannerTimeout):
        capture_finger(Scripted({1: [99]}, failures=1), 1, GATE, Recorder(Choice("abort")), scanner.quality)


def test_choices_are_validated():
    with pytest.raises(ValueError, match="names the finger's status"):
        Choice("exception")
    with pytest.raises(ValueError, match="unknown exception"):
        Choice("exception", "lost")
    with pytest.raises(ValueError, match="unknown choice"):
        Choice("send")


def _station(offline_station, scanner, gate=GATE):  # noqa: F811
    offline_station.gate = gate
    offline_station.measure = scanner.quality
    return offline_station


def test_an_aborted_enrollment_sends_nothing(offline_station):  # noqa: F811
    scanner = Scripted({3: [68]})
    station = _station(offline_station, scanner)
    with pytest.raises(EnrollmentAborted):
        station.enroll(**papers(IIN), full_name="Abort Person", scanner=scanner, operator=station.operator)
    assert station.outbox.pending() == []
    assert 4 not in scanner.taken        # capture stopped at the finger below the gate


def test_the_receipt_lists_each_finger_exception_and_the_rule(offline_station):  # noqa: F811
    scanner = Scripted({3: [68], 5: [50, 96]})
    station = _station(offline_station, scanner)
    receipt = station.enroll(**papers(IIN), full_name="Receipt Person", scanner=scanner, operator=station.operator,
                             decisions=FixedChoice(Choice("exception", "unable_to_print")),
                             finger_status={p: "amputated" if p == 10 else "captured" for p in range(1, 11)})
    assert not receipt.confirmed and [p.name for p in station.outbox.pending()] == [f"{receipt.packet_id}.sealed"]
    assert receipt.qualities == {1: 99, 2: 99, 4: 99, 5: 96, 6: 99, 7: 99, 8: 99, 9: 99}
    assert receipt.attempts[5] == 2 and receipt.attempts[3] == 3
    assert [(f.position, f.status) for f in receipt.exceptions] == [(3, "unable_to_print"), (10, "amputated")]
    assert (receipt.decision.decision, receipt.decision.citation) == ("voluntary", "Rules 406, p.4")
    assert ("printable_fingers_only", "Rules 406, p.6-7, p.10") in receipt.decision.also
    text = "\n".join(receipt.lines())
    assert receipt.packet_id in text and "spooled" in text and "Rules 406, p.4" in text
    assert "finger 3 (right middle): unable to print, 3 capture(s) below the gate (Rules 406, p.6-7, p.10)" in text
    assert "finger 5 (right little): quality 96, 2 capture(s)" in text
    assert IIN not in text and "Receipt Person" not in text
    assert receipt.as_dict()["fingers"][2] == {"position": 3, "status": "unable_to_print", "quality": None,
                                               "attempts": 3, "reason": "Rules 406, p.6-7, p.10"}


def test_exceptions_that_leave_no_finger_are_decided_again_and_nothing_is_sent(offline_station):  # noqa: F811
    scanner = Scripted({p: [5] for p in range(1, 11)})
    station = _station(offline_station, scanner, QualityGate(min_quality=95, max_attempts=1))
    with pytest.raises(Refusal) as err:
        station.enroll(**papers(IIN), full_name="No Print", scanner=scanner, operator=station.operator,
                       decisions=FixedChoice(Choice("exception", "unable_to_print")))
    assert (err.value.code, err.value.rule) == ("no_printable_fingers", "Rules 406, p.10; Law Art.10-1 p.4")
    assert station.outbox.pending() == []
    injured = Scripted({p: [5] for p in range(1, 11)})
    station.measure = injured.quality
    with pytest.raises(Refusal) as err:
        station.enroll(**papers(IIN), full_name="All Injured", scanner=injured, operator=station.operator,
                       decisions=FixedChoice(Choice("exception", "injured")))
    assert (err.value.code, err.value.rule) == ("postponed_injured", "Rules 406, p.7")


def test_identity_and_consent_are_checked_before_any_capture(offline_station):  # noqa: F811
    scanner = Scripted({})
    station = _station(offline_station, scanner)
    wrong = papers(IIN)
    wrong["document"] = wrong["document"].model_copy(update={"birth_date": date(1980, 6, 2)})
    with pytest.raises(Refusal) as err:
        station.enroll(**wrong, full_name="Wrong Doc", scanner=scanner, operator=station.operator)
    assert (err.value.code, err.value.rule) == ("document_birth_date_mismatch", "Rules 406, p.3 para.1")
    unexplained = papers(IIN)
    unexplained["consent"] = type(unexplained["consent"])(**{**vars(unexplained["consent"]),
                                                             "conditions_explained": False})
    with pytest.raises(Refusal) as err:
        station.enroll(**unexplained, full_name="Unexplained", scanner=scanner, operator=station.operator)
    assert err.value.code == "consent_conditions_not_explained"
    later = papers(IIN, signed_on=date(2099, 1, 1))
    with pytest.raises(Refusal) as err:
        station.enroll(**later, full_name="Later", scanner=scanner, operator=station.operator)
    assert err.value.code == "consent_after_collection"
    assert scanner.taken == {} and station.outbox.pending() == []


def test_the_prompt_asks_until_it_gets_an_answer_and_end_of_input_aborts():
    said = []
    answers = iter(["x", "e", "q", "i"])
    prompt = PromptDecisions(ask=lambda q: next(answers), say=said.append)
    attempt = Attempt(position=3, attempt=3, quality=68, best_quality=70, gate=95)
    assert prompt.below_gate(attempt, retake_allowed=True) == Choice("exception", "injured")
    assert said == ["please answer one of: a, e, r", "please answer one of: a, i, u"]

    def closed(question):
        raise EOFError

    assert PromptDecisions(ask=closed, say=said.append).below_gate(attempt, retake_allowed=True) == Choice("abort")
    asked = []
    PromptDecisions(ask=lambda q: asked.append(q) or "a", say=said.append).below_gate(attempt, retake_allowed=False)
    assert "[r]etake" not in asked[0] and "best 70 / 95" in asked[0]
    prompt.show(attempt)
    assert said[-1] == "finger 3 (right middle): capture 3, quality 68 / gate 95: below the gate"
    assert PromptDecisions(ask=closed).scanner_failed(1, ScannerTimeout("timeout.")) is False
