"""Uploads attacked through the running app's callbacks (the second attack on the app, after
issue #18): file names that leave the upload's folder, and workbooks that unpack to
gigabytes. Each test sends what a script would send to /_dash-update-component, signed in
through the real form, against the demo on PostGIS."""

from __future__ import annotations

import base64
import json
import time
import zipfile

import pytest

from geo import db
from geo.io import upload_check
from tests.support.webapp import signed_in_client


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def callback(client, output: str, inputs: list, state: list | None = None):
    """POST one Dash callback: `output` as Dash names it (or the start of that name: outputs
    with allow_duplicate carry a hash), inputs and state as (id, property, value)."""
    import dash

    output = next(k for k in dash.get_app().callback_map if k.startswith(output.rstrip(".")))
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1))) for o in output.strip(".").split("...")]
    body = {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": client.csrf})


UPLOAD = "..imp-file.data...imp-upload-msg.children.."
INSPECT = (
    "..imp-report.data...imp-summary.children...imp-mapping.data...imp-mapping.dropdown...imp-problems.children"
    "...imp-source-layer.options...imp-map-data.data...imp-run.disabled.."
)
RUN = "..imp-job.data...imp-poll.disabled...imp-result.children.."


def upload(client, name: str, data: bytes) -> dict:
    content = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    resp = callback(client, UPLOAD, [("imp-upload", "contents", [content])], [("imp-upload", "filename", [name])])
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    stored = resp.get_json()["response"]["imp-file"]["data"]
    assert stored and stored["token"], resp.get_data(as_text=True)[:300]
    return stored


def inspect(client, stored: dict, layer: str = "incidents"):
    inputs = [
        ("imp-file", "data", stored),
        ("imp-layer", "value", layer),
        ("imp-encoding", "value", None),
        ("imp-crs", "value", None),
        ("imp-source-layer", "value", None),
        ("imp-mapping", "data_timestamp", None),
    ]
    return callback(client, INSPECT, inputs, [("imp-mapping", "data", None), ("imp-report", "data", None)])


def test_the_import_page_reads_and_deletes_only_files_of_the_upload(server, demo_url, tmp_path):
    """The page's store (imp-file) lives in the browser: a name like ../../x or /etc/x was read
    by the importer (a server file's header came back in the report) and, after the import,
    deleted with the upload. Now any name that is not a file of the upload is refused."""
    admin = signed_in_client(server, demo_url, "admin")
    stored = upload(admin, "台账.csv", "事件类型,经度,纬度\n路灯不亮,106.67,35.55\n".encode())
    secret = tmp_path / "secret.csv"
    secret.write_text("SERVER_SECRET_HEADER,other\nSERVER_SECRET_VALUE,2\n", encoding="utf-8")
    victim = tmp_path / "victim.csv"
    victim.write_text("keep me\n", encoding="utf-8")

    honest = inspect(admin, stored)
    assert honest.status_code == 200 and honest.get_json()["response"]["imp-report"]["data"]["rows"] == 1

    climb = "../" * 12 + str(secret).lstrip("/")
    for name in (str(secret), climb):
        for files in ([name], stored["files"] + [name]):
            resp = inspect(admin, dict(stored, name=name, files=files))
            assert resp.status_code == 200
            assert "SERVER_SECRET" not in resp.get_data(as_text=True), name
            assert resp.get_json()["response"]["imp-report"]["data"] is None

    # The import itself: a file outside the upload is neither imported nor deleted afterwards.
    report = honest.get_json()["response"]["imp-report"]["data"]
    for evil in (
        dict(stored, name=str(victim), files=[str(victim)]),
        dict(stored, files=stored["files"] + ["../" * 12 + str(victim).lstrip("/")]),
        dict(stored, files=stored["files"] + [str(victim)]),
    ):
        state = [("imp-file", "data", evil), ("imp-report", "data", report), ("imp-mode", "value", "append")]
        resp = callback(admin, RUN, [("imp-run", "n_clicks", 1)], state + [("imp-skip", "value", [])])
        assert resp.status_code == 200 and "imp-job" not in resp.get_json()["response"], evil  # no job started
    time.sleep(0.5)
    assert victim.read_text(encoding="utf-8") == "keep me\n" and secret.exists()


def test_a_town_account_cannot_inspect_an_upload(server, demo_url):
    """Importing is for jurisdiction-wide accounts (a file may hold rows anywhere); the dry run
    that reads the file is theirs too, not a town planner's who learnt an upload's token."""
    admin = signed_in_client(server, demo_url, "admin")
    stored = upload(admin, "台账.csv", "事件类型,经度,纬度\n路灯不亮,106.67,35.55\n".encode())
    town_planner = signed_in_client(server, demo_url, "planner", "620802002")
    resp = inspect(town_planner, stored)
    assert resp.status_code == 200 and resp.get_json()["response"]["imp-report"]["data"] is None


def xlsx_bomb(path, strings: int) -> None:
    """A valid workbook of two rows whose shared-string table holds `strings` entries: a few
    hundred kilobytes that unpack to strings x 17 bytes, every one kept in memory by a reader."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets><sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0"?><sst {ns}>'.encode())
            chunk = b"<si><t>a</t></si>" * 10_000
            for _ in range(strings // 10_000):
                f.write(chunk)
            f.write(b"</sst>")


def test_a_workbook_that_unpacks_a_thousandfold_is_refused_at_once(server, demo_url, tmp_path):
    """A 200 KB .xlsx whose shared strings unpack to 85 MB took the server 44 s and 450 MB of
    memory per request (a 4 MB one unpacks to 1.7 GB, within the old limit of ten times the
    upload limit). Whatever the limit, a part that inflates more than upload_check.MAX_RATIO
    times is a ZIP bomb, refused before any reader opens it, on the intake page's import and
    on the import page alike."""
    path = tmp_path / "台账.xlsx"
    xlsx_bomb(path, 2_000_000)
    data = path.read_bytes()
    assert len(data) < 150_000 and sum(m.file_size for m in zipfile.ZipFile(path).infolist()) > 30_000_000

    with pytest.raises(upload_check.FileRejected, match="ZIP bomb"):
        upload_check.check(path, "xlsx")

    operator = signed_in_client(server, demo_url, "operator")
    content = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    started = time.monotonic()
    resp = callback(
        operator,
        "..in-import-result.children...in-version.data",
        [("in-import", "contents", content)],
        [("in-import", "filename", "台账.xlsx"), ("in-version", "data", 0)],
    )
    assert resp.status_code == 200 and time.monotonic() - started < 5
    assert "ZIP bomb" in json.dumps(resp.get_json()["response"]["in-import-result"], ensure_ascii=False)

    admin = signed_in_client(server, demo_url, "admin")
    started = time.monotonic()
    resp = inspect(admin, upload(admin, "台账.xlsx", data))
    assert resp.status_code == 200 and time.monotonic() - started < 5
    assert "ZIP bomb" in json.dumps(resp.get_json()["response"]["imp-report"]["data"]["problems"], ensure_ascii=False)


def test_an_ordinary_workbook_still_passes_the_check(tmp_path):
    """Real workbooks compress 3-30 times: a ledger of repeated values is not a bomb."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["事件类型", "经度", "纬度", "上报时间"])
    for k in range(20_000):
        sheet.append(["路灯不亮", 106.67, 35.55, f"2026-12-01 10:{k % 60:02d}"])
    book.save(tmp_path / "ledger.xlsx")
    upload_check.check(tmp_path / "ledger.xlsx", "xlsx")


def test_a_town_account_sees_none_of_the_jurisdictions_import_batches(server, gridded, categories, tmp_path, monkeypatch):
    """The 数据导入 page opens for every planner and administrator, but its batch history was
    read as the owner for all of them: a town planner read every file name the district
    imported, who imported it and when. Only accounts that may import (and undo) list it."""
    from geo import pgserver as cluster
    from geo.io.importer import import_file
    from geo.security import access
    from geo.web.pages import dataimport

    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))  # the page reads the tiny jurisdiction
    ledger = tmp_path / "西郊街道住户台账.csv"
    ledger.write_text("事件类型,经度,纬度,上报时间\n路灯不亮,106.655,35.54,2026-12-01 10:00\n", encoding="utf-8")
    import_file(gridded, "incidents", ledger, user="district-admin")
    gridded.commit()
    with server.app_context():
        with db.scoped(access.Scope(username="p", role="planner", admin_code="620802")):
            assert [r["file"] for r in dataimport.history_rows()][:1] == [ledger.name]
        with db.scoped(access.Scope(username="p", role="planner", admin_code="620802001")):
            assert dataimport.history_rows() == []


