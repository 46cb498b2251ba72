"""A synthetic prefecture city for the benchmark: 20,000 grids, 2 million households and
2 million incidents in a year, built in minutes.

The Kongtong demo (geo/demo/generator.py) is realistic but slow to make (shapely per grid, Python
per row): tiling it thirteen times would spend the benchmark's time on the generator. The
city here is a nested lattice instead (city → districts → towns → communities → grids,
each a block of the level below), so every grid, community and code is known from array
arithmetic, points are drawn inside their grid's rectangle (their grid_code is therefore
exact without a spatial join), and rows reach PostgreSQL as CSV through COPY in chunks.
What the benchmark measures (joins, tiles, aggregates) depends on row counts, index sizes
and the number of polygons, not on how ragged the polygons are.

Grid load is uneven on purpose (log-normal household weights, incidents drawn in
proportion to households), so hotspots and risk tiers have something to find.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from geo import db
from geo.incidents import archive
from geo.worktime import CST

CITY_CODE = "629900"  # not a real prefecture: the bench city must never be mistaken for data
ORIGIN = (106.30, 35.00)  # south-west corner, near Pingliang: metric SRID 4545 (CM 108E) applies
CELL_DEG = (0.006, 0.005)  # one grid, about 545 m x 555 m
CHUNK = 250_000


@dataclass(frozen=True)
class CityShape:
    """Blocks per level as (columns, rows): grids per community, communities per town, ..."""

    grids: tuple[int, int]
    communities: tuple[int, int]
    towns: tuple[int, int]
    districts: tuple[int, int]
    households: int
    incidents: int
    days: int = 365

    @property
    def n_grids(self) -> int:
        return int(np.prod([a * b for a, b in (self.grids, self.communities, self.towns, self.districts)]))


CITY = CityShape(
    grids=(5, 2), communities=(4, 5), towns=(2, 5), districts=(5, 2), households=2_000_000, incidents=2_000_000
)  # 20,000 grids
SMOKE = CityShape(grids=(2, 2), communities=(2, 1), towns=(1, 2), districts=(1, 1), households=2_000, incidents=2_000)


def _levels(shape: CityShape, city_code: str = CITY_CODE) -> pd.DataFrame:
    """One row per grid: its lattice column/row and its index at each level."""
    dims = [shape.districts, shape.towns, shape.communities, shape.grids]
    idx = np.indices([d for wh in dims for d in wh[::-1]]).reshape(8, -1)  # (dr, dc, tr, tc, cr, cc, gr, gc)
    col = row = 0
    for level, (w, h) in enumerate(dims):
        col = col * w + idx[2 * level + 1]
        row = row * h + idx[2 * level]
    frame = pd.DataFrame({"col": col, "row": row})
    per = [w * h for w, h in dims]
    frame["d"] = idx[0] * dims[0][0] + idx[1]
    frame["t"] = idx[2] * dims[1][0] + idx[3]
    frame["c"] = idx[4] * dims[2][0] + idx[5]
    frame["g"] = idx[6] * dims[3][0] + idx[7]
    frame["district"] = city_code[:4] + (frame["d"] + 1).astype(str).str.zfill(2)
    frame["town"] = frame["district"] + (frame["t"] + 1).astype(str).str.zfill(3)
    frame["community"] = frame["town"] + (frame["c"] + 1).astype(str).str.zfill(3)
    frame["code"] = frame["community"] + (frame["g"] + 1).astype(str).str.zfill(3)
    assert per[0] <= 99 and per[1] <= 999 and per[2] <= 999 and per[3] <= 999, "codes would overflow"
    return frame.sort_values("code", ignore_index=True)


def _boxes(col0, row0, col1, row1):
    x0, y0 = ORIGIN
    boxes = shapely.box(
        x0 + np.asarray(col0) * CELL_DEG[0],
        y0 + np.asarray(row0) * CELL_DEG[1],
        x0 + np.asarray(col1) * CELL_DEG[0],
        y0 + np.asarray(row1) * CELL_DEG[1],
    )
    return shapely.multipolygons(boxes[:, np.newaxis])  # one single-part MultiPolygon per box


def _hex(geoms) -> np.ndarray:
    return shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)


def _units(
    grids: pd.DataFrame, city_code: str = CITY_CODE, city_name: str = "合成市", city_parent: str | None = None
) -> pd.DataFrame:
    """Admin units: each one the bounding block of its grids."""
    frames = [
        pd.DataFrame(
            {
                "code": [city_code],
                "level": ["city"],
                "name": [city_name],
                "kind": ["市"],
                "urban": [True],
                "parent_code": [city_parent],
                "col0": [grids["col"].min()],
                "row0": [grids["row"].min()],
                "col1": [grids["col"].max() + 1],
                "row1": [grids["row"].max() + 1],
            }
        )
    ]
    for level, parent, kind, name in (
        ("district", None, "区", "合成{}区"),
        ("town", "district", "街道", "合成{}街道"),
        ("community", "town", "社区", "合成{}社区"),
    ):
        g = (
            grids.groupby(level)
            .agg(
                col0=("col", "min"),
                row0=("row", "min"),
                col1=("col", "max"),
                row1=("row", "max"),
                parent=(parent or "district", "first"),
            )
            .reset_index()
            .rename(columns={level: "code"})
        )
        g["col1"] += 1
        g["row1"] += 1
        frames.append(
            g.assign(
                level=level,
                kind=kind,
                urban=True,
                name=[name.format(c[-3:]) for c in g["code"]],
                parent_code=city_code if parent is None else g["parent"],
            ).drop(columns="parent")
        )
    units = pd.concat(frames, ignore_index=True)
    units["geom"] = _hex(
        _boxes(units["col0"].to_numpy(), units["row0"].to_numpy(), units["col1"].to_numpy(), units["row1"].to_numpy())
    )
    return units


def _points_in(rng, grids: pd.DataFrame, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points strictly inside the given grids (never on a shared edge)."""
    u = rng.uniform(0.01, 0.99, (2, len(which)))
    lon = ORIGIN[0] + (grids["col"].to_numpy()[which] + u[0]) * CELL_DEG[0]
    lat = ORIGIN[1] + (grids["row"].to_numpy()[which] + u[1]) * CELL_DEG[1]
    return lon, lat


