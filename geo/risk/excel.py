"""The weekly risk outputs as Excel workbooks (openpyxl), for those who file them.

Layout only: the rows come from geo.risk.reports. Every sheet starts with a title row and
a header row of Chinese column names, so a clerk can sort and filter straight away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from geo import labels
from geo.io.cells import safe, safe_row
from geo.risk import reports as risk_reports

_TITLE_FONT = {"bold": True, "size": 14}


def _sheet(book, title: str, heading: str, columns: Sequence[str], rows: Iterable[dict]):
    """A sheet: heading row, header row, one row per record (header frozen, filter on)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    ws.append([safe(heading)])
    ws["A1"].font = Font(**_TITLE_FONT)
    ws.append(safe_row(columns))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    n = 0
    for n, row in enumerate(rows, 1):
        ws.append(safe_row(row.get(c, "") for c in columns))
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{n + 2}"
    for k, c in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(k)].width = max(8, min(40, len(c) * 2 + 4))
    return ws


def _book():
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    return book


def write_ledger(conn, tier: str, path: str | Path, town_code: str | None = None, days: int = 365) -> int:
    """工作台账 of one tier to an .xlsx file; returns the number of records."""
    rows = risk_reports.ledger(conn, tier, town_code, days)
    book = _book()
    _sheet(
        book, labels.t("tier." + tier) + "台账", f"矛盾纠纷{labels.t('tier.' + tier)}工作台账", risk_reports.LEDGER_COLUMNS, rows
    )
    book.save(path)
    return len(rows)


def write_risk_list(conn, town_code: str, path: str | Path, week_end=None) -> dict:
    """风险隐患问题清单 of a town: sheet 问题清单 (incidents) and sheet 风险网格 (grids)."""
    rl = risk_reports.risk_list(conn, town_code, week_end)
    book = _book()
    period = f"{rl['week_start']:%Y-%m-%d} 至 {rl['week_end']:%Y-%m-%d}"
    _sheet(book, "问题清单", f"{rl['town']['name']}风险隐患问题清单（{period}）", risk_reports.RISK_LIST_COLUMNS, rl["items"])
    _sheet(book, "风险网格", f"{rl['town']['name']}高、中风险网格（{period}）", risk_reports.GRID_LIST_COLUMNS, rl["grids"])
    book.save(path)
    return {"items": len(rl["items"]), "grids": len(rl["grids"])}


def write_notice(conn, town_code: str, path: str | Path, week_end=None) -> dict:
    """风险提示函 of a town: the letter on top, then its high-risk items and grids."""
    from openpyxl.styles import Alignment, Font

    nt = risk_reports.notice(conn, town_code, week_end)
    book = _book()
    ws = _sheet(book, "风险提示函", "风险提示函", risk_reports.RISK_LIST_COLUMNS, nt["items"])
    letter = [nt["number"], f"{nt['to']}：", nt["body"], "附：高风险事项清单"]
    ws.insert_rows(2, len(letter) + 1)
    for k, text in enumerate(letter, 2):
        ws.cell(row=k, column=1, value=safe(text))
        ws.merge_cells(start_row=k, start_column=1, end_row=k, end_column=len(risk_reports.RISK_LIST_COLUMNS))
        ws.cell(row=k, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[4].height = 90
    ws.freeze_panes = None
    ws.auto_filter.ref = None
    start = ws.max_row + 2
    ws.cell(row=start, column=1, value="高风险网格").font = Font(bold=True)
    ws.append(list(risk_reports.GRID_LIST_COLUMNS))
    for g in nt["grids"]:
        ws.append(safe_row(g[c] for c in risk_reports.GRID_LIST_COLUMNS))
    ws.append([])
    ws.append([safe(nt["sender"])])
    ws.append([safe(nt["date"])])
    book.save(path)
    return {"items": len(nt["items"]), "grids": len(nt["grids"])}
