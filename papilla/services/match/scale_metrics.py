"""Metrics of 1:N at scale (kept apart from shared/metrics.py). Labels are closed sets: scope.

Created unregistered: the match worker (scatter_gather) and the shard processes (partition) each register
them in their own registry (`register`)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

SEARCH_SECONDS = Histogram(
    "papilla_gallery_search_seconds", "Wall time of one 1:N search (a partition's, or a whole scatter-gather).",
    ["scope"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=None)
PARTIAL_RESULTS = Counter("papilla_gallery_partial_results_total",
                          "Scatter-gather searches abandoned because a partition did not answer in time.",
                          registry=None)


def register(registry) -> None:
    for metric in (SEARCH_SECONDS, PARTIAL_RESULTS):
        registry.register(metric)
