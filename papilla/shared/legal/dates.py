"""The one date rule for ages and terms counted in years (rule `one_date_rule`; docs/legal.md "Dates").

A span of N years from a date ends on the same date N years later; when that month has no such date (29
February in a common year) it ends on the month's last day, 28 February. The same rule gives a term's end
(Law Art.15: ten years from registration, forty in the archive, the date a person would turn one hundred)
and a person's age (Rules 406 p.4: 18; Law Art.10: 12 and 16): a person born on 29 February reaches 18 on 28
February of a common year, the day their eighteenth year is complete, exactly as a term of N years from 29
February ends on 28 February. Every age and every term in the code is computed here.
"""
from __future__ import annotations

import calendar
from datetime import date

#: the rule this module implements (shared/legal/rules.py)
RULE_ID = "one_date_rule"


def add_years(day: date, years: int) -> date:
    """`day` moved by whole years; 29 February becomes 28 February in a common year."""
    year = day.year + years
    last = calendar.monthrange(year, day.month)[1]
    return day.replace(year=year, day=min(day.day, last))


def age_on(birth: date, on: date) -> int:
    """Whole years of age on the calendar date `on`: the years N for which `add_years(birth, N)` has come."""
    years = on.year - birth.year
    return years if add_years(birth, years) <= on else years - 1
