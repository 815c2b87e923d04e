"""Business days in Kazakhstan: the `holidays` package's KZ calendar plus configured changes.

The Government moves days off every year (a Saturday becomes a working day,
a Monday a day off) and may add holidays after a release of `holidays`; the
centre configures those here instead of waiting for a new package:

* ``PAPILLA_CALENDAR_FILE`` (default ``$PAPILLA_HOME/calendar.toml`` when it
  exists), a TOML file with ``holidays = ["2026-12-17", …]`` and
  ``workdays = ["2026-12-19", …]``;
* ``PAPILLA_EXTRA_HOLIDAYS`` / ``PAPILLA_EXTRA_WORKDAYS``: comma-separated
  ISO dates, added to the file's.

A configured working day wins over the package (a transferred working
Saturday); a configured holiday wins over everything.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import holidays

from ..config import ConfigError

COUNTRY = "KZ"


def _dates(raw: list | str, where: str) -> frozenset[date]:
    items = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else list(raw)
    try:
        return frozenset(date.fromisoformat(str(s)) for s in items if str(s))
    except ValueError:
        raise ConfigError(f"{where} must list ISO dates such as 2026-12-17") from None


@dataclass(frozen=True)
class CalendarSettings:
    """Configured changes to the KZ calendar (defaults: none)."""

    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls) -> "CalendarSettings":
        home = Path(os.environ.get("PAPILLA_HOME") or "./var")
        path = Path(os.environ.get("PAPILLA_CALENDAR_FILE") or home / "calendar.toml")
        holidays_, workdays = frozenset(), frozenset()
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"calendar file {path} is not valid TOML ({exc})") from None
            holidays_ = _dates(data.get("holidays", []), f"'holidays' in {path}")
            workdays = _dates(data.get("workdays", []), f"'workdays' in {path}")
        elif os.environ.get("PAPILLA_CALENDAR_FILE"):
            raise ConfigError(f"PAPILLA_CALENDAR_FILE names {path}, which does not exist")
        holidays_ |= _dates(os.environ.get("PAPILLA_EXTRA_HOLIDAYS", ""), "PAPILLA_EXTRA_HOLIDAYS")
        workdays |= _dates(os.environ.get("PAPILLA_EXTRA_WORKDAYS", ""), "PAPILLA_EXTRA_WORKDAYS")
        return cls(extra_holidays=holidays_, extra_workdays=workdays)


class BusinessCalendar:
    def __init__(self, settings: CalendarSettings | None = None) -> None:
        self.settings = settings or CalendarSettings()
        self._kz = holidays.country_holidays(COUNTRY)   # years filled in lazily as dates are asked

    def is_business_day(self, day: date) -> bool:
        if day in self.settings.extra_holidays:
            return False
        if day in self.settings.extra_workdays:
            return True
        return self._kz.is_working_day(day)

    def add_business_days(self, start: date, days: int) -> date:
        """The `days`-th business day after `start` (the day of receipt itself is not counted)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        day, counted = start, 0
        while counted < days:
            day += timedelta(days=1)
            counted += self.is_business_day(day)
        return day
