"""Ops gauges of the lifecycle's legal deadlines (no labels: counts only, never ids or personal data).

`refresh(centre)` sets them from the store; the lifecycle worker's metrics
loop (or `papilla lifecycle access overdue`) calls it. Seconds-free: these
are counts.
"""
from __future__ import annotations

from prometheus_client import Gauge

from papilla.shared.centre import Centre

from . import access, destruction_acts

ACCESS_OVERDUE = Gauge("papilla_access_requests_overdue",
                       "Subject access requests still unanswered after their due date (Rules 395 p.16).",
                       multiprocess_mode="max")
ACTS_AWAITING = Gauge("papilla_destruction_acts_awaiting_approval",
                      "Acts of destruction proposed by the retention sweep and not yet approved (Law Art.17 p.3).",
                      multiprocess_mode="max")


def refresh(centre: Centre) -> dict[str, int]:
    figures = {"access_overdue": len(access.overdue(centre)),
               "acts_awaiting": centre.store.count(destruction_acts.ACTS, {"state": "proposed"})}
    ACCESS_OVERDUE.set(figures["access_overdue"])
    ACTS_AWAITING.set(figures["acts_awaiting"])
    return figures