def _ewkt_points(lon, lat) -> np.ndarray:
    return np.char.add(
        np.char.add(np.char.add("SRID=4326;POINT(", np.char.mod("%.7f", lon)), np.char.add(" ", np.char.mod("%.7f", lat))), ")"
    )


def copy_frame(cur, table: str, frame: pd.DataFrame) -> None:
    """COPY a DataFrame whose columns are the table's, as CSV (NULL: empty unquoted field)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)", buf)


def _chunked(cur, table: str, frame: pd.DataFrame, say) -> None:
    for start in range(0, len(frame), CHUNK):
        copy_frame(cur, table, frame.iloc[start : start + CHUNK])
        say(f"写入 {table} {min(start + CHUNK, len(frame)):,}/{len(frame):,}")


def households(rng, grids: pd.DataFrame, n: int, address: str = "合成地址") -> tuple[pd.DataFrame, np.ndarray]:
    """Households by log-normal grid weights; returns the frame and each grid's count."""
    weight = rng.lognormal(0.0, 0.6, len(grids))
    counts = rng.multinomial(n, weight / weight.sum())
    which = np.repeat(np.arange(len(grids)), counts)
    lon, lat = _points_in(rng, grids, which)
    frame = pd.DataFrame(
        {
            "address": np.char.add(address, np.arange(n).astype(str)),
            "persons": rng.integers(1, 7, n),
            "grid_code": grids["code"].to_numpy()[which],
            "admin_code": grids["community"].to_numpy()[which],
            "geom": _ewkt_points(lon, lat),
            "synthetic": True,
        }
    )
    return frame, counts


def _span(inc: pd.DataFrame) -> tuple[str | None, str | None]:
    """First and last reported_at of the incidents (strings of one format and offset)."""
    return (inc["reported_at"].min(), inc["reported_at"].max()) if len(inc) else (None, None)


