"""The incident filter every analysis shares (研判 drill-down, hotspots, emerging hotspots,
density, rankings): a time window [start, end) in China time, optionally one major category,
cancelled incidents left out. One definition, so that every page counts the same incidents
for the same window."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from geo.incidents.lifecycle import OPEN_STATUSES, RESOLVED_STATUSES
from geo.worktime import CST

RESOLVED = RESOLVED_STATUSES
OPEN = tuple(sorted(OPEN_STATUSES))

# The WHERE clause every analysis shares: a window, optionally one major category.
INCIDENT_FILTER = """
    i.status <> 'cancelled'
    AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
    AND (%(major)s::text IS NULL OR i.minor_code IN (SELECT minor_code FROM category WHERE major_code = %(major)s))
"""


def time_window(start, end) -> tuple[datetime, datetime]:
    """[start, end) as aware datetimes; a date end includes the whole day (CST)."""

    def as_datetime(value, next_day: bool) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=CST)
        if isinstance(value, date):
            return datetime.combine(value + timedelta(days=1 if next_day else 0), time(0), CST)
        raise ValueError(f"not a date or datetime: {value!r}")

    lo, hi = as_datetime(start, False), as_datetime(end, True)
    if hi <= lo:
        raise ValueError(f"empty time window: {start} .. {end}")
    return lo, hi


def filter_params(start, end, major_code: str | None = None, **extra) -> dict:
    """Bound parameters for INCIDENT_FILTER and MEASURES_SQL."""
    lo, hi = time_window(start, end)
    if major_code is not None and not (isinstance(major_code, str) and major_code.isdigit() and len(major_code) == 2):
        raise ValueError(f"a major category code has 2 digits, not {major_code!r}")
    return dict(start=lo, end=hi, major=major_code, resolved=list(RESOLVED), open=list(OPEN), **extra)
