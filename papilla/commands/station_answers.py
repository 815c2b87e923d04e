"""`papilla station answers ST-ID`: the centre's decisions on packets nobody waited for.

A packet sent by `station flush` after an outage, or by `station enroll` without `--wait` (or after its wait
ran out), is answered on the station's durable results queue `papilla.results.ST-ID`, which the centre
declares at registration and every station command opens before a packet leaves (`keep_answers`). This
command prints each waiting answer in one line (packet id, decision, the rule it was taken under) and removes it from the queue once printed.
"""
from __future__ import annotations

import json
import sys

import pika

from papilla.client import RabbitResultWaiter, ResultOpener
from papilla.shared.config import Settings
from papilla.shared.messages import Result
from papilla.shared.parties import load_centre_public, load_party
from papilla.shared.results import open_results_queue


def keep_answers(broker_url: str, station_id: str) -> bool:
    """Check that the station's results queue (declared by the centre at registration) is there, so the centre's
    answers wait in it; False when the broker is out of reach (the packet is spooled, and the command that sends
    it later checks again)."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    except pika.exceptions.AMQPError:
        return False
    try:
        open_results_queue(connection, station_id)
        return True
    finally:
        connection.close()


def describe(result: Result) -> str:
    """One line for the operator: the decision, why, and the rule it was taken under."""
    if result.status == "REFUSED":
        why = result.detail or result.reason or ""
        return f"refused: {why}" + (f" ({result.rule})" if result.rule and result.rule not in why else "")
    line = f"enrollment {result.status}" + (f" ({result.reason})" if result.reason else "")
    if result.candidates:
        line += f", {len(result.candidates)} candidate(s) for an adjudicator"
    return line + (f" under {result.rule}" if result.rule else "")


def answers(args) -> int:
    settings = Settings.from_env()
    keys, centre = load_party(settings, args.station_id), load_centre_public(settings)
    try:
        waiter = RabbitResultWaiter(settings.broker_url, args.station_id, ResultOpener(keys, centre))
    except pika.exceptions.AMQPError as exc:
        print(f"papilla: the broker is out of reach ({type(exc).__name__}): answers wait at the centre's broker; "
              "try again when it is back", file=sys.stderr)
        return 2
    try:
        found = waiter.drain(args.wait)
    finally:
        waiter.close()
    for result in found:
        print(json.dumps({"packet_id": result.request_id, "status": result.status, "reason": result.reason,
                          "rule": result.rule}) if args.json else f"packet {result.request_id}: {describe(result)}")
    if not found and not args.json:
        print("no answers waiting")
    return 0


def register(sub) -> None:
    p = sub.add_parser("answers", help="the centre's decisions on packets nobody waited for (after flush)")
    p.add_argument("station_id")
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait up to S seconds for a first answer")
    p.add_argument("--json", action="store_true", help="one JSON object per answer")
    p.set_defaults(func=answers)
