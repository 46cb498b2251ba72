"""A CSV's cells checked by column (geo.io.importer._parse_columns, each distinct value once),
as the history load of millions of rows needs, against the cell-by-cell loop every other
format uses (_parse_cells): the same records and the same problems, word for word, for the
mistakes clerks make (a blank required cell, 2025-13-01, an unknown category, a number that
is not one, a bad value repeated over many rows), and bad coordinates alongside. The import
with --history reports exactly what the normal import reports, and writes nothing."""

from __future__ import annotations

import csv

import pytest

from geo import db
from geo.io import importer

HEADER = ["工单编号", "经度", "纬度", "事件类别", "上报时间", "涉事人数", "冲突程度", "状态"]


def _ledger(path, categories) -> None:
    minor = sorted(categories)
    rows = []
    for i in range(60):
        rows.append(
            [
                f"F{i:04d}",
                "106.655",
                "35.54",
                minor[i % 5],
                f"2025-03-{1 + i % 28:02d} 09:{i % 60:02d}",
                str(1 + i % 4),
                "一般",
                "结案",
            ]
        )
    rows[3][4] = "2025-13-01"  # no such month
    rows[4][3] = "噪音扰民了"  # an unknown category, with a suggestion
    rows[5][3] = ""  # blank required cell
    rows[6][5] = "三"  # not a whole number
    rows[7][1] = rows[7][2] = ""  # no coordinates
    rows[8][1] = "abc"  # coordinates that are not numbers
    rows[9][1], rows[9][2] = "116.40", "39.90"  # elsewhere in China: found in SQL (outside the jurisdiction)
    rows[10][1], rows[10][2] = "35.54", "106.655"  # lon and lat swapped: read the right way round, said
    for i in range(20, 28):  # one bad value in eight rows: listed once, five rows named
        rows[i][6] = "很激烈"
    rows[30][4] = "2025/2/30 10:00"  # no such day
    rows[31][0] = rows[32][0]  # a repeated 工单编号
    rows[33] = [" "] * len(HEADER)  # a blank line is skipped, not a row
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _prepared(conn, path, by_column: bool, monkeypatch):
    with monkeypatch.context() as m:
        if not by_column:
            m.setattr(importer, "_parse_columns", importer._parse_cells)
        prep = importer.prepare(conn, "incidents", path)
    conn.rollback()
    return prep


def test_columns_check_like_cells(conn, categories, tmp_path, monkeypatch):
    path = tmp_path / "台账.csv"
    _ledger(path, categories)
    fast = _prepared(conn, path, True, monkeypatch)
    slow = _prepared(conn, path, False, monkeypatch)
    assert fast.problems.lines() == slow.problems.lines()
    assert fast.problems.by_row == slow.problems.by_row
    assert fast.problems.as_dict() == slow.problems.as_dict()
    assert fast.records == slow.records
    lines = "\n".join(fast.problems.lines())
    for expected in (
        "上报时间='2025-13-01': not a valid date (month must be in 1..12)",
        "事件类别='噪音扰民了': unknown incident category",
        "事件类别 is empty (category is required)",
        "涉事人数='三': not a whole number",
        "冲突程度='很激烈' in 8 rows (row 21 (line 22), row 22 (line 23), row 23 (line 24), row 24 (line 25), row 25 (line 26) … and 3 more): unknown value",
        "上报时间='2025/2/30 10:00': not a valid date",
        "no coordinates",
        "coordinates are not numbers",
        "row 33 (line 34): external_id F0032 repeats row 32 (line 33)",
    ):
        assert expected in lines, expected
    assert "swapped" not in lines and any("经度 and 纬度 swapped in 1 row(s)" in n for n in fast.source.notes)
    # a value that did not parse leaves its field out of the row's record, in both
    assert "reported_at" not in fast.records[3] and "category" not in fast.records[4]


def test_history_import_reports_what_the_normal_import_reports(conn, categories, tmp_path):
    from tests.test_history_load import _world

    _world(conn)
    path = tmp_path / "台账.csv"
    _ledger(path, categories)
    messages = []
    for history in (False, True):
        with pytest.raises(importer.ImportFailed) as err:
            importer.import_file(conn, "incidents", path, history=history)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "is outside" in messages[0] and "2025-13-01" in messages[0]
    assert db.scalar(conn, "SELECT count(*) FROM incident") == 0
    conn.rollback()


def test_text_that_copy_must_escape_is_stored_as_written(gridded, categories, tmp_path):
    """The stage is filled with COPY's text format: a cell holding \\N, a backslash, a tab or
    a line break is stored as written (never NULL, never cut)."""
    texts = ["\\N", "C:\\台账\\2025", "甲\t乙", "第一行\n第二行", "回车\r在此", "普通"]
    path = tmp_path / "转义.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["工单编号", "经度", "纬度", "事件类别", "上报时间", "描述", "事发地址"])
        for i, text in enumerate(texts):
            writer.writerow([f"T{i}", "106.655", "35.535", sorted(categories)[0], "2025-03-05 09:00", text, f"{text}号"])
    importer.import_file(gridded, "incidents", path)
    stored = db.rows(gridded, "SELECT external_id, description, address FROM incident ORDER BY external_id")
    assert [(r["description"], r["address"]) for r in stored] == [(t.strip(), f"{t}号".strip()) for t in texts]
    gridded.rollback()
