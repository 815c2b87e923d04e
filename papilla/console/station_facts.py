"""Small station facts the console needs, as `papilla station …` computes them (the console does not import
the command modules: it sits beside them, on the same services)."""
from __future__ import annotations

import pika

from papilla.shared.messages import Result
from papilla.shared.results import declare_results_queue


def keep_answers(broker_url: str, station_id: str) -> bool:
    """Declare the station's results queue so the centre's answer waits there (as `papilla station enroll`)."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    except pika.exceptions.AMQPError:
        return False
    try:
        declare_results_queue(connection.channel(), station_id)
        return True
    finally:
        connection.close()


def describe(result: Result) -> str:
    """The centre's decision in one line, as `papilla station answers` prints it."""
    if result.status == "REFUSED":
        why = result.detail or result.reason or ""
        return f"refused: {why}" + (f" ({result.rule})" if result.rule and result.rule not in why else "")
    line = f"enrollment {result.status}" + (f" ({result.reason})" if result.reason else "")
    if result.candidates:
        line += f", {len(result.candidates)} candidate(s) for an adjudicator"
    return line + (f" under {result.rule}" if result.rule else "")


def finger_statuses(scanner, absent: str | None) -> dict[int, str]:
    """Each position with an image is captured; the others need the operator's reason why they are missing."""
    positions = set(getattr(scanner, "mapping", None) or range(1, 11))
    if len(positions) < 10 and not absent:
        missing = sorted(set(range(1, 11)) - positions)
        raise ValueError(f"no image for finger position(s) {', '.join(map(str, missing))}: say why they are "
                         "missing (exception: amputated, unable to print, injured)")
    return {p: "captured" if p in positions else absent for p in range(1, 11)}
