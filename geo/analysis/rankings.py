"""季通报 and 月调度: quarterly rankings of towns/streets and departments, monthly dispatch review.

"日排查、月调度、季通报": every quarter the center ranks towns/streets and departments by
screening volume (排查量, incidents found) and by resolution rate (化解率, resolved disputes
over disputes) and names the last places. Ties share a place and the next place is skipped
(standard competition ranking, "1224"), so that two towns with the same rate are named
together; the last places are flagged by counting from the bottom the same way, so a tie at
the boundary flags all of its members rather than picking one arbitrarily.

A dispute counts as resolved when it is closed or followed up now, whenever that happened:
counting only closures inside the period would punish every dispute reported in its last
fortnight (a 15-working-day limit) and show a 化解率 far below the one the center reports.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
from scipy import stats

from geo import db
from geo.analysis import indicators
from geo.analysis.filters import INCIDENT_FILTER, filter_params

RATE_MIN_SAMPLE = indicators.INDICATORS["resolution_rate"].min_sample

LAST_N = 3
COLUMNS = {  # key -> Chinese header, for the report and the Excel export
    "rank_found": "排查量名次",
    "rank_rate": "化解率名次",
    "code": "代码",
    "name": "名称",
    "found": "排查量",
    "disputes": "矛盾纠纷",
    "resolved_disputes": "已化解",
    "resolution_rate": "化解率",
    "last_found": "排查量末位",
    "last_rate": "化解率末位",
}


def quarter_window(quarter: str) -> tuple[date, date]:
    """'2026Q3' -> (2026-07-01, 2026-09-30), both days included."""
    m = re.fullmatch(r"(\d{4})[Qq]([1-4])", quarter or "")
    if not m:
        raise ValueError(f"a quarter is written like 2026Q3, not {quarter!r}")
    year, q = int(m[1]), int(m[2])
    start = date(year, 3 * q - 2, 1)
    stop = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return start, stop - timedelta(days=1)


def month_window(month: str) -> tuple[date, date]:
    """'2026-07' -> (2026-07-01, 2026-07-31)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(f"a month is written like 2026-07, not {month!r}")
    year, mon = int(m[1]), int(m[2])
    stop = date(year + (mon == 12), 1 if mon == 12 else mon + 1, 1)
    return date(year, mon, 1), stop - timedelta(days=1)


def competition_rank(values, descending: bool = True) -> list[int | None]:
    """Standard competition ranks ("1224"); None values get no rank."""
    present = [k for k, v in enumerate(values) if v is not None]
    ranks: list[int | None] = [None] * len(values)
    if present:
        v = np.array([values[k] for k in present], dtype=float)
        for k, r in zip(present, stats.rankdata(-v if descending else v, method="min")):
            ranks[k] = int(r)
    return ranks


def last_places(values, last_n: int = LAST_N, below: float | None = None) -> list[bool]:
    """The bottom `last_n` places counted from the bottom with ties (all tied members flagged),
    plus any value under `below`."""
    from_bottom = competition_rank(values, descending=False)
    return [r is not None and (r <= last_n or (below is not None and values[k] < below)) for k, r in enumerate(from_bottom)]


def _rank(rows: list[dict], last_n: int, rate_below: float | None) -> list[dict]:
    found = [r["found"] for r in rows]
    rates = [r["resolution_rate"] for r in rows]
    for r, rf, rr, lf, lr in zip(
        rows, competition_rank(found), competition_rank(rates), last_places(found, last_n), last_places(rates, last_n, rate_below)
    ):
        r.update(rank_found=rf, rank_rate=rr, last_found=lf, last_rate=lr)
    return sorted(rows, key=lambda r: (r["rank_found"] or 10**9, r["code"] or ""))


def _volumes(conn, key: str, start, end, scope: str) -> dict:
    """排查量 and disputes per `key` (a fixed SQL expression) in the window."""
    params = filter_params(start, end, None, scope=scope + "%")
    return {
        r["key"]: r
        for r in db.rows(
            conn,
            f"""
        SELECT {key} AS key, count(*) AS found,
               count(*) FILTER (WHERE c.is_dispute) AS disputes,
               count(*) FILTER (WHERE c.is_dispute AND i.status = ANY(%(resolved)s))
                   AS resolved_disputes
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE i.admin_code LIKE %(scope)s AND {INCIDENT_FILTER}
         GROUP BY 1""",
            params,
        )
    }


def _with_rate(unit: dict, volume: dict | None, min_sample: int = RATE_MIN_SAMPLE) -> dict:
    volume = volume or {}
    row = dict(
        unit,
        found=volume.get("found", 0),
        disputes=volume.get("disputes", 0),
        resolved_disputes=volume.get("resolved_disputes", 0),
    )
    row["resolution_rate"] = indicators.ratio(row["resolved_disputes"], row["disputes"], min_sample)
    return row


def towns(
    conn, start, end, scope: str = "", last_n: int = LAST_N, rate_below: float | None = None, min_sample: int = RATE_MIN_SAMPLE
) -> list[dict]:
    """Towns/streets with incidents in [start, end], ranked; a town with no case is not ranked
    (placing it last would blame it for being quiet)."""
    units = db.rows(conn, "SELECT code, name FROM admin_unit WHERE level = 'town' AND code LIKE %s ORDER BY code", (scope + "%",))
    volumes = _volumes(conn, "left(i.admin_code, 9)", start, end, scope)
    return _rank([_with_rate(u, volumes[u["code"]], min_sample) for u in units if u["code"] in volumes], last_n, rate_below)