def view_bomb(path, rows: int) -> None:
    """A GeoPackage whose one layer is a recursive view: a 100 KB file of `rows` features."""
    import sqlite3

    import geopandas as gpd
    import shapely

    base = gpd.GeoDataFrame(
        {"事件类型": ["路灯不亮"], "上报时间": ["2026-12-01 10:00"]}, geometry=[shapely.Point(106.66, 35.54)], crs=4326
    )
    base.to_file(path, layer="base", driver="GPKG")
    con = sqlite3.connect(path)
    con.execute(
        f"""CREATE VIEW incidents AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows})
            SELECT b.fid + c.x AS fid, b.geom, b."事件类型", b."上报时间" FROM base b, c"""
    )
    for table in ("gpkg_contents", "gpkg_geometry_columns"):
        con.execute(
            f"UPDATE {table} SET table_name = 'incidents'" + (", identifier = 'incidents'" if table == "gpkg_contents" else "")
        )
    con.commit()
    con.close()


def test_a_geopackage_whose_layer_is_a_view_is_refused_unread(server, demo_url, tmp_path):
    """A 98 KB GeoPackage whose layer was a recursive view of 3 million rows grew the server by
    5 GB in 80 s through the import page's dry run (an unbounded view never ends). A
    GeoPackage with views is refused before GDAL opens it."""
    path = tmp_path / "事件.gpkg"
    view_bomb(path, 200_000)
    assert path.stat().st_size < 200_000
    with pytest.raises(upload_check.FileRejected, match="holds views"):
        upload_check.check(path, "gpkg")

    admin = signed_in_client(server, demo_url, "admin")
    started = time.monotonic()
    resp = inspect(admin, upload(admin, path.name, path.read_bytes()))
    assert resp.status_code == 200 and time.monotonic() - started < 5
    assert "holds views" in json.dumps(resp.get_json()["response"]["imp-report"]["data"]["problems"], ensure_ascii=False)

    plain = tmp_path / "plain.gpkg"  # an ordinary GeoPackage still passes
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"事件类型": ["路灯不亮"]}, geometry=[shapely.Point(106.66, 35.54)], crs=4326).to_file(plain, driver="GPKG")
    upload_check.check(plain, "gpkg")


