"""What a station's spool holds, read the one way `papilla station status` and `papilla station metrics` read it.

The outbox (`outbox.Outbox`) keeps each sealed packet as ``<packet id>.sealed``
until RabbitMQ confirms it. When a send fails, the outbox records the failure
in ``last_send_error.json`` beside the packets: when, the kind of error and one
sentence; never a packet, an id of a person, or a broker password. A send that
succeeds removes the record: it always describes the latest attempt.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

SUFFIX = ".sealed"
LAST_ERROR = "last_send_error.json"


@dataclass(frozen=True)
class SendError:
    at: str          # ISO 8601, UTC
    kind: str        # the exception's class name, e.g. AMQPConnectionError
    detail: str      # one sentence, no personal data


@dataclass(frozen=True)
class SpoolFacts:
    """The spool of one station now. oldest_age_seconds: 0 when empty."""

    station_id: str
    packets: int
    oldest_age_seconds: float
    last_error: SendError | None

    def lines(self) -> list[str]:
        out = [f"station {self.station_id}: {self.packets} packet(s) waiting in the spool"
               + (f", the oldest for {_duration(self.oldest_age_seconds)}" if self.packets else "")]
        if self.last_error:
            out.append(f"last send error at {self.last_error.at}: {self.last_error.kind}: {self.last_error.detail}")
        else:
            out.append("last send: no error recorded")
        if self.packets:
            out.append("`papilla station flush` sends them once the broker answers")
        return out

    def as_dict(self) -> dict:
        return {"station_id": self.station_id, "packets": self.packets,
                "oldest_age_seconds": round(self.oldest_age_seconds, 3),
                "last_error": asdict(self.last_error) if self.last_error else None}


def spool_facts(station_id: str, spool_dir: Path, now: float | None = None) -> SpoolFacts:
    spool_dir = Path(spool_dir)
    stamps = []
    for path in spool_dir.glob(f"*{SUFFIX}"):
        try:
            stamps.append(path.stat().st_mtime)
        except FileNotFoundError:     # sent meanwhile
            continue
    now = time.time() if now is None else now
    return SpoolFacts(station_id, len(stamps), max(0.0, now - min(stamps)) if stamps else 0.0,
                      last_send_error(spool_dir))


def last_send_error(spool_dir: Path) -> SendError | None:
    try:
        return SendError(**json.loads((Path(spool_dir) / LAST_ERROR).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return SendError("unknown", "unreadable", f"{LAST_ERROR} in the spool is not a send-error record")


def record_send_error(spool_dir: Path, exc: BaseException) -> None:
    """Atomically (temp file, fsync, rename) record the failure of a send: its class and a fixed sentence."""
    error = SendError(datetime.now(timezone.utc).isoformat(timespec="seconds"), type(exc).__name__,
                      "RabbitMQ did not confirm the packet (unreachable, or the connection dropped); it stays spooled")
    path = Path(spool_dir) / LAST_ERROR
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        json.dump(asdict(error), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clear_send_error(spool_dir: Path) -> None:
    (Path(spool_dir) / LAST_ERROR).unlink(missing_ok=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
