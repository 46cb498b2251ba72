"""研判 drill-down above a city: a province's code (six digits ending 0000) is a level of its
own, its children are its cities, and every level's measures add up (on the benchmark's
two-city province, geo/bench/city.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from geo import db
from geo.analysis import drill, drill_geo
from geo.bench import city as bench_city
from geo.bench import databases as bench_db
from geo.worktime import CST


def test_levels_and_prefixes_of_six_digit_codes():
    assert [drill.level_of(c) for c in ("990000", "990100", "990101", "620802")] == ["province", "city", "district", "district"]
    assert [drill.unit_prefix(c) for c in ("990000", "990100", "990101", "990101001")] == ["99", "9901", "990101", "990101001"]
    assert drill_geo.grid_prefix("990000") == "99"


@pytest.fixture(scope="module")
def province():
    conn = db.connect(bench_db.ensure("province_smoke"))
    bench_city.build_province(conn, bench_city.SMOKE_PROVINCE, say=lambda _m: None)
    yield conn
    conn.close()


def test_a_province_drills_down_to_its_cities_and_adds_up(province):
    end = datetime.now(CST) + timedelta(days=1)
    start = end - timedelta(days=800)
    top = drill.summary(province, "990000", start, end)
    assert top["level"] == "province" and top["incidents"] == db.scalar(province, "SELECT count(*) FROM incident") > 0
    cities = drill.children(province, "990000", start, end)
    assert [c["code"] for c in cities] == ["990100", "990200"]  # no remainder row: every incident has its city
    assert sum(c["incidents"] for c in cities) == top["incidents"]
    assert sum(c["households"] for c in cities) == top["households"] == db.scalar(province, "SELECT count(*) FROM household")
    city = drill.summary(province, "990100", start, end)
    assert city["incidents"] == cities[0]["incidents"]
    assert sum(d["incidents"] for d in drill.children(province, "990100", start, end)) == city["incidents"]
    assert [f["properties"]["code"] for f in drill_geo.child_shapes(province, "990000")["features"]] == ["990100", "990200"]
