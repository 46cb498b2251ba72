"""The alarm list as an Excel workbook (预警台账), for the weekly analysis and for leaders who
read spreadsheets: one row per alarm with its rule, level, place, reasons, linked incidents
and who acknowledged, handled and closed it when. Every text goes through geo.io.cells
(a close note or an imported place name starting with = would otherwise run as a formula)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from geo.io.cells import safe_row
from geo.labels import t
from geo.worktime import CST

HEADERS = (
    ("id", "编号", 8),
    ("level", "级别", 8),
    ("rule", "规则", 16),
    ("title", "预警", 40),
    ("where", "地点", 30),
    ("reasons", "依据", 60),
    ("incidents", "关联事件", 20),
    ("status", "状态", 10),
    ("raised_at", "触发时间", 17),
    ("acked", "签收", 26),
    ("handled", "处置", 26),
    ("closed", "关闭", 26),
    ("close_note", "关闭说明", 30),
)
FILLS = {1: "E8412C", 2: "FF8C1A", 3: "F5D02E", 4: "3F8EF5"}


def _when(ts) -> str:
    return ts.astimezone(CST).strftime("%Y-%m-%d %H:%M") if ts else ""


def _who(name, ts) -> str:
    return f"{name} {_when(ts)}" if name else ""


def row_values(a: dict) -> dict:
    return {
        "id": a["id"],
        "level": a["level_name"],
        "rule": t(f"alert.rule.{a['rule']}"),
        "title": a["title"],
        "where": " ".join(x for x in (a.get("town"), a.get("community"), a.get("grid_name")) if x),
        "reasons": "；".join(a["reasons"]),
        "incidents": "、".join(f"#{i}" for i in a.get("incident_ids") or []),
        "status": t(f"alert.status.{a['status']}"),
        "raised_at": _when(a["raised_at"]),
        "acked": _who(a["acked_by"], a["acked_at"]),
        "handled": _who(a["handled_by"], a["handled_at"]),
        "closed": _who(a["closed_by"], a["closed_at"]),
        "close_note": a.get("close_note") or "",
    }


def workbook_bytes(alarms: list[dict]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "预警台账"
    ws.append([h for _, h, _ in HEADERS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, (_, _, width) in enumerate(HEADERS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = width
    for a in alarms:
        values = row_values(a)
        ws.append(safe_row(values[k] for k, _, _ in HEADERS))
        ws.cell(row=ws.max_row, column=2).fill = PatternFill("solid", fgColor=FILLS[a["level"]])
        ws.cell(row=ws.max_row, column=6).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
