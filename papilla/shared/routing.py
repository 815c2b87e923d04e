"""Queue and actor names: the wiring between producers and workers, in one place.

Producers (stations, client services) send by name and never import worker
code; workers define actors under these names.
"""
from __future__ import annotations

from dataclasses import dataclass

RESULTS_EXCHANGE = "papilla.results"
#: The one exchange stations and services publish to (a topic exchange, so RabbitMQ's topic permissions can
#: limit each party to its routing keys). `amq.default` would reach every queue of the vhost: only the centre's
#: own workers publish there, to each other.
INTAKE_EXCHANGE = "papilla.intake"
#: Where overflowing results queues dead-letter their oldest result (infra/rabbitmq/definitions.json).
RESULTS_OVERFLOW_QUEUE = "papilla.overflow.results"


@dataclass(frozen=True)
class Route:
    queue: str
    actor: str


ENROLL = Route("papilla.enroll", "extract_enrollment")          # sealed enrollment packet from a station
#: A station asking, before capture, whether it and its signed-in operator may enroll (same queue and permission
#: as its packets: the extract worker answers it from the centre's registry).
STATION_STATUS = Route("papilla.enroll", "station_status")
REQUEST = Route("papilla.request", "extract_request")           # sealed verify / identify / lifecycle request
DEDUPLICATE = Route("papilla.match", "deduplicate")             # enrollment id
MATCH_PROBE = Route("papilla.match", "match_probe")             # request id
SETTLE = Route("papilla.lifecycle", "settle_enrollment")        # enrollment id + dedup candidates
LIFECYCLE = Route("papilla.lifecycle", "lifecycle_command")     # request id of a stored lifecycle job
#: Sealed lifecycle commands go straight to the lifecycle worker: an extraction backlog never delays
#: a same-day destruction.
COMMAND = Route("papilla.command", "accept_command")
#: Where a body that is not a dramatiq message is routed once read (every worker refuses it; see shared.wire).
UNDECODABLE = Route("papilla.undecodable", "undecodable_message")

#: What each kind of outside party may send through the intake exchange (routing key = the route's queue).
PARTY_ROUTES = {"station": (ENROLL, STATION_STATUS), "service": (REQUEST, COMMAND)}
INTAKE_ROUTES = (ENROLL, REQUEST, COMMAND)

ROLE_QUEUES = {
    "extract": (ENROLL.queue, REQUEST.queue),
    "match": (DEDUPLICATE.queue,),
    "lifecycle": (SETTLE.queue, COMMAND.queue),
}

ROLE_METRICS_OFFSET = {"extract": 0, "match": 1, "lifecycle": 2}
#: `papilla shard serve --part K` serves /metrics at PAPILLA_METRICS_PORT + SHARD_METRICS_OFFSET + K.
SHARD_METRICS_OFFSET = 10


def results_queue(reply_to: str) -> str:
    """The durable queue where a service's results wait for it while it is down."""
    return f"{RESULTS_EXCHANGE}.{reply_to}"
