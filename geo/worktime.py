"""Deadlines in working time.

Category time limits are set in working hours or working days (暴露垃圾 4 working hours,
违法建设 15-20 working days), so a deadline is counted on the office calendar, not the
wall clock: a case reported on Friday afternoon with 4 working hours is due on Monday.
The office day is 09:00-12:00 and 13:30-17:30 (7 hours), Monday to Friday, in China
Standard Time; statutory holidays can be passed in as dates (the local authority's own
calendar, including 调休 make-up working days, belongs in configuration).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable

CST = timezone(timedelta(hours=8), "CST")
OFFICE_PERIODS = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
HOURS_PER_DAY = sum((datetime.combine(date.min, b) - datetime.combine(date.min, a)).seconds for a, b in OFFICE_PERIODS) / 3600


def is_working_day(d: date, holidays: frozenset[date] = frozenset(), workdays: frozenset[date] = frozenset()) -> bool:
    if d in workdays:
        return True
    return d.weekday() < 5 and d not in holidays


def add_working_time(
    start: datetime,
    amount: float,
    unit: str,
    holidays: Iterable[date] = (),
    workdays: Iterable[date] = (),
) -> datetime:
    """The moment `amount` working hours or days after `start` (timezone-aware, CST).

    Working days count whole office days after the day of the report, ending at the close
    of the last one (a case reported on Monday with 1 working day is due Tuesday 17:30).
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if amount <= 0:
        raise ValueError("amount must be positive")
    hol, work = frozenset(holidays), frozenset(workdays)
    local = start.astimezone(CST)
    if unit == "working_days":
        d = local.date()
        left = int(amount)
        while left > 0:
            d += timedelta(days=1)
            if is_working_day(d, hol, work):
                left -= 1
        return datetime.combine(d, OFFICE_PERIODS[-1][1], CST)
    if unit != "working_hours":
        raise ValueError(f"unknown time unit {unit!r}: use working_hours or working_days")
    remaining = timedelta(hours=amount)
    cursor = local
    while True:
        if is_working_day(cursor.date(), hol, work):
            for begin, end in OFFICE_PERIODS:
                p_start = datetime.combine(cursor.date(), begin, CST)
                p_end = datetime.combine(cursor.date(), end, CST)
                if cursor >= p_end:
                    continue
                cursor = max(cursor, p_start)
                if cursor + remaining <= p_end:
                    return cursor + remaining
                remaining -= p_end - cursor
                cursor = p_end
        cursor = datetime.combine(cursor.date() + timedelta(days=1), time(0, 0), CST)
