"""Bounds on the work one request or one file may ask for (issue #18, finding 7):
`/api/emerging?weeks=520` took 13 s and 5.3 GB, `/api/partition?persons_limit=-1` was 80x
slower, a 1,000,001-vertex grid was accepted, and nothing stopped a statement running for
minutes. Each is now a quick, clear refusal."""

from __future__ import annotations

import json
import math
import time

import pytest
import shapely

from geo import db
from geo.io import geometry, importer
from tests.support.webapp import signed_in_client


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def test_a_long_emerging_window_is_a_fast_400(server, demo_url):
    c = signed_in_client(server, demo_url, "leader")
    start = time.perf_counter()
    resp = c.get("/api/emerging?weeks=520")
    assert resp.status_code == 400 and "weeks" in resp.get_json()["error"]
    assert time.perf_counter() - start < 2
    for weeks in ("105", "-1", "1e9", "nan"):
        assert c.get(f"/api/emerging?weeks={weeks}").status_code == 400, weeks


def test_partition_parameters_are_bounded(server, demo_url, demo_conn):
    community = db.scalar(demo_conn, "SELECT min(code) FROM admin_unit WHERE level = 'community'")
    demo_conn.commit()
    c = signed_in_client(server, demo_url, "planner")
    for query in ("persons_limit=-1", "persons_limit=0", "persons_limit=99999999", "target=0", "target=-5", "target=1000000"):
        start = time.perf_counter()
        resp = c.get(f"/api/partition?community={community}&{query}")
        assert resp.status_code == 400, (query, resp.status_code)
        assert time.perf_counter() - start < 2, query


def test_a_statement_past_the_request_timeout_is_a_503_not_a_500(server, demo_url, monkeypatch):
    c = signed_in_client(server, demo_url, "leader")
    monkeypatch.setenv("QUANYU_STATEMENT_TIMEOUT_DEFAULT", "0.001")  # 1 ms: every real query is cut short
    resp = c.get("/api/drill/620802?start=2024-01-01")
    assert resp.status_code == 503, resp.status_code
    assert "narrow" in resp.get_json()["message"]
    monkeypatch.delenv("QUANYU_STATEMENT_TIMEOUT_DEFAULT")
    assert c.get("/api/versions").status_code == 200  # the connection went back to the pool unharmed


def ring(vertices: int, centre=(106.655, 35.54), radius=0.004) -> shapely.Polygon:
    angles = [2 * math.pi * k / vertices for k in range(vertices)]
    return shapely.Polygon([(centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a)) for a in angles])


def write_geojson(path, geoms):
    features = [
        {"type": "Feature", "properties": {"name": f"网格{k}"}, "geometry": shapely.geometry.mapping(g)}
        for k, g in enumerate(geoms)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_a_polygon_with_too_many_vertices_is_refused(tiny_jurisdiction, conn, tmp_path):
    path = write_geojson(tmp_path / "huge.geojson", [ring(geometry.MAX_VERTICES_PER_FEATURE + 1)])
    with pytest.raises(importer.ImportFailed) as refused:
        importer.import_file(conn, "grids", path)
    assert "vertices in one feature" in str(refused.value) and "simplify" in str(refused.value)
    assert db.scalar(conn, "SELECT count(*) FROM grid") == 0


def test_a_file_with_too_many_vertices_is_refused(tiny_jurisdiction, conn, tmp_path, monkeypatch):
    monkeypatch.setattr(geometry, "MAX_VERTICES_PER_FILE", 1000)  # the rule, at a size a test can write
    path = write_geojson(tmp_path / "many.geojson", [ring(400, (106.652 + 0.002 * k, 35.54), 0.0008) for k in range(3)])
    with pytest.raises(importer.ImportFailed) as refused:
        importer.import_file(conn, "grids", path)
    assert "vertices in the file" in str(refused.value)
    assert db.scalar(conn, "SELECT count(*) FROM grid") == 0


def test_a_drawn_polygon_is_capped_like_an_imported_one(demo_server):
    from geo.web.pages import planner

    ring_coords = [list(p) for p in ring(geometry.MAX_VERTICES_PER_FEATURE + 1).exterior.coords]
    with pytest.raises(ValueError, match="vertices"):
        planner._geometry({"op": "draw", "coords": ring_coords})
    assert planner._geometry({"op": "draw", "coords": [list(p) for p in ring(50).exterior.coords]}).is_valid
