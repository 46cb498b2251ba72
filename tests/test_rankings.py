"""季通报 rankings: order, ties ("1224"), last places, departments, the Excel export, the CLI."""

from __future__ import annotations

import json
from datetime import date, datetime

import openpyxl
import pytest

from geo import db
from geo import pgserver as cluster
from geo.analysis import rankings
from geo.cli import main
from geo.worktime import CST
from tests.support.drill import add_incidents

TOWNS = {  # code -> (name, lon) : three towns side by side, each with one community
    "620802001": ("东关街道", 106.651),
    "620802002": ("中街街道", 106.661),
    "620802003": ("西郊街道", 106.671),
}


def test_competition_rank_is_1224():
    assert rankings.competition_rank([10, 7, 7, 3]) == [1, 2, 2, 4]
    assert rankings.competition_rank([0.5, None, 0.9]) == [2, None, 1]
    assert rankings.competition_rank([1, 1, 2], descending=False) == [1, 1, 3]


def test_last_places_flag_every_member_of_a_tie():
    assert rankings.last_places([10, 7, 7, 3], last_n=2) == [False, True, True, True]
    assert rankings.last_places([10, 7, 5, 3], last_n=1) == [False, False, False, True]
    assert rankings.last_places([0.99, 0.95, None], last_n=1, below=0.98) == [False, True, False]


def test_windows():
    assert rankings.quarter_window("2026Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert rankings.quarter_window("2026q1") == (date(2026, 1, 1), date(2026, 3, 31))
    assert rankings.month_window("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for bad in ("2026Q5", "Q3", "", None):
        with pytest.raises(ValueError):
            rankings.quarter_window(bad)
    with pytest.raises(ValueError):
        rankings.month_window("2026-13")


@pytest.fixture
def three_towns(clean_db, categories):
    conn = clean_db
    with db.transaction(conn) as cur:
        cur.execute("INSERT INTO admin_unit (code, level, name) VALUES ('620802', 'district', '崆峒区')")
        for code, (name, lon) in TOWNS.items():
            cur.execute("INSERT INTO admin_unit (code, level, name, parent_code) VALUES (%s, 'town', %s, '620802')", (code, name))
            cur.execute(
                """INSERT INTO admin_unit (code, level, name, parent_code, geom)
                           VALUES (%s, 'community', %s, %s, ST_Multi(ST_MakeEnvelope(%s, 35.53, %s, 35.55, 4326)))""",
                (code + "001", name + "社区", code, lon - 0.001, lon + 0.009),
            )
    july = datetime(2026, 7, 20, 9, tzinfo=CST)
    # 东关: 4 disputes, 3 resolved (75 %); 中街: 4 disputes, 3 resolved (75 %), 1 other incident; 西郊: 1 dispute, resolved
    add_incidents(conn, [(106.652, 35.54)] * 3, reported_at=july)
    add_incidents(conn, [(106.652, 35.54)], status="in_progress", reported_at=july)
    add_incidents(conn, [(106.662, 35.54)] * 3, reported_at=july)
    add_incidents(conn, [(106.662, 35.54)], status="escalated", reported_at=july)
    add_incidents(conn, [(106.662, 35.54)], minor_code="0701", reported_at=july)
    add_incidents(conn, [(106.672, 35.54)], reported_at=july)
    add_incidents(conn, [(106.672, 35.54)] * 5, reported_at=datetime(2026, 10, 2, 9, tzinfo=CST))  # next quarter
    return conn


def test_quarterly_ranking_of_towns(three_towns):
    report = rankings.quarterly(three_towns, "2026Q3", last_n=1, min_sample=1)
    rows = [
        (r["name"], r["found"], r["rank_found"], r["resolution_rate"], r["rank_rate"], r["last_found"], r["last_rate"])
        for r in report["towns"]
    ]
    assert rows == [
        ("中街街道", 5, 1, 0.75, 2, False, True),
        ("东关街道", 4, 2, 0.75, 2, False, True),
        ("西郊街道", 1, 3, 1.0, 1, True, False),
    ]


def test_too_few_disputes_give_no_rate_and_quiet_units_no_place(three_towns):
    report = rankings.quarterly(three_towns, "2026Q3")  # the default minimum sample: 10 disputes
    assert [(r["name"], r["resolution_rate"], r["rank_rate"], r["last_rate"]) for r in report["towns"]] == [
        ("中街街道", None, None, False),
        ("东关街道", None, None, False),
        ("西郊街道", None, None, False),
    ]
    # departments no case went to are not ranked last: they are not listed at all
    assert all(r["found"] > 0 for r in report["departments"])
    assert len(report["departments"]) < db.scalar(three_towns, "SELECT count(DISTINCT department) FROM category")
    # a town with no case in the quarter is not ranked either
    q4 = rankings.quarterly(three_towns, "2026Q4")
    assert [r["name"] for r in q4["towns"]] == ["西郊街道"]


def test_month_on_month_compares_equal_spans(three_towns):
    now = datetime(2026, 8, 6, 12, tzinfo=CST)  # six days of August against six days of July
    add_incidents(three_towns, [(106.652, 35.54)] * 2, reported_at=datetime(2026, 8, 3, 9, tzinfo=CST))
    add_incidents(three_towns, [(106.652, 35.54)] * 4, reported_at=datetime(2026, 7, 5, 9, tzinfo=CST))
    month = rankings.monthly(three_towns, "2026-08", now=now)
    assert (month["start"], month["end"]) == (date(2026, 8, 1), date(2026, 8, 6))
    assert (month["previous_start"], month["previous_end"]) == (date(2026, 7, 1), date(2026, 7, 6))
    assert (month["found"], month["previous_found"]) == (2, 4)  # not the whole of July's 14
    assert month["change_found"] == pytest.approx(-0.5)


def test_departments_ranked_too(three_towns):
    report = rankings.quarterly(three_towns, "2026Q3", min_sample=1)
    by_name = {r["name"]: r for r in report["departments"]}
    neighbour = db.scalar(three_towns, "SELECT department FROM category WHERE minor_code = '0103'")
    assert by_name[neighbour]["found"] == 9 and by_name[neighbour]["rank_found"] == 1
    assert by_name[neighbour]["resolution_rate"] == pytest.approx(7 / 9)
    assert sum(r["found"] for r in report["departments"]) == 10


def test_monthly_summary(three_towns):
    month = rankings.monthly(three_towns, "2026-07", now=datetime(2026, 12, 6, tzinfo=CST))
    assert (month["found"], month["disputes"], month["open"], month["escalated"], month["previous_found"]) == (10, 9, 2, 1, 0)
    assert month["change_found"] is None
    assert month["top_categories"][0]["found"] == 9


def test_excel_and_cli(three_towns, tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.xlsx"
    rankings.to_excel(path, rankings.quarterly(three_towns, "2026Q3"), rankings.monthly(three_towns, "2026-07"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["2026Q3乡镇街道", "2026Q3部门", "2026-07月调度", "2026-07超期"]
    sheet = book["2026Q3乡镇街道"]
    assert [c.value for c in sheet[1]][:4] == ["排查量名次", "化解率名次", "代码", "名称"]
    assert sheet["D2"].value == "中街街道"
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))  # the CLI reads what the test wrote
    assert main(["rankings", "--quarter", "2026Q3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["towns"][0]["name"] == "中街街道" and out["month"] is None
