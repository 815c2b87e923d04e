"""The station's outbox: a sealed packet is on disk before it is sent.

`put` writes the packet to the spool atomically (temp file + rename, fsync),
`flush` publishes every spooled packet with publisher confirms and removes
it only once RabbitMQ has confirmed it; a failed send is recorded beside the packets
(`spool.record_send_error`, read by `papilla station status`). A station that is offline, or that
crashes between the two, re-sends on the next flush; the centre is
idempotent by packet id, so a re-send never enrolls twice.
"""
from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from papilla.shared.broker import send
from papilla.shared.routing import ENROLL, Route

from .spool import SUFFIX, clear_send_error, record_send_error

log = logging.getLogger(__name__)


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
                send(self.broker, self.route, base64.b64encode(sealed).decode())
            except Exception as exc:  # offline: keep it spooled for the next flush
                log.warning("packet kept in spool, broker unavailable: %s", type(exc).__name__)
                record_send_error(self.spool_dir, exc)    # `papilla station status` shows it
                break
            path.unlink()
            sent += 1
            clear_send_error(self.spool_dir)
        return sent

    def submit(self, packet_id: str, sealed: bytes) -> bool:
        """Spool then flush; True when this packet has been confirmed by the broker."""
        path = self.put(packet_id, sealed)
        self.flush()
        return not path.exists()
