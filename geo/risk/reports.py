"""What the weekly risk outputs contain: the tier ledgers (工作台账), the per-town list of risks
(风险隐患问题清单) and the risk notice (风险提示函), as plain rows with Chinese column names.

Why separate from their formats: the same rows go to Excel (geo.risk.excel), to printable
pages (geo.risk.printable) and to tests; each format only lays them out. Personal names are
masked (geo.security.masking): a ledger is a file that travels.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from geo import db, labels
from geo.incidents.lifecycle import CLOSED_STATUSES, LEVEL_LABELS
from geo.risk import tiers as risk
from geo.security.masking import mask_name
from geo.worktime import CST

# GB/T 31000-2015 practice fields of a dispute record, plus the risk assessment.
LEDGER_COLUMNS = (
    "序号",
    "事件编号",
    "名称",
    "日期",
    "地点",
    "规模",
    "类别",
    "涉及人数",
    "简述",
    "主要当事人",
    "化解时限",
    "化解方式",
    "化解组织",
    "化解责任人",
    "是否成功",
    "处理状态",
    "经度",
    "纬度",
    "风险等级",
    "风险分值",
    "风险原因",
    "所属网格",
    "乡镇（街道）",
)
RISK_LIST_COLUMNS = (
    "序号",
    "风险等级",
    "问题类别",
    "问题描述",
    "地点",
    "所属网格",
    "村（社区）",
    "发现日期",
    "已持续天数",
    "风险原因",
    "责任单位",
    "化解时限",
    "处理状态",
    "重点清单",
)
GRID_LIST_COLUMNS = ("序号", "网格编码", "网格名称", "村（社区）", "风险等级", "风险分值", "风险因素")

# 规模 by people involved: the collective (5+) and large-group (30+, 100+) lines of the
# incident configuration's people bands.
_SCALES = ((100, "重大群体"), (30, "较大群体"), (5, "群体"), (0, "个体"))

_INCIDENT_SQL = """
SELECT i.id, i.title, i.description, i.reported_at, i.address, i.people_involved, i.reporter_name_masked AS reporter_name, i.deadline,
       i.level_handled, i.status, i.closed_at, i.risk_tier, i.risk_score, i.risk_reasons, i.grid_code,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, c.minor_name AS category, c.department,
       g.name AS grid_name, cm.name AS community_name, t.name AS town_name,
       (SELECT s.name FROM grid_staff s WHERE s.grid_code = i.grid_code
         ORDER BY array_position(ARRAY['fulltime', 'leader', 'parttime', 'mobile'], s.role), s.id LIMIT 1) AS staff_name,
       EXISTS (SELECT 1 FROM key_list k WHERE k.id = i.id) AS on_key_list
  FROM incident i
  JOIN category c ON c.minor_code = i.minor_code
  LEFT JOIN grid_current g ON g.code = i.grid_code
  LEFT JOIN admin_unit cm ON cm.code = i.admin_code
  LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
 WHERE {where}
 ORDER BY i.risk_score DESC NULLS LAST, i.reported_at, i.id
