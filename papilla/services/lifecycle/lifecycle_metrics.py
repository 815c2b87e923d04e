"""Ops gauges of the lifecycle's legal deadlines (no labels: counts only, never ids or personal data).

`LifecycleDeadlines` reads them from the store each time Prometheus scrapes
the lifecycle worker (papilla/commands/worker.py registers it for that role
only). Seconds-free: these are counts.
"""
from __future__ import annotations

from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily

from papilla.shared import clock

from . import access, commands, destruction_acts, retention


class LifecycleDeadlines:
    """The lifecycle's legal deadlines, read from the store when Prometheus scrapes the lifecycle worker (never
    stale, never set to 0 before anything was computed): the names `infra/prometheus/papilla-rules.yml` and the
    compliance dashboard use."""

    NAMES = ("papilla_access_requests_open", "papilla_access_requests_due_tomorrow",
             "papilla_access_requests_overdue", "papilla_retention_due_subjects",
             "papilla_destruction_acts_awaiting_approval", "papilla_destruction_applications_overdue")

    def __init__(self, centre_factory):
        self._centre = centre_factory

    def describe(self):
        return []

    def collect(self):
        centre = self._centre()
        today = clock.today()
        tomorrow = (today + timedelta(days=1)).isoformat()
        store = centre.store
        figures = (
            ("papilla_access_requests_open", "Subject access requests not yet answered (Rules 395 p.15-16).",
             store.count(access.ACCESS, {"state": "received"})),
            ("papilla_access_requests_due_tomorrow", "Open access requests due on the next day.",
             store.count(access.ACCESS, {"state": "received", "due_on": tomorrow})),
            ("papilla_access_requests_overdue", "Open access requests past their due date (Rules 395 p.16).",
             len(access.overdue(centre, today))),
            ("papilla_retention_due_subjects", "Retention items whose next step (archive or destruction) is due.",
             len(retention.due(centre, today))),
            ("papilla_destruction_acts_awaiting_approval",
             "Acts of destruction proposed and not yet approved (Law Art.17 p.3).",
             store.count(destruction_acts.ACTS, {"state": "proposed"})),
            ("papilla_destruction_applications_overdue",
             "Destruction applications received on an earlier day and not yet carried out (Rules 406 p.11).",
             commands.overdue_applications(centre, today)),
        )
        for name, doc, value in figures:
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], value)
            yield family