def departments(
    conn, start, end, scope: str = "", last_n: int = LAST_N, rate_below: float | None = None, min_sample: int = RATE_MIN_SAMPLE
) -> list[dict]:
    """Responsible departments (category.department) with cases in [start, end], ranked; a
    department no case was routed to is not ranked (it was never asked to do anything)."""
    units = db.rows(conn, "SELECT DISTINCT department AS code, department AS name FROM category ORDER BY 1")
    volumes = _volumes(conn, "c.department", start, end, scope)
    return _rank([_with_rate(u, volumes[u["code"]], min_sample) for u in units if u["code"] in volumes], last_n, rate_below)


def quarterly(
    conn, quarter: str, scope: str = "", last_n: int = LAST_N, rate_below: float | None = None, min_sample: int = RATE_MIN_SAMPLE
) -> dict:
    """The 季通报: both rankings for one quarter (a 化解率 over fewer than `min_sample` disputes
    is not a rate: None, shown "样本不足", and not ranked)."""
    start, end = quarter_window(quarter)
    return dict(
        quarter=quarter,
        start=start,
        end=end,
        towns=towns(conn, start, end, scope, last_n, rate_below, min_sample),
        departments=departments(conn, start, end, scope, last_n, rate_below, min_sample),
    )


def monthly(conn, month: str, scope: str = "", now=None) -> dict:
    """The 月调度 summary: the month against the previous one, where matters were settled, what is overdue."""
    start, end = month_window(month)
    # 环比 over equal spans: a month in progress is compared with as many days of the month
    # before (six days of December with the first six of November), never with all of it
    (start, end), (previous_start, previous_end) = indicators.equal_span(start, end, now)
    params = filter_params(start, end, None, scope=scope + "%")
    this, before = _month_totals(conn, start, end, scope), _month_totals(conn, previous_start, previous_end, scope)
    handled = this["at_community"] + this["at_town"] + this["at_district"]
    overdue_by_town = db.rows(
        conn,
        f"""
        SELECT t.code, t.name, count(*) AS overdue
          FROM incident i JOIN admin_unit t ON t.code = left(i.admin_code, 9)
         WHERE i.admin_code LIKE %(scope)s AND {INCIDENT_FILTER}
           AND i.status = ANY(%(open)s) AND i.deadline < now()
         GROUP BY t.code, t.name ORDER BY overdue DESC, t.code""",
        params,
    )
    top = db.rows(
        conn,
        f"""
        SELECT c.minor_name AS name, count(*) AS found
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE i.admin_code LIKE %(scope)s AND {INCIDENT_FILTER}
         GROUP BY c.minor_code, c.minor_name ORDER BY found DESC, c.minor_code LIMIT 5""",
        params,
    )
    return dict(
        month=month,
        start=start,
        end=end,
        **this,
        previous_start=previous_start,
        previous_end=previous_end,
        previous_found=before["found"],
        previous_resolution_rate=before["resolution_rate"],
        change_found=(this["found"] - before["found"]) / before["found"] if before["found"] else None,
        share_at_community=indicators.ratio(this["at_community"], handled, indicators.INDICATORS["village_share"].min_sample),
        overdue_by_town=overdue_by_town,
        top_categories=top,
    )


def _month_totals(conn, start, end, scope: str) -> dict:
    row = db.one(
        conn,
        f"""
        SELECT count(*) AS found, count(*) FILTER (WHERE c.is_dispute) AS disputes,
               count(*) FILTER (WHERE c.is_dispute AND i.status = ANY(%(resolved)s))
                   AS resolved_disputes,
               count(*) FILTER (WHERE i.status = ANY(%(open)s)) AS open,
               count(*) FILTER (WHERE i.status = ANY(%(open)s) AND i.deadline < now()) AS overdue,
               count(*) FILTER (WHERE i.status = 'escalated') AS escalated,
               count(*) FILTER (WHERE i.status = ANY(%(resolved)s) AND i.level_handled = 'community') AS at_community,
               count(*) FILTER (WHERE i.status = ANY(%(resolved)s) AND i.level_handled = 'town') AS at_town,
               count(*) FILTER (WHERE i.status = ANY(%(resolved)s) AND i.level_handled = 'district') AS at_district
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE i.admin_code LIKE %(scope)s AND {INCIDENT_FILTER}""",
        filter_params(start, end, None, scope=scope + "%"),
    )
    return _with_rate({k: v for k, v in row.items() if k not in ("found", "disputes", "resolved_disputes")}, row)


def to_excel(path, report: dict, month_summary: dict | None = None) -> None:
    """Write the 季通报 (two ranking sheets) and optionally the 月调度 summary to an .xlsx file."""
    import pandas as pd

    from geo.io.cells import safe_frame

    def sheet(rows: list[dict]) -> "pd.DataFrame":
        frame = pd.DataFrame(rows, columns=list(COLUMNS)).rename(columns=COLUMNS)
        for flag in ("排查量末位", "化解率末位"):
            frame[flag] = frame[flag].map({True: "末位", False: ""})
        return safe_frame(frame)

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        sheet(report["towns"]).to_excel(writer, sheet_name=f"{report['quarter']}乡镇街道", index=False)
        sheet(report["departments"]).to_excel(writer, sheet_name=f"{report['quarter']}部门", index=False)
        if month_summary:
            scalars = {k: v for k, v in month_summary.items() if not isinstance(v, list)}
            safe_frame(pd.DataFrame(list(scalars.items()), columns=["指标", "数值"])).to_excel(
                writer, sheet_name=f"{month_summary['month']}月调度", index=False
            )
            safe_frame(pd.DataFrame(month_summary["overdue_by_town"])).to_excel(
                writer, sheet_name=f"{month_summary['month']}超期", index=False
            )