"""
_OPEN = "i.closed_at IS NULL AND i.status NOT IN ('closed', 'followed_up', 'cancelled')"


def scale_label(people: int | None) -> str:
    """规模 of a dispute by its people; 不详 when the source did not say (a ledger import)."""
    if people is None:
        return "不详"
    return next(name for minimum, name in _SCALES if people >= minimum)


def _outcome(status: str) -> str:
    if status in ("closed", "followed_up"):
        return "是"
    return "否（已撤销）" if status == "cancelled" else "未结"


def _day(ts: datetime | None) -> str:
    return ts.astimezone(CST).strftime("%Y-%m-%d") if ts else ""


def _check_tier(tier: str) -> None:
    if tier not in risk.TIERS:
        raise ValueError(f"风险等级应为 high/medium/low, got {tier!r}")


def ledger(conn, tier: str, town_code: str | None = None, days: int = 365) -> list[dict]:
    """工作台账 of one tier: its incidents of the last `days` days and every unresolved one."""
    _check_tier(tier)
    found = db.rows(
        conn,
        _INCIDENT_SQL.format(
            where=f"i.risk_tier = %(tier)s AND (%(town)s::text IS NULL OR left(i.admin_code, 9) = %(town)s)"
            f" AND (i.reported_at >= now() - make_interval(days => %(days)s) OR ({_OPEN}))"
        ),
        {"tier": tier, "town": town_code, "days": days},
    )
    return [
        {
            "序号": n,
            "事件编号": r["id"],
            "名称": r["title"],
            "日期": _day(r["reported_at"]),
            "地点": r["address"] or "",
            "规模": scale_label(r["people_involved"]),
            "类别": r["category"],
            "涉及人数": "" if r["people_involved"] is None else r["people_involved"],
            "简述": r["description"] or "",
            "主要当事人": mask_name(r["reporter_name"]) or "",
            "化解时限": _day(r["deadline"]),
            "化解方式": LEVEL_LABELS[r["level_handled"]] + "调解" if r["level_handled"] else "",
            "化解组织": r["department"],
            "化解责任人": r["staff_name"] or "",
            "是否成功": _outcome(r["status"]),
            "处理状态": labels.t("status." + r["status"]),
            "经度": round(r["lon"], 6),
            "纬度": round(r["lat"], 6),
            "风险等级": labels.t("tier." + r["risk_tier"]),
            "风险分值": r["risk_score"],
            "风险原因": "；".join(r["risk_reasons"] or []),
            "所属网格": r["grid_name"] or r["grid_code"] or "",
            "乡镇（街道）": r["town_name"] or "",
        }
        for n, r in enumerate(found, 1)
    ]


def town(conn, town_code: str) -> dict:
    """The town/street a weekly output is addressed to (ValueError naming the code if unknown)."""
    row = db.one(conn, "SELECT code, name, kind FROM admin_unit WHERE code = %s AND level = 'town'", (town_code,))
    if row is None:
        raise ValueError(f"没有这个乡镇（街道）: {town_code!r} (a 9-digit town/street code)")
    return row


def risk_list(conn, town_code: str, week_end: date | None = None) -> dict:
    """风险隐患问题清单 of a town for the week ending `week_end` (default today).

    Items: every unresolved high/medium incident, and those found during the week even if
    already resolved (the week's analysis must show what was found, not only what is left);
    grids: the town's high and medium grids with their factors.
    """
    place = town(conn, town_code)
    week_end = week_end or datetime.now(CST).date()
    start = datetime.combine(week_end - timedelta(days=6), datetime.min.time(), CST)
    end = datetime.combine(week_end + timedelta(days=1), datetime.min.time(), CST)
    found = db.rows(
        conn,
        _INCIDENT_SQL.format(
            where=f"i.risk_tier IN ('high', 'medium') AND left(i.admin_code, 9) = %(town)s"
            f" AND i.reported_at < %(end)s AND (({_OPEN}) OR i.reported_at >= %(start)s)"
        ),
        {"town": town_code, "start": start, "end": end},
    )
    items = [
        {
            "序号": n,
            "风险等级": labels.t("tier." + r["risk_tier"]),
            "问题类别": r["category"],
            "问题描述": r["description"] or r["title"],
            "地点": r["address"] or "",
            "所属网格": r["grid_name"] or r["grid_code"] or "",
            "村（社区）": r["community_name"] or "",
            "发现日期": _day(r["reported_at"]),
            "已持续天数": (week_end - r["reported_at"].astimezone(CST).date()).days,
            "风险原因": "；".join(r["risk_reasons"] or []),
            "责任单位": r["department"],
            "化解时限": _day(r["deadline"]),
            "处理状态": labels.t("status." + r["status"]),
            "重点清单": "是" if r["on_key_list"] else "",
        }
        for n, r in enumerate(found, 1)
    ]
    grids = [
        {
            "序号": n,
            "网格编码": g["grid_code"],
            "网格名称": g["grid_name"],
            "村（社区）": g["community_name"] or "",
            "风险等级": labels.t("tier." + g["tier"]),
            "风险分值": g["score"],
            "风险因素": "；".join(g["reasons"]),
        }
        for n, g in enumerate((g for g in risk.grid_tiers(conn, town_code) if g["tier"] in ("high", "medium")), 1)
    ]
    return {"town": place, "week_start": week_end - timedelta(days=6), "week_end": week_end, "items": items, "grids": grids}


def notice(conn, town_code: str, week_end: date | None = None, reply_days: int = 5) -> dict:
    """风险提示函 to a town: the week's summary, the high-risk items and grids, and what is asked.

    Only high-tier items and grids go into the notice (the list carries the medium ones):
    a notice that names everything gets read like a newsletter.
    """
    rl = risk_list(conn, town_code, week_end)
    high = labels.t("tier.high")
    items = [i for i in rl["items"] if i["风险等级"] == high]
    grids = [g for g in rl["grids"] if g["风险等级"] == high]
    jurisdiction = db.one(conn, "SELECT name FROM jurisdiction LIMIT 1") or {"name": ""}
    year, week, _ = rl["week_end"].isocalendar()
    unresolved = sum(1 for i in items if i["处理状态"] not in {labels.t("status." + s) for s in CLOSED_STATUSES})
    body = (
        f"经{rl['week_start']:%Y年%m月%d日}至{rl['week_end']:%m月%d日}风险研判，贵{rl['town']['kind'] or '乡镇（街道）'}"
        f"辖区内有高风险网格 {len(grids)} 个、中风险网格 {len(rl['grids']) - len(grids)} 个，"
        f"高风险矛盾纠纷和隐患 {len(items)} 件（其中未化解 {unresolved} 件），"
        f"中风险 {len(rl['items']) - len(items)} 件（详见风险隐患问题清单）。现将高风险事项提示如下，"
        f"请落实属地责任，按“清单交办、协同处置、办结销号、跟踪回访”要求逐项化解，"
        f"并于 {reply_days} 个工作日内将化解情况书面反馈综治中心。"
    )
    return {
        "number": f"风险提示〔{year}〕第{week}周-{town_code}",
        "to": f"{rl['town']['name']}党（工）委、办事处（政府）、综治中心",
        "body": body,
        "items": items,
        "grids": grids,
        "sender": f"{jurisdiction['name']}综治中心",
        "date": f"{rl['week_end']:%Y年%m月%d日}",
        "town": rl["town"],
    }