def incidents(
    rng, grids: pd.DataFrame, hh_counts: np.ndarray, categories: pd.DataFrame, n: int, days: int, as_of: datetime
) -> pd.DataFrame:
    """A year of incidents, more where more people live; deadlines approximate working time
    (hours as hours, working days x 1.4) since the exact calendar adds nothing to a benchmark."""
    p = (hh_counts + 1.0) ** 1.2
    which = rng.choice(len(grids), n, p=p / p.sum())
    lon, lat = _points_in(rng, grids, which)
    cat = categories.iloc[rng.integers(0, len(categories), n)].reset_index(drop=True)
    reported = pd.Timestamp(as_of) - pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    hours = np.where(cat["time_unit"] == "working_hours", cat["time_limit"], cat["time_limit"] * 24 * 1.4)
    deadline = reported + pd.to_timedelta(hours, unit="h")
    age_days = (pd.Timestamp(as_of) - reported).total_seconds().to_numpy() / 86400
    done = rng.uniform(0, 1, n) < np.clip(age_days / 20, 0.05, 0.97)
    status = np.where(
        done,
        rng.choice(["closed", "followed_up"], n, p=[0.7, 0.3]),
        rng.choice(["received", "registered", "dispatched", "in_progress"], n),
    )
    closed = reported + pd.to_timedelta(rng.uniform(0.05, 1.3, n) * hours, unit="h")
    closed = pd.Series(closed).where(done & (closed <= pd.Timestamp(as_of)))
    status = np.where(done & closed.isna().to_numpy(), "in_progress", status)
    fmt = "%Y-%m-%d %H:%M:%S%z"
    return pd.DataFrame(
        {
            "title": cat["minor_name"].to_numpy(),
            "minor_code": cat["minor_code"].to_numpy(),
            "source": rng.choice(["patrol", "resident", "hotline", "police"], n, p=[0.45, 0.25, 0.2, 0.1]),
            "reported_at": reported.strftime(fmt),
            "people_involved": 1 + rng.poisson(1.0, n),
            "duration_days": rng.poisson(2.0, n),
            "conflict_intensity": rng.choice(4, n, p=[0.55, 0.3, 0.1, 0.05]),
            "behaviour_risk": rng.choice(4, n, p=[0.7, 0.2, 0.07, 0.03]),
            "status": status,
            "level_handled": rng.choice(["community", "town", "district"], n, p=[0.7, 0.22, 0.08]),
            "deadline": deadline.strftime(fmt),
            "closed_at": closed.dt.strftime(fmt),
            "satisfaction": np.where(status == "followed_up", rng.integers(3, 6, n), None),
            "grid_code": grids["code"].to_numpy()[which],
            "admin_code": grids["community"].to_numpy()[which],
            "geom": _ewkt_points(lon, lat),
            "synthetic": True,
        }
    )


class _Steps:
    """Seconds per build step, said as each one ends."""

    def __init__(self, say):
        self.say, self.seconds, self.t0 = say, {}, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.t0, 2)
        self.say(f"{name}: {self.seconds[name]:.1f}s")
        self.t0 = now


def _write_units(cur, jurisdiction: tuple[str, str, str], grids: pd.DataFrame, units: pd.DataFrame, categories) -> None:
    """Empty the data tables, then write the jurisdiction row, categories, admin units, grids,
    their staff and one service centre per community."""
    from geo.demo.loader import DATA_TABLES

    cur.execute("TRUNCATE " + ", ".join(DATA_TABLES) + ", risk_config RESTART IDENTITY CASCADE")
    cur.execute(
        "INSERT INTO jurisdiction (code, name, metric_srid, source) VALUES (%s, %s, %s, %s)",
        (*jurisdiction[:2], 4545, jurisdiction[2]),
    )
    copy_frame(cur, "category", categories)
    copy_frame(
        cur,
        "admin_unit",
        units[["code", "level", "name", "kind", "urban", "parent_code", "geom"]].assign(synthetic=True, source="geo.bench.city"),
    )
    gh = _hex(_boxes(grids["col"].to_numpy(), grids["row"].to_numpy(), grids["col"].to_numpy() + 1, grids["row"].to_numpy() + 1))
    copy_frame(
        cur,
        "grid",
        pd.DataFrame(
            {
                "code": grids["code"],
                "name": "合成网格" + grids["code"].str[-6:],
                "kind": "urban",
                "household_standard": 300,
                "admin_code": grids["community"],
                "geom": gh,
                "synthetic": True,
                "edited_by": "bench",
            }
        ),
    )
    staff = pd.DataFrame(
        {
            "grid_code": np.repeat(grids["code"].to_numpy(), 2),
            "role": np.tile(["leader", "fulltime"], len(grids)),
            "name": "网格员" + pd.Series(np.arange(2 * len(grids))).astype(str),
            "admin_code": np.repeat(grids["community"].to_numpy(), 2),
            "synthetic": True,
        }
    )
    copy_frame(cur, "grid_staff", staff)
    comm = units[units["level"] == "community"]
    cx = ORIGIN[0] + (comm["col0"] + comm["col1"]).to_numpy() / 2 * CELL_DEG[0] + CELL_DEG[0] * 0.01
    cy = ORIGIN[1] + (comm["row0"] + comm["row1"]).to_numpy() / 2 * CELL_DEG[1] + CELL_DEG[1] * 0.01
    copy_frame(
        cur,
        "place",
        pd.DataFrame(
            {
                "kind": "service_center",
                "category": "党群服务中心",
                "name": comm["name"].to_numpy() + "服务中心",
                "admin_code": comm["code"].to_numpy(),
                "geom": _ewkt_points(cx, cy),
                "synthetic": True,
            }
        ),
    )


