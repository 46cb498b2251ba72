"""One definition per indicator (指标口径): what each KPI counts, over which window, and when
its sample is too small to mean anything.

The big screen, the drill page, the 季通报 rankings and the CLI used to compute 化解率 each
their own way (76.2%, 30.4% and 5.1% for the same county under one label). Each indicator is
defined here once: its name, its numerator and denominator in words, the window it is read
over (shown on screen beside the value: "近365天" ...), and the smallest denominator a ratio
needs before it is shown as a percentage ("样本不足" below it). The pages keep their own fast
paths (the big screen counts from cached daily aggregates) but apply these definitions, and
`compute` is the reference the tests hold every page and the CLI to.

Windows are whole local days (China time), both ends included: "近365天" is the 365 days
ending today, so the big screen and a drill page opened on the same days read the same
number. "当前" indicators (在办, 超期) do not depend on a window: what is open now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from geo import db
from geo.incidents.lifecycle import OPEN_STATUSES, RESOLVED_STATUSES
from geo.worktime import CST

MIN_SAMPLE = 10  # a ratio over fewer cases reads "样本不足"
INSUFFICIENT = "样本不足"
DAYS_BEYOND_HOURS = 48  # a duration longer than this is said in days


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    numerator: str
    denominator: str | None  # None: a count
    window: str  # "days" (a window of local days), "now" (as of now), "today", "month"
    min_sample: int = 0

    @property
    def is_ratio(self) -> bool:
        return self.denominator is not None


INDICATORS: dict[str, Indicator] = {
    i.key: i
    for i in (
        Indicator("today", "今日事件", "今日（本地零点起）报告的事件，不含已撤销", None, "today"),
        Indicator("month", "本月事件", "本月1日起报告的事件，不含已撤销", None, "month"),
        Indicator("incidents", "事件", "窗口内报告的事件，不含已撤销", None, "days"),
        Indicator("open", "在办", "当前未办结、未撤销的事件（不论何时报告）", None, "now"),
        Indicator("overdue", "超期", "当前在办且已过办理时限的事件", None, "now"),
        Indicator(
            "resolution_rate",
            "化解率",
            "窗口内报告的矛盾纠纷中已办结或已回访的",
            "窗口内报告的矛盾纠纷（不含已撤销）",
            "days",
            MIN_SAMPLE,
        ),
        Indicator(
            "village_share",
            "小事不出村",
            "窗口内报告、已化解且在村(社区)级化解的事件",
            "窗口内报告、已化解且注明化解层级的事件",
            "days",
            MIN_SAMPLE,
        ),
    )
}

OPEN = sorted(OPEN_STATUSES)
RESOLVED = list(RESOLVED_STATUSES)


# --------------------------------------------------------------------------- windows


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(CST)).astimezone(CST).date()


def last_days(n: int, now: datetime | None = None) -> tuple[date, date]:
    """The `n` local days ending today, both included ("近n天")."""
    if n < 1:
        raise ValueError(f"a window has at least one day, not {n}")
    end = today(now)
    return end - timedelta(days=n - 1), end


def day_start(day: date) -> datetime:
    """Local midnight opening `day`."""
    return datetime.combine(day, time(0), CST)


def window_caption(start: date, end: date, now: datetime | None = None) -> str:
    """How a window is said on screen: 今日, 近N天 (ending today), 本月, else its dates."""
    last = today(now)
    if end == last:
        if start == end:
            return "今日"
        if start == end.replace(day=1):
            return "本月"
        return f"近{(end - start).days + 1}天"
    if start == end:
        return f"{start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d}至{end:%Y-%m-%d}"


def caption(key: str, start: date | None = None, end: date | None = None, now: datetime | None = None) -> str:
    """The indicator's window as shown beside its value."""
    ind = INDICATORS[key]
    if ind.window == "now":
        return "当前"
    if ind.window == "today":
        return "今日"
    if ind.window == "month":
        return "本月"
    return window_caption(start, end, now)


def equal_span(start: date, end: date, now: datetime | None = None) -> tuple[tuple[date, date], tuple[date, date]]:
    """(this span, the span it is compared with) for 环比: a period still in progress is cut at
    today, and the previous period is cut to the same number of days, so six days of December
    are compared with the first six days of November, never with the whole month (a period
    that has not begun is compared whole)."""
    if start <= today(now) < end:
        end = today(now)
    span = (end - start).days
    prev_start = _previous_period_start(start)
    prev_end = min(prev_start + timedelta(days=span), start - timedelta(days=1))
    return (start, end), (prev_start, prev_end)


