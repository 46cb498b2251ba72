"""The intake page (事件受理): its form checks at callback level on the tiny jurisdiction,
the work queue's filters, photos and batch import (the whole closed loop in the browser is
tests/browser/test_intake.py)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
import shapely

from geo import crs, db
from geo import pgserver as cluster
from geo.incidents import intake, lifecycle
from geo.incidents import media as intake_media
from geo.risk import tiers as risk
from geo.worktime import CST

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
INSIDE = (106.655, 35.54)  # urban community 620802001001, grid ...001001001
OUTSIDE = (106.80, 35.54)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.fixture
def page(conn, categories, tiny_jurisdiction, add_grids, monkeypatch, tmp_path):
    """The page module with the app's pool on the test database and uploads in tmp_path."""
    risk.ensure_config(conn)
    add_grids([("620802001001001", "新民社区第1网格", "urban", shapely.box(106.65, 35.53, 106.66, 35.55))])
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    monkeypatch.setattr(intake_media, "ROOT", tmp_path / "uploads")
    import app  # noqa: F401  (pages register themselves once the Dash app exists)
    from geo.web.pages import intake as intake_page

    return intake_page


def count(conn) -> int:
    conn.rollback()
    return db.scalar(conn, "SELECT count(*) FROM incident")


def save_all(page, lon=INSIDE[0], lat=INSIDE[1], system="wgs84", minor="0103", photo=None, name=None, merge=0):
    """Every output of the save callback."""
    return page.save(1, lon, lat, system, minor, "楼上漏水", "新民路 1 号", 2, 3, 1, 0, photo, name, merge, 0)


def save(page, **kwargs):
    """The message, the result and the version the save callback answers."""
    return save_all(page, **kwargs)[:3]


def error_text(component) -> str:
    return component.children if hasattr(component, "children") else str(component)


# --------------------------------------------------------------------------- form checks (callback level)


def test_missing_category_is_refused_and_nothing_written(page, conn):
    msg, result, version = save(page, minor=None)
    assert "请选择事件类别" in error_text(msg) and result is None
    assert count(conn) == 0


def test_location_outside_the_jurisdiction_is_refused_and_nothing_written(page, conn):
    msg, result, _ = save(page, lon=OUTSIDE[0], lat=OUTSIDE[1])
    assert "不在崆峒区辖区内" in error_text(msg) and result is None
    assert count(conn) == 0


def test_missing_location_is_refused(page, conn):
    msg, _, _ = save(page, lon=None, lat=None)
    assert "请在地图上点选位置" in error_text(msg)
    assert count(conn) == 0


def test_photo_checked_by_content_not_name(page, conn, tmp_path):
    fake = data_url("image/png", b"<svg onload=alert(1)></svg>")
    msg, result, _ = save(page, photo=fake, name="evil.png")
    assert "只接受 JPEG/PNG" in error_text(msg) and result is None
    assert count(conn) == 0 and not (tmp_path / "uploads").exists()


def test_photo_too_large_is_refused(page, conn):
    big = data_url("image/jpeg", JPEG + b"\x00" * intake_media.MAX_BYTES)
    msg, _, _ = save(page, photo=big, name="big.jpg")
    assert "超过 5 MB" in error_text(msg)
    assert count(conn) == 0


def test_save_routes_stores_photo_and_records_history(page, conn, tmp_path):
    msg, result, version = save(page, photo=data_url("image/png", PNG), name="现场.PNG")
    assert msg == "" and version == 1
    row = db.one(conn, "SELECT * FROM incident")
    assert (row["source"], row["grid_code"], row["admin_code"], row["status"]) == (
        "operator",
        "620802001001001",
        "620802001001",
        "received",
    )
    assert (row["people_involved"], row["duration_days"], row["conflict_intensity"], row["address"]) == (2, 3, 1, "新民路 1 号")
    assert row["risk_tier"] in ("high", "medium", "low") and row["risk_reasons"]
    assert row["deadline"] is not None
    prefix = f"http://localhost/uploads/{row['id']}/"
    assert row["media_url"].startswith(prefix) and row["media_url"].endswith(".png")
    stored = tmp_path / "uploads" / str(row["id"]) / row["media_url"][len(prefix) :]
    assert stored.read_bytes() == PNG
    assert [(h["to_status"], h["actor"]) for h in lifecycle.history(conn, row["id"])] == [("received", "operator")]
    assert "已受理事件" in str(result) and "社区（村）委会" in str(result)


