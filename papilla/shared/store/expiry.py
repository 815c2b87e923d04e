"""Expiry of operational documents: the stamp format of TTL fields and the sweep SQLite needs.

A collection whose indexes in :mod:`papilla.shared.store.indexes` include one
declared ``expires=True`` keeps, in that field (``expire_at``), the instant its
document stops being needed, as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds:
the format round-trips exactly through MongoDB's millisecond BSON dates, and
sorts as text in the order of time on SQLite).

* MongoDB: `MongoStore` stores the field as a BSON date under a TTL index
  (``expireAfterSeconds: 0``); the server deletes a document within about a
  minute of its stamp. `delete_expired` there only does early what the server
  would do anyway.
* SQLite has no TTL: `delete_expired` deletes every document whose stamp is
  past. A SQLiteStore runs it when it opens (a worker's start-up) and
  `papilla store expire` runs it hourly (infra/systemd/papilla-housekeeping.timer).

What expires and after how long is decided by the writers (shared/results.py,
shared/deadletters.py, the intake's jobs), from `papilla.shared.config.OperationalRetention`.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .base import InvalidDocument, Store
from .indexes import expiring_collections, expiring_field

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def expiry_stamp(moment: datetime) -> str:
    """`moment` (aware, or naive UTC) as an expiry stamp, truncated to the second."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(STAMP_FORMAT)


def expires_after(days: float, now: datetime | None = None) -> str:
    """The expiry stamp `days` after `now` (default: the current time)."""
    return expiry_stamp((now or datetime.now(timezone.utc)) + timedelta(days=days))


def is_stamp(value: object) -> bool:
    """Is `value` a valid expiry stamp (format and calendar)?"""
    if not isinstance(value, str) or not _STAMP.match(value):
        return False
    try:
        datetime.strptime(value, STAMP_FORMAT)
    except ValueError:
        return False
    return True


def parse_stamp(value: str) -> datetime:
    """The naive-UTC datetime of an expiry stamp (what MongoDB stores); InvalidDocument otherwise."""
    if not is_stamp(value):
        raise InvalidDocument("an expiry field must hold a valid stamp YYYY-MM-DDTHH:MM:SSZ (UTC)")
    return datetime.strptime(value, STAMP_FORMAT)


def check_expiry_value(collection: str, path: str, value: object) -> None:
    """A TTL field holds None (never expires) or a valid stamp; other values are refused on both backends."""
    if path != expiring_field(collection) or value is None:
        return
    if not isinstance(value, str):
        raise InvalidDocument(f"{collection}.{path}: an expiry field holds a stamp YYYY-MM-DDTHH:MM:SSZ or None")
    parse_stamp(value)


def delete_expired(store: Store, now: datetime | None = None) -> dict[str, int]:
    """Delete every document whose expiry stamp is past, in every collection with a TTL index.

    Returns the count per collection. A stamp equal to `now` counts as past (MongoDB's TTL with
    `expireAfterSeconds: 0` deletes at the stamp).
    """
    cutoff = expiry_stamp(now or datetime.now(timezone.utc))
    return {collection: store.delete(collection, {expiring_field(collection): {"$lte": cutoff}})
            for collection in expiring_collections()}