def test_a_dry_run_leaves_incident_writers_free(gridded, categories, tmp_path):
    """The import page's preview is an import rolled back; its triggers bumped the incidents'
    data version, so that row stayed locked until the rollback and every Open311 report,
    intake form and grid worker's report waited for the whole preview: a 3 MB ledger of
    50,000 rows previewed on 数据导入 made every Open311 POST a 503 while it ran. Here a
    writer's version bump is tried, with a short lock timeout, at each step of a dry run."""
    import psycopg2

    from geo import pgserver as cluster
    from geo.io.importer import import_file

    ledger = tmp_path / "台账.csv"
    rows = "".join(f"路灯不亮,{106.651 + k * 0.0005:.4f},35.535,2026-11-{1 + k % 28:02d} 10:00\n" for k in range(30))
    ledger.write_text("事件类型,经度,纬度,上报时间\n" + rows, encoding="utf-8")
    writer = psycopg2.connect(cluster.database_url(test=True))
    blocked, steps = [], []

    def probe(message, _fraction=None):
        steps.append(message)
        with writer.cursor() as cur:
            try:
                cur.execute("SET lock_timeout = '300ms'")
                cur.execute("UPDATE data_version SET version = version WHERE name = 'incident'")
            except psycopg2.errors.LockNotAvailable:
                blocked.append(message)
        writer.rollback()

    try:
        result = import_file(gridded, "incidents", ledger, user="preview", dry_run=True, progress=probe)
    finally:
        writer.close()
    assert result.dry_run and result.counts["inserted"] == 30
    assert any("风险" in s for s in steps)  # a step after the rows went into incident, inside the transaction
    assert blocked == []
    assert db.scalar(gridded, "SELECT count(*) FROM incident") == 0  # still nothing written


def test_the_rows_an_import_set_aside_are_downloaded_by_importers_only(server, demo_url):
    """The rejected rows (people's records with a reason column) sit behind a link with the
    upload's token: a town account given the link gets nothing."""
    from geo.web.pages import dataimport

    admin = signed_in_client(server, demo_url, "admin")
    stored = upload(admin, "台账.csv", "事件类型,经度,纬度\n路灯不亮,106.67,35.55\n".encode())
    (dataimport._upload_dir(stored["token"]) / "台账.rejected.csv").write_text("户主,原因\n张三,坐标为空\n", encoding="utf-8")
    url = f"{dataimport.REJECTED_URL}/{stored['token']}/台账.rejected.csv"
    assert admin.get(url).status_code == 200
    town_planner = signed_in_client(server, demo_url, "planner", "620802002")
    resp = town_planner.get(url)
    assert resp.status_code == 404 and "张三" not in resp.get_data(as_text=True)