def test_save_confirms_in_the_viewport_and_empties_the_form(page, conn):
    out = save_all(page)
    toast, fields, photo = out[3], out[4:-1], out[-1]
    row = db.one(conn, "SELECT id FROM incident")
    assert f"已受理事件 #{row['id']}" in str(toast) and toast.id == "in-toast-saved"
    assert list(fields) == [empty for _, empty in page.FORM_FIELDS] and photo is None
    assert dict(page.FORM_FIELDS)["in-description"] == "" and dict(page.FORM_FIELDS)["in-lon"] is None
    refused = save_all(page, minor=None)  # refused: the reason in the viewport, the form kept
    assert "in-toast-error" in str(refused[3]) and all(v is page.no_update for v in refused[4:])


def test_the_first_history_row_names_the_source_in_words(page, conn):
    """The "received" row's note reads 来源 中心录入 as the detail does, not the code 'operator'
    (found on the operator's day: the history said 来源 operator under a Chinese detail)."""
    save(page)
    note = lifecycle.history(conn, db.scalar(conn, "SELECT max(id) FROM incident"))[0]["note"]
    assert note.startswith("来源 中心录入；责任单位 ") and "operator" not in note


def test_dispatch_offers_the_department_and_the_grids_people(page, conn):
    save(page)
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO grid_staff (grid_code, role, name, phone, admin_code)
               VALUES ('620802001001001', 'fulltime', '赵强', '13700002222', '620802001001')"""
        )
    row = intake.incident(conn, db.scalar(conn, "SELECT max(id) FROM incident"))
    assert page.assignees(conn, row) == [row["department"], "专职 赵强"]


def test_the_assignee_has_its_own_column_shown_in_the_queue_and_the_history(page, conn):
    """Whom a dispatch sent the case to is kept on the case (incident.assigned_to) and on the
    history row of that dispatch, and shown under 派遣给 in the queue, the detail and the
    history; the operator's note stays the note. (It was prose in the note only.)"""
    save(page)
    iid = db.scalar(conn, "SELECT max(id) FROM incident")
    lifecycle.transition(conn, iid, "registered", "op")
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.transition(conn, iid, "escalated", "op", assignee="专职 赵强")  # only a dispatch has one
    lifecycle.transition(conn, iid, "dispatched", "op", note="尽快", assignee="专职 赵强")
    assert db.scalar(conn, "SELECT assigned_to FROM incident WHERE id = %s", (iid,)) == "专职 赵强"
    rows = lifecycle.history(conn, iid)
    assert [(h["to_status"], h["assigned_to"], h["note"]) for h in rows][-1] == ("dispatched", "专职 赵强", "尽快")
    queue = page.queue_records(intake.queue(conn))
    assert ("assigned_to", "intake.col.assigned_to") in page.QUEUE_COLUMNS
    assert [r["assigned_to"] for r in queue if r["id"] == iid] == ["专职 赵强"]
    table = str(page.history_table(rows))
    assert "派遣给" in table and "专职 赵强" in table and "in-h-assignee" in table
    assert "专职 赵强" in str(page.detail_view(intake.incident(conn, iid), rows, []))
    # returned and sent again: the case names the new assignee, the history both
    lifecycle.transition(conn, iid, "returned", "gw")
    lifecycle.transition(conn, iid, "dispatched", "op", assignee="网格长 王建国")
    assert intake.incident(conn, iid)["assigned_to"] == "网格长 王建国"
    assert [h["assigned_to"] for h in lifecycle.history(conn, iid) if h["to_status"] == "dispatched"] == [
        "专职 赵强",
        "网格长 王建国",
    ]


def test_gcj02_coordinates_are_converted(page, conn):
    lon, lat = crs.wgs84_to_gcj02(*INSIDE)
    msg, _, _ = save(page, lon=str(lon), lat=str(lat), system="gcj02")
    assert msg == ""
    x, y = db.one(conn, "SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM incident").values()
    assert abs(x - INSIDE[0]) < 1e-6 and abs(y - INSIDE[1]) < 1e-6


def test_duplicate_is_suggested_and_merged(page, conn):
    save(page)
    preview, options, _, point = page.preview(INSIDE[0] + 0.0001, INSIDE[1], "wgs84", "0103")
    assert [o["value"] for o in options] == [0, 1] and point["lon"] == pytest.approx(INSIDE[0] + 0.0001)
    assert "新民社区第1网格" in str(preview)
    msg, _, _ = save(page, lon=INSIDE[0] + 0.0001, merge=1)
    assert msg == ""
    assert db.one(conn, "SELECT status, merged_into FROM incident WHERE id = 2") == {"status": "cancelled", "merged_into": 1}