def _previous_period_start(start: date) -> date:
    """The first day of the month before `start`'s month."""
    first = start.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


# --------------------------------------------------------------------------- values


def ratio(numerator: int, denominator: int, min_sample: int = MIN_SAMPLE) -> float | None:
    """numerator / denominator, or None when the denominator is under the minimum sample."""
    if not denominator or denominator < max(min_sample, 1):
        return None
    return numerator / denominator


def fmt(key: str, value) -> str:
    """A value as shown: ratios as percentages ("样本不足" when None), counts with separators."""
    ind = INDICATORS.get(key)
    if ind is not None and ind.is_ratio:
        return INSUFFICIENT if value is None else f"{value * 100:.1f}%"
    return "—" if value is None else f"{value:,}"


def pct(value) -> str:
    """A ratio computed under these definitions: None means too few cases."""
    return INSUFFICIENT if value is None else f"{value * 100:.1f}%"


def duration_text(hours: float | None) -> str:
    """A duration in hours up to 48, in days beyond ("13,143 个工作小时" said nobody)."""
    if hours is None:
        return "—"
    if abs(hours) <= DAYS_BEYOND_HOURS:
        return f"{hours:.0f}小时"
    return f"{hours / 24:.1f}天"


# --------------------------------------------------------------------------- the reference computation


def scope_condition(code: str) -> tuple[str, str]:
    """(SQL condition on incident i, its bound value) for a scope: "" everything, a unit's code
    (a city's six digits ending 00 cover its districts) or a grid's 15 digits."""
    if code and (not code.isdigit() or len(code) not in (6, 9, 12, 15)):
        raise ValueError(f"not a unit or grid code (6, 9, 12 or 15 digits): {code!r}")
    if len(code) == 15:
        return "i.grid_code = %(scope)s", code
    prefix = code[:4] if len(code) == 6 and code.endswith("00") else code
    return "i.admin_code LIKE %(scope)s", prefix + "%"


def window_counts(conn, code: str, start: date, end: date) -> dict:
    """The windowed counts behind the indicators, straight from incident (no aggregate)."""
    where, scope = scope_condition(code)
    return db.one(
        conn,
        f"""
        SELECT count(*) AS incidents,
               count(*) FILTER (WHERE c.is_dispute) AS disputes,
               count(*) FILTER (WHERE c.is_dispute AND i.status = ANY(%(resolved)s)) AS resolved_disputes,
               count(*) FILTER (WHERE i.status = ANY(%(resolved)s) AND coalesce(i.level_handled, '') <> '') AS resolved_leveled,
               count(*) FILTER (WHERE i.status = ANY(%(resolved)s) AND i.level_handled = 'community') AS resolved_village
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE {where} AND i.status <> 'cancelled'
           AND i.reported_at >= %(lo)s AND i.reported_at < %(hi)s""",
        dict(scope=scope, resolved=RESOLVED, lo=day_start(start), hi=day_start(end + timedelta(days=1))),
    )


def current_open(conn, code: str, now: datetime | None = None) -> dict:
    """在办 and 超期 as of `now`, whenever the incidents were reported."""
    where, scope = scope_condition(code)
    return db.one(
        conn,
        f"""
        SELECT count(*) AS open, count(*) FILTER (WHERE i.deadline < %(now)s) AS overdue
          FROM incident i
         WHERE {where} AND i.status = ANY(%(open)s) AND i.closed_at IS NULL""",
        dict(scope=scope, open=OPEN, now=now or datetime.now(CST)),
    )


def compute(conn, code: str, start: date, end: date, now: datetime | None = None) -> dict:
    """Every indicator of a scope over [start, end] (local days, both included), by the words
    of INDICATORS: the reference the pages and the CLI are tested against."""
    now = now or datetime.now(CST)
    w = window_counts(conn, code, start, end)
    day = today(now)
    t = window_counts(conn, code, day, day)
    m = window_counts(conn, code, day.replace(day=1), day)
    o = current_open(conn, code, now)
    return dict(
        today=t["incidents"],
        month=m["incidents"],
        incidents=w["incidents"],
        open=o["open"],
        overdue=o["overdue"],
        resolution_rate=ratio(w["resolved_disputes"], w["disputes"], INDICATORS["resolution_rate"].min_sample),
        resolution_base=w["disputes"],
        village_share=ratio(w["resolved_village"], w["resolved_leveled"], INDICATORS["village_share"].min_sample),
        village_base=w["resolved_leveled"],
    )
