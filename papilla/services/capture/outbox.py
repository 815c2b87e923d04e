"""The station's outbox: a sealed packet is on disk before it is sent.

`put` writes the packet to the spool atomically (temp file + rename, fsync),
`flush` publishes every spooled packet with publisher confirms to the intake exchange (the only one a
station's broker user may write to, and only with the routing key of packets) and removes
it only once RabbitMQ has confirmed it; a failed send is recorded beside the packets
(`spool.record_send_error`, read by `papilla station status`). A station that is offline, or that
crashes between the two, re-sends on the next flush; the centre is
idempotent by packet id, so a re-send never enrolls twice.
"""
from __future__ import annotations

import base64
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from papilla.shared.broker import send_to_intake
from papilla.shared.routing import ENROLL, Route

from .spool import SUFFIX, clear_send_error, record_send_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResendBackoff:
    """Pauses between rounds of re-sending while the broker is out of reach: `first_s`, then multiplied by
    `factor` up to `max_s`, with up to `jitter` of each pause added at random (stations coming back together
    after an outage do not all knock at once)."""

    first_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.2

    def pauses(self, rng: Callable[[], float]):
        pause = self.first_s
        while True:
            yield pause * (1 + self.jitter * rng())
            pause = min(pause * self.factor, self.max_s)


class Outbox:
    def __init__(self, spool_dir: Path, broker, route: Route = ENROLL):
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.broker = broker
        self.route = route

    def put(self, packet_id: str, sealed: bytes) -> Path:
        path = self.spool_dir / f"{packet_id}{SUFFIX}"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    def pending(self) -> list[Path]:
        return sorted(self.spool_dir.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)

    def flush(self) -> int:
        """Publish spooled packets oldest first; returns how many were confirmed. Stops at the first failure."""
        sent = 0
        for path in self.pending():
            sealed = path.read_bytes()
            try:
                send_to_intake(self.broker, self.route, base64.b64encode(sealed).decode())
            except Exception as exc:  # offline: keep it spooled for the next flush
                log.warning("packet kept in spool, broker unavailable: %s", type(exc).__name__)
                record_send_error(self.spool_dir, exc)    # `papilla station status` shows it
                break
            path.unlink()
            sent += 1
            clear_send_error(self.spool_dir)
        return sent

    def drain(self, retry_for_s: float, backoff: ResendBackoff = ResendBackoff(), *,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
              rng: Callable[[], float] | None = None) -> int:
        """Flush, and while packets stay spooled try again after each of `backoff`'s pauses, for up to
        `retry_for_s` seconds; returns how many were confirmed in all."""
        deadline, sent = clock() + retry_for_s, self.flush()
        for pause in backoff.pauses(rng or random.random):
            if not self.pending() or clock() + pause > deadline:
                break
            log.info("%d packet(s) still spooled: trying again in %.1f s", len(self.pending()), pause)
            sleep(pause)
            sent += self.flush()
        return sent

    def submit(self, packet_id: str, sealed: bytes) -> bool:
        """Spool then flush; True when this packet has been confirmed by the broker."""
        path = self.put(packet_id, sealed)
        self.flush()
        return not path.exists()