def test_preview_outside_shows_the_error(page):
    preview, options, _, point = page.preview(OUTSIDE[0], OUTSIDE[1], "wgs84", None)
    assert "不在崆峒区辖区内" in str(preview) and point is None


def test_uploaded_file_lookup_only_serves_our_names(tmp_path):
    name = intake_media.store(7, intake_media.Photo(JPEG, "jpg"), root=tmp_path)
    assert intake_media.stored_file("7", name, root=tmp_path) == (tmp_path / "7" / name, "image/jpeg")
    for bad in (("7", "../secret.jpg"), ("7", "x.svg"), ("..", name), ("8", name)):
        assert intake_media.stored_file(*bad, root=tmp_path) is None


# --------------------------------------------------------------------------- queue, import, supervision


def test_queue_filters_by_status_town_and_due(page, conn):
    for _ in range(3):
        save(page)
    lifecycle.transition(conn, 2, "registered", "operator")
    now = datetime.now(CST)
    assert [r["id"] for r in intake.queue(conn)] == [3, 2, 1]
    assert [r["id"] for r in intake.queue(conn, statuses=["registered"])] == [2]
    assert [r["id"] for r in intake.queue(conn, town="620802001", sort=[{"column_id": "id", "direction": "asc"}])] == [1, 2, 3]
    assert intake.queue(conn, town="620802002") == []
    assert intake.queue(conn, due="overdue", now=now) == []
    late = intake.queue(conn, due="overdue", now=now + timedelta(days=30))
    assert [r["id"] for r in late] == [3, 2, 1] and all(r["overdue"] for r in late)
    assert intake.queue_count(conn) == 3 and intake.queue_count(conn, statuses=["registered"]) == 1
    assert [r["id"] for r in intake.queue(conn, limit=2, offset=2)] == [1]


def test_every_case_of_a_long_queue_is_reachable_page_by_page(page, conn):
    """The queue used to stop at 200 cases; now it is read a page at a time and says how many."""
    from tests.support.drill import add_incidents

    total = page.QUEUE_PAGE * 2 + 5
    add_incidents(conn, [INSIDE] * total, status="received")
    assert intake.queue_count(conn) == total
    seen = [r["id"] for k in range(3) for r in intake.queue(conn, limit=page.QUEUE_PAGE, offset=k * page.QUEUE_PAGE)]
    assert sorted(seen) == sorted(db.scalar(conn, "SELECT array_agg(id) FROM incident"))
    assert page.queue_count_text(total, 2) == f"共 {total} 件 · 第 3/3 页（可点列头排序）"


def test_batch_import_reports_problems_and_writes_nothing(page, conn):
    bad = "类别,上报时间,经度,纬度\n0103,2026-05-01 09:00,106.655,35.54\n9999,2026-05-01 10:00,106.655,35.54\n"
    text, version = page.import_upload(data_url("text/csv", bad.encode()), "事件.csv", 0)
    assert text.startswith("事件.csv: 1 problem; nothing was imported"), text
    assert "row 2 (line 3): 类别='9999': unknown incident category" in text and version is page.no_update
    assert count(conn) == 0
    good = bad.splitlines()[0] + "\n" + bad.splitlines()[1] + "\n"
    text, version = page.import_upload(data_url("text/csv", good.encode()), "事件.csv", 0)
    assert "导入完成 batch" in text and "1 incidents" in text and version == 1
    assert count(conn) == 1


def test_send_reminders_records_them(page, conn):
    save(page)
    db.execute(conn, "UPDATE incident SET deadline = now() - interval '1 hour'")
    conn.commit()
    msg, body = page.send(1)
    assert msg == "新记录督办提醒 1 条（每件每天至多一条）"
    assert "东关街道" in str(body)
    assert page.send(2)[0].startswith("新记录督办提醒 0 条")


def test_a_save_refused_by_its_merge_writes_nothing(page, conn):
    """A merge into an incident this account cannot see (or that is cancelled) refuses the
    save before the report is written: the operator, told so, saves again, and a first copy
    left behind would be a duplicate nobody merged."""
    save(page)
    lifecycle.transition(conn, 1, "cancelled", "operator", note="test")
    msg, _, _ = save(page, lon=INSIDE[0] + 0.0001, merge=1)
    assert "已撤销" in error_text(msg)
    msg, _, _ = save(page, lon=INSIDE[0] + 0.0001, merge=99)  # no such incident (or not this account's)
    assert "不存在" in error_text(msg)
    assert count(conn) == 1