def _write_incidents(conn, inc: pd.DataFrame, say) -> None:
    with db.transaction(conn) as cur:
        cur.execute("SET LOCAL quanyu.risk_defer = 'on'")  # grid tiers once, at the end
        archive.make_months(cur, *_span(inc))  # the months first: rows go straight into them
        _chunked(cur, "incident", inc, say)


def _finish(conn, step) -> None:
    """What follows the bulk writes: statistics, grid risk tiers, coverage and household hexes."""
    from geo.coverage import report as coverage
    from geo.risk import tiers as risk

    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.autocommit = False
    step("vacuum analyze")
    risk.recompute_grids(conn)
    step("risk tiers")
    coverage.refresh_after_bulk_load(conn)
    step("coverage and household hexes")


def build(conn, shape: CityShape, seed: int = 8, say=print) -> dict:
    """Replace the data tables of `conn` (a bench database only) with the synthetic city.
    Returns the row counts and seconds per step."""
    from geo.demo.generator import load_categories
    from geo.risk import tiers as risk

    rng = np.random.default_rng(seed)
    as_of = datetime.now(CST).replace(microsecond=0)
    step = _Steps(say)
    grids = _levels(shape)
    units = _units(grids)
    categories = load_categories()
    hh, counts = households(rng, grids, shape.households)
    inc = incidents(rng, grids, counts, categories, shape.incidents, shape.days, as_of)
    step("generate")
    with db.transaction(conn) as cur:
        _write_units(cur, (CITY_CODE, "合成市 (bench city)", "synthetic lattice city: geo.bench.city"), grids, units, categories)
    step("write units, grids, staff, places")
    risk.load_config(conn)  # no incidents yet: cheap; incidents are scored by their row trigger as they arrive
    with db.transaction(conn) as cur:
        _chunked(cur, "household", hh, say)
    step("write households")
    _write_incidents(conn, inc, say)
    step("write incidents")
    _finish(conn, step)
    return {
        "grids": len(grids),
        "households": len(hh),
        "incidents": len(inc),
        "communities": int((units["level"] == "community").sum()),
        "seconds": step.seconds,
        "build_seconds": round(sum(step.seconds.values()), 1),
    }


# --------------------------------------------------------------------------- a province


@dataclass(frozen=True)
class ProvinceShape:
    """`cities` lattice cities of one CityShape side by side, `columns` to a row of cities.

    The province is 990000 (合成省): 99 is no province's code, so nothing here can be taken
    for real data, and a 6-digit code ending in 0000 is what accounts, row-level security
    (code_prefix -> "99") and the screen's scope logic already understand as a province.
    City k is 99kk00. The schema has no province level (admin_unit: city, district, town,
    community), so the province's own row is stored at level 'city' (kind 省), the cities
    under it: the screen's extent, coverage and a province account find it as they find a
    city jurisdiction's row. `origin` (lattice cells from ORIGIN) puts the province around 108°E,
    the central meridian of the metric SRID 4545, so metres stay metres at its edges."""

    city: CityShape
    cities: int
    columns: int
    code: str = "990000"
    name: str = "合成省"
    origin: tuple[int, int] = (84, -200)  # 2 x 5 cities of the CITY lattice: 106.80-109.20°E, 34.0-36.5°N

    @property
    def n_grids(self) -> int:
        return self.city.n_grids * self.cities

    def city_codes(self) -> list[str]:
        assert 1 <= self.cities <= 99, "city codes would overflow"
        return [f"{self.code[:2]}{k:02d}00" for k in range(1, self.cities + 1)]


