"""Free ports below the kernel's ephemeral range."""
from __future__ import annotations

import random
import socket
from pathlib import Path

#: Ports handed to a worker as PAPILLA_METRICS_PORT: the worker listens at base + its role offset and shard
#: processes at base + 10 + K, so the whole span must be free.
PORT_SPAN = 24
_handed_out: set[int] = set()   # ports this process already handed out (not listening yet, so still bindable)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = PORT_SPAN) -> int:
    """A base port with `span` free ports from it, all below the kernel's ephemeral range: outgoing
    connections (to RabbitMQ, between processes) take ports from that range, so a base picked there by
    bind(0) could see base + offset taken by a client socket before the worker listens on it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(10_000, low - span)
        ports = range(base, base + span)
        if _handed_out.isdisjoint(ports) and all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError(f"no {span} free ports in a row between 10000 and {low}")
