"""The project's own Prometheus metrics (seconds, not milliseconds).

Labels are closed sets (queue, actor, outcome, reason code, role): never an
id, an IIN or anything that grows with the data.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("papilla_messages_total", "Messages handled by a worker.", ["queue", "actor", "outcome"])
MESSAGE_SECONDS = Histogram(
    "papilla_message_duration_seconds", "Time spent handling a message.", ["queue", "actor"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
REFUSALS = Counter("papilla_refusals_total", "Messages refused, by reason code.", ["reason"])
DEAD_LETTERS = Counter("papilla_dead_letters_total", "Dead-letter records written.", ["queue", "reason"])
RESULTS = Counter("papilla_results_total", "Results stored and published.", ["kind", "status"])
GALLERY_SIZE = Gauge("papilla_gallery_enrollments", "Active enrollments held in this match worker's gallery.",
                     multiprocess_mode="max")
EXTRACT_SECONDS = Histogram("papilla_extract_seconds", "Minutiae extraction time per finger image.",
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
