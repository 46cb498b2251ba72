"""Weekly risk outputs: ledger, list of risks and notice have the expected columns and rows,
in Excel, as printable pages and through the CLI."""

from __future__ import annotations

from datetime import timedelta

import openpyxl
import pytest

from geo import cli, db
from geo import pgserver as cluster
from geo.risk import excel as risk_excel
from geo.risk import printable as risk_html
from geo.risk import reports as risk_reports
from tests.support.risk import BOX_B, GRID_A, GRID_B, NOW, add_incident

TOWN = "620802001"


@pytest.fixture
def incidents(world):
    """A high open incident in A, a high one closed last year... and a medium and a low one."""
    ids = {
        "high_open": add_incident(world, GRID_A, people=35, duration=40, intensity=2, reported_at=NOW - timedelta(days=2)),
        "medium": add_incident(world, GRID_B, people=5, duration=7, intensity=1),  # 10+4+5+7 = 26
        "low": add_incident(world, GRID_B, people=1),
        "high_old": add_incident(
            world, GRID_B, people=35, duration=40, intensity=2, status="closed", reported_at=NOW - timedelta(days=500)
        ),
    }
    db.execute(
        world,
        "UPDATE incident SET reporter_name = '张三丰', closed_at = reported_at + interval '10 days' WHERE id = %s",
        (ids["high_old"],),
    )
    world.commit()
    return ids


def sheet_rows(path, sheet=None) -> tuple[list, list[list]]:
    """(header, rows) of a sheet: the header is the row starting with 序号."""
    book = openpyxl.load_workbook(path)
    ws = book[sheet] if sheet else book.worksheets[0]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    start = next(k for k, r in enumerate(values) if r[0] == "序号")
    body = []
    for r in values[start + 1 :]:
        if not isinstance(r[0], int):
            break
        body.append(r)
    return values[start], body


def test_ledger_has_the_dispute_record_fields_and_one_row_per_incident(incidents, world, tmp_path):
    path = tmp_path / "high.xlsx"
    assert risk_excel.write_ledger(world, "high", path, days=3650) == 2
    header, rows = sheet_rows(path)
    assert tuple(header) == risk_reports.LEDGER_COLUMNS
    rec = [dict(zip(header, r)) for r in rows]
    assert [r["事件编号"] for r in rec] == [incidents["high_old"], incidents["high_open"]]  # same score: oldest first
    old = rec[0]
    assert (old["规模"], old["涉及人数"], old["是否成功"], old["处理状态"]) == ("较大群体", 35, "是", "已结案")
    assert old["主要当事人"] == "张**"  # masked
    assert old["化解组织"] == "司法所" and old["风险等级"] == "高风险"
    assert old["风险原因"].startswith("涉事 35 人（+20）；持续 40 天（+8）")
    assert (old["经度"], old["纬度"]) == (pytest.approx(BOX_B.centroid.x), pytest.approx(BOX_B.centroid.y))


def test_ledger_of_the_last_year_keeps_unresolved_and_drops_old_closed(incidents, world):
    rows = risk_reports.ledger(world, "high", days=365)
    assert [r["事件编号"] for r in rows] == [incidents["high_open"]]
    assert [r["事件编号"] for r in risk_reports.ledger(world, "low")] == [incidents["low"]]
    with pytest.raises(ValueError, match="high/medium/low"):
        risk_reports.ledger(world, "red")


def test_risk_list_has_high_and_medium_items_and_grids(incidents, world, tmp_path):
    path = tmp_path / "list.xlsx"
    assert risk_excel.write_risk_list(world, TOWN, path) == {"items": 2, "grids": 1}
    header, rows = sheet_rows(path, "问题清单")
    assert tuple(header) == risk_reports.RISK_LIST_COLUMNS
    rec = [dict(zip(header, r)) for r in rows]
    assert [(r["风险等级"], r["重点清单"], r["已持续天数"]) for r in rec] == [
        ("高风险", "是", 2),
        ("中风险", None, 0),
    ]  # empty cells read as None
    gheader, grows = sheet_rows(path, "风险网格")
    assert tuple(gheader) == risk_reports.GRID_LIST_COLUMNS
    assert [(g[1], g[4]) for g in grows] == [(GRID_A, "中风险")]


def test_notice_is_addressed_to_the_town_and_lists_high_items(incidents, world, tmp_path):
    nt = risk_reports.notice(world, TOWN)
    assert nt["to"].startswith("东关街道") and nt["sender"] == "崆峒区综治中心"
    assert "高风险矛盾纠纷和隐患 1 件（其中未化解 1 件）" in nt["body"]
    path = tmp_path / "notice.xlsx"
    assert risk_excel.write_notice(world, TOWN, path) == {"items": 1, "grids": 0}
    header, rows = sheet_rows(path)
    assert tuple(header) == risk_reports.RISK_LIST_COLUMNS and len(rows) == 1
    cells = [c for r in openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True) for c in r if c]
    assert nt["number"] in cells and "崆峒区综治中心" in cells


def test_unknown_town_is_refused(world):
    with pytest.raises(ValueError, match="620802999"):
        risk_reports.risk_list(world, "620802999")


def test_printable_pages_escape_and_show_the_items(incidents, world):
    db.execute(world, "UPDATE incident SET description = '<script>x</script>' WHERE id = %s", (incidents["high_open"],))
    world.commit()
    page = risk_html.notice_page(world, TOWN)
    assert "风险提示函" in page and "&lt;script&gt;" in page and "<script>x" not in page
    assert "@page" in risk_html.risk_list_page(world, TOWN)


@pytest.mark.skipif(risk_html.pdf_tool() is None, reason="no chromium")
def test_notice_prints_to_pdf(incidents, world, tmp_path):
    path = risk_html.to_pdf(risk_html.notice_page(world, TOWN), tmp_path / "n.pdf")
    assert path.read_bytes()[:5] == b"%PDF-"


def test_cli_prints_tiers_and_writes_files(incidents, world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    assert cli.main(["risk", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"medium": 1' in out and GRID_A in out
    assert cli.main(["risk", "keylist"]) == 0
    assert "重点清单 key list: 1 件" in capsys.readouterr().out
    assert cli.main(["risk", "grid", GRID_A]) == 0
    assert "重点清单" in capsys.readouterr().out
    assert cli.main(["risk", "ledger", "--tier", "high", str(tmp_path / "l.xlsx")]) == 0
    assert cli.main(["risk", "notice", "--town", TOWN, str(tmp_path / "n.xlsx")]) == 0
    assert cli.main(["risk", "list", "--town", TOWN, str(tmp_path / "l.html")]) == 0
    assert (tmp_path / "l.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert cli.main(["risk", "notice", "--town", "620802999", str(tmp_path / "x.xlsx")]) == 1
    assert cli.main(["risk", "recompute"]) == 0


def test_report_routes_serve_page_excel_and_404(incidents, monkeypatch):
    import flask

    from geo.web.api import reports

    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    app = flask.Flask(__name__)
    app.register_blueprint(reports.bp)
    client = app.test_client()
    page = client.get(f"/reports/notice/{TOWN}")
    assert page.status_code == 200 and "风险提示函" in page.get_data(as_text=True)
    xlsx = client.get(f"/reports/risk-list/{TOWN}?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/reports/notice/620802999").status_code == 404
    assert client.get(f"/reports/notice/{TOWN}?week_end=yesterday").status_code == 400
    assert client.get(f"/reports/other/{TOWN}").status_code == 404
