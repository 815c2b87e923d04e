"""The one clock lifecycle code reads: `now()` from an injectable source.

Terms (retention, access-request deadlines) are decided against this clock,
so a test can put the centre on any date:

    with clock.frozen(datetime(2036, 11, 23, tzinfo=timezone.utc)):
        retention.sweep(centre)

Command-line tests set `PAPILLA_CLOCK` to an ISO-8601 instant (with offset);
unset, the system clock is used. Legal dates are calendar dates in Kazakhstan
(`LOCAL_TZ`, Asia/Almaty, UTC+5 since 2024-03-01).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from .config import ConfigError

LOCAL_TZ = ZoneInfo("Asia/Almaty")
ENV = "PAPILLA_CLOCK"

Source = Callable[[], datetime]
_source: Source | None = None


def _system() -> datetime:
    return datetime.now(timezone.utc)


def _from_env() -> datetime | None:
    raw = os.environ.get(ENV)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{ENV} must be an ISO-8601 instant such as 2026-11-23T10:00:00+05:00, got {raw!r}") from None
    if value.tzinfo is None:
        raise ConfigError(f"{ENV} must carry a UTC offset (e.g. +05:00), got {raw!r}")
    return value


def now() -> datetime:
    """The current instant (timezone-aware, UTC): the injected source, else PAPILLA_CLOCK, else the system."""
    if _source is not None:
        value = _source()
    else:
        value = _from_env() or _system()
    if value.tzinfo is None:
        raise ValueError("the clock source returned a naive datetime")
    return value.astimezone(timezone.utc)


def today() -> date:
    """Today's calendar date in Kazakhstan."""
    return local_date(now())


def local_date(instant: datetime) -> date:
    return instant.astimezone(LOCAL_TZ).date()


def set_source(source: Source | None) -> None:
    """Use `source` for `now()` from here on (None: back to PAPILLA_CLOCK / the system clock)."""
    global _source
    _source = source


@contextmanager
def frozen(instant: datetime) -> Iterator[None]:
    """`now()` returns `instant` inside the block."""
    if instant.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware instant")
    previous = _source
    set_source(lambda: instant)
    try:
        yield
    finally:
        set_source(previous)
