"""The JSON API of the drill-down page, and the URL that restores a view."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import flask
import pytest

from geo import pgserver as cluster
from geo.web.api import analysis as analysis_api
from tests.support.drill import COMMUNITY


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))  # the API's pool reads DATABASE_URL
    app = flask.Flask(__name__)
    app.register_blueprint(analysis_api.bp)
    return app.test_client()


def test_the_url_restores_the_view():
    view = dict(code=COMMUNITY, start=date(2026, 7, 1), end=date(2026, 7, 31), major="01", measure="overdue", bucket="week")
    query = analysis_api.view_query(view)
    assert analysis_api.parse_view({k: v[0] for k, v in parse_qs(query).items()}) == view
    plain = analysis_api.parse_view({"code": "620802", "end": "2026-07-31"})
    assert plain["start"] == date(2026, 5, 3) and analysis_api.view_query(plain) == "code=620802&start=2026-05-03&end=2026-07-31"
    for bad in ({"measure": "speed"}, {"bucket": "year"}, {"start": "2026-08-01", "end": "2026-07-01"}, {"major": "x"}):
        with pytest.raises(ValueError):
            analysis_api.parse_view(bad)


def test_drill_endpoint(town, client):
    body = client.get("/api/drill/620802001?start=2026-07-01&end=2026-07-31&bucket=month").get_json()
    assert [c["level"] for c in body["breadcrumb"]] == ["district", "town"]
    assert body["summary"]["incidents"] == sum(c["incidents"] for c in body["children"]) == 10
    assert body["trend"][0]["period"] == "2026-07-01" and body["query"].endswith("bucket=month")
    assert client.get("/api/drill/123").status_code == 400
    assert client.get("/api/drill/620802009").status_code == 404


def test_analysis_endpoints(town, client):
    hot = client.get("/api/hotspots?start=2026-07-01&end=2026-07-31&fdr=1").get_json()
    assert {g["code"] for g in hot["grids"]} == {f"{COMMUNITY}00{i}" for i in range(1, 5)}
    assert set(hot["grids"][0]) == {"code", "count", "z", "p", "bin"}
    assert client.get("/api/hotspots?start=2026-07-01&end=2026-07-31&method=moran").status_code == 200
    assert client.get("/api/emerging?end=2026-07-31&weeks=4").get_json()["window"]["weeks"] == 4
    dens = client.get("/api/density?start=2026-07-01&end=2026-07-31&bbox=106.65,35.53,106.67,35.55&cell=50").get_json()
    assert dens["incidents"] == 10 and len(dens["density"][0]) == 37
    ranks = client.get("/api/rankings?quarter=2026Q3&month=2026-07").get_json()
    assert ranks["towns"][0]["found"] == 11 and ranks["month"]["found"] == 10
    assert client.get("/api/rankings?quarter=bad").status_code == 400