# Households are 1M a city (half the city scale's): they cost the COPY, the coverage
# refresh and the household hexes, while the screen's figures follow the incidents, which
# stay at 2M a city (20M in all); the build then takes about an hour on this machine.
PROVINCE = ProvinceShape(city=replace(CITY, households=1_000_000), cities=10, columns=2)
SMOKE_PROVINCE = ProvinceShape(city=SMOKE, cities=2, columns=2)


def province_lattice(shape: ProvinceShape) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(city code, grids, units) per city, each city's lattice moved to its own block."""
    width = int(np.prod([w for w, _ in (shape.city.grids, shape.city.communities, shape.city.towns, shape.city.districts)]))
    height = int(np.prod([h for _, h in (shape.city.grids, shape.city.communities, shape.city.towns, shape.city.districts)]))
    out = []
    for k, code in enumerate(shape.city_codes()):
        grids = _levels(shape.city, code)
        grids["col"] += shape.origin[0] + (k % shape.columns) * width
        grids["row"] += shape.origin[1] + (k // shape.columns) * height
        out.append((code, grids, _units(grids, code, f"合成{k + 1}市", shape.code)))
    return out


def _province_unit(shape: ProvinceShape, units: pd.DataFrame) -> pd.DataFrame:
    """The province's own row: the bounding block of its cities."""
    cities = units[units["level"] == "city"]
    row = pd.DataFrame(
        {
            "code": [shape.code],
            "level": ["city"],
            "name": [shape.name],
            "kind": ["省"],
            "urban": [True],
            "parent_code": [None],
            "col0": [cities["col0"].min()],
            "row0": [cities["row0"].min()],
            "col1": [cities["col1"].max()],
            "row1": [cities["row1"].max()],
        }
    )
    row["geom"] = _hex(_boxes(row["col0"].to_numpy(), row["row0"].to_numpy(), row["col1"].to_numpy(), row["row1"].to_numpy()))
    return pd.concat([row, units], ignore_index=True)  # parent first: admin_unit.parent_code references it


def build_province(conn, shape: ProvinceShape, seed: int = 8, say=print) -> dict:
    """Replace the data tables of `conn` (a bench database only) with the synthetic province,
    one city at a time: only one city's rows (2M incidents at most) are in memory at once.
    Returns the row counts and seconds per step (per city for the bulk writes)."""
    from geo.demo.generator import load_categories
    from geo.risk import tiers as risk

    as_of = datetime.now(CST).replace(microsecond=0)
    step = _Steps(say)
    cities = province_lattice(shape)
    grids = pd.concat([g for _, g, _ in cities], ignore_index=True)
    units = _province_unit(shape, pd.concat([u for _, _, u in cities], ignore_index=True))
    categories = load_categories()
    step("generate units and grids")
    with db.transaction(conn) as cur:
        source = "synthetic lattice province: geo.bench.city"
        _write_units(cur, (shape.code, f"{shape.name} (bench province)", source), grids, units, categories)
    step("write units, grids, staff, places")
    del grids, units
    risk.load_config(conn)
    n_hh = n_inc = 0
    for k, (code, city_grids, _units_k) in enumerate(cities, 1):
        label = f"city {k}/{len(cities)} {code}"
        rng = np.random.default_rng([seed, k])  # each city its own stream: a city is the same whatever the count
        hh, counts = households(rng, city_grids, shape.city.households, address=f"合成{k}市地址")
        inc = incidents(rng, city_grids, counts, categories, shape.city.incidents, shape.city.days, as_of)
        # In time order: each chunk then touches one or two months' indexes, not all twelve.
        inc = inc.sort_values("reported_at", kind="stable", ignore_index=True)
        step(f"{label} generate")
        with db.transaction(conn) as cur:
            _chunked(cur, "household", hh, say)
        step(f"{label} write households")
        _write_incidents(conn, inc, say)
        step(f"{label} write incidents")
        n_hh, n_inc = n_hh + len(hh), n_inc + len(inc)
        del hh, inc
    _finish(conn, step)
    return {
        "cities": len(cities),
        "grids": shape.n_grids,
        "households": n_hh,
        "incidents": n_inc,
        "communities": sum(int((u["level"] == "community").sum()) for _, _, u in cities),
        "seconds": step.seconds,
        "build_seconds": round(sum(step.seconds.values()), 1),
    }
