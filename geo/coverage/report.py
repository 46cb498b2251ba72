"""Coverage analysis of the official grid: 不留空白盲区、无缝对接、全域覆盖, checked.

`analyse(conn)` answers the planner's questions about the current official grids of the
jurisdiction (or of one community): where no grid covers (gaps, and drawing slivers apart
from them), where grids overlap and by how much, which grids stray outside their community
or the jurisdiction, which households fall in no grid or in two, which grids are off the
household standard or over the persons limit, which lack their 1+1+N team, which
households are beyond reach of a service centre, and a score per community: the share of
its area covered exactly once.

Work is split where it is fastest: shapely (GEOS 3.14) does the union and the
differences, finds the overlapping pairs (PostgreSQL's GiST self-join for one community's
scope) and the point-in-grid tests in bulk; PostGIS cuts the shared polygons of the few
overlapping pairs. Households come over as binary COPY into numpy columns
(geo/io/binary_copy.py) and each is first tried in its stored grid_code's grid alone
(geo/coverage/households.py says why that is exact). At city scale (20,000 grids, 2
million households) the check takes about 3.6 s, of which 1.3 s is reading the households.
`refresh(conn)` stores the spatial defects in `coverage_defect` for the map layer, tagged
with the grid data_version they were computed at, and recomputes only when grids or
units changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import shapely
from psycopg2.extras import Json

from geo import db
from geo.coverage import blocks
from geo.coverage.geometry import (
    AdminLocator,
    Defect,
    Meter,
    gap_defects,
    grid_union,
    make_defect,
    outside_defects,
    polygon_parts,
)
from geo.coverage.households import Households, grid_load_issues, household_checks, service_reach, staffing_issues
from geo.coverage.standards import PlanningConfig, as_config
from geo.io import binary_copy

DEFECT_KINDS = ("gap", "sliver", "overlap", "outside", "crossing")


@dataclass
class CoverageReport:
    scope_code: str
    scope_name: str
    computed_at: str
    grid_version: int | None
    config: dict
    grids: int
    seamless: bool  # 无缝: no gap, sliver or overlap left (rounding noise aside)
    noise: dict  # pieces thinner than config.noise_width_m: counted, not listed
    score: dict
    scores: list[dict]
    defects: list[Defect]
    households: dict
    grid_load: list[dict]
    staffing: list[dict]
    service_reach: dict
    seconds: dict = field(default_factory=dict)
    blocks_cut: list[dict] = field(default_factory=list)  # blocks lying in two grids (with a road layer)

    def of_kind(self, kind: str) -> list[Defect]:
        return [d for d in self.defects if d.kind == kind]

    def summary(self) -> dict:
        """Counts per finding, the first thing a planner reads."""
        out = {k: len(self.of_kind(k)) for k in DEFECT_KINDS}
        out.update({f"{k}_m2": round(sum(d.area_m2 for d in self.of_kind(k)), 1) for k in ("gap", "sliver", "overlap")})
        out.update({f"households_{k}": v["count"] for k, v in self.households.items()})
        for issue in ("above_standard", "below_standard", "over_persons_limit"):
            out[f"grids_{issue}"] = sum(issue in g["issues"] for g in self.grid_load)
        out["grids_no_worker"] = sum("no_worker" in s["issues"] for s in self.staffing)
        out["grids_incomplete_team"] = len(self.staffing)
        out["households_beyond_service_radius"] = self.service_reach["count"]
        out["blocks_cut"] = len(self.blocks_cut)
        out["coverage_score"] = self.score["score"]
        return out

    def to_dict(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "scope_code",
                "scope_name",
                "computed_at",
                "grid_version",
                "config",
                "grids",
                "seamless",
                "noise",
                "score",
                "scores",
                "households",
                "grid_load",
                "staffing",
                "service_reach",
                "seconds",
                "blocks_cut",
            )
        }
        d["summary"] = self.summary()
        for kind, key in zip(DEFECT_KINDS, ("gaps", "slivers", "overlaps", "outside", "crossing")):
            d[key] = [x.to_dict() for x in self.of_kind(kind)]
        return d


# --------------------------------------------------------------------------- loading


def _wkb(values):
    return shapely.from_wkb([bytes(v) for v in values]) if len(values) else np.array([], dtype=object)


def _versions(conn) -> dict[str, int]:
    return {
        r["name"]: int(r["version"])
        for r in db.rows(conn, "SELECT name, version FROM data_version WHERE name IN ('grid', 'admin_unit')")
    }


def _scope(conn, community_code: str | None) -> tuple[dict, dict]:
    jur = db.one(conn, "SELECT code, name, metric_srid FROM jurisdiction ORDER BY code LIMIT 1")
    if not jur:
        raise ValueError("no jurisdiction in this database: import boundaries (python -m geo import) first")
    code = community_code or jur["code"]
    unit = db.one(
        conn,
        """SELECT code, name, level, ST_AsBinary(COALESCE(geom, (
                               SELECT ST_Multi(ST_Union(c.geom)) FROM admin_unit c
                                WHERE c.level = 'community' AND c.code LIKE a.code || '%%'))) AS wkb
                             FROM admin_unit a WHERE code = %s""",
        (code,),
    )
    if not unit or unit["wkb"] is None:
        raise ValueError(f"unknown area {code!r}: give a community code (12 digits) of this jurisdiction")
    if community_code and unit["level"] != "community":
        raise ValueError(f"{code} is a {unit['level']}, not a community (村/社区, 12 digits)")
    return jur, unit


def _load(conn, jur: dict, unit: dict, community_code: str | None) -> dict:
    """Everything the analysis needs, in lon/lat; grids of the scope are the community's own
    and any other that enters it."""
    area = shapely.from_wkb(bytes(unit["wkb"]))
    columns = ("code", "kind", "admin_code", "household_standard", "wkb")
    found = db.one(
        conn,
        """
        SELECT array_agg(code ORDER BY code) AS code, array_agg(kind ORDER BY code) AS kind,
               array_agg(admin_code ORDER BY code) AS admin_code,
               array_agg(household_standard ORDER BY code) AS household_standard,
               array_agg(ST_AsBinary(geom) ORDER BY code) AS wkb
          FROM grid_current
         WHERE %(c)s::text IS NULL OR admin_code = %(c)s OR ST_Intersects(geom, ST_GeomFromWKB(%(a)s, 4326))""",
        dict(c=community_code, a=area.wkb),
    )  # one row of arrays: 20,000 dict rows took twice as long
    grids = pd.DataFrame({c: found[c] or [] for c in columns}, columns=list(columns))
    grids["geom"] = _wkb(grids.pop("wkb").tolist())
    units = pd.DataFrame(
        db.rows(
            conn,
            """
        SELECT code, name, urban, ST_AsBinary(geom) AS wkb FROM admin_unit
         WHERE level = 'community' AND geom IS NOT NULL
           AND (%(c)s::text IS NULL OR code = %(c)s OR code = ANY(%(own)s))
         ORDER BY code""",
            dict(c=community_code, own=sorted(set(grids["admin_code"]))),
        ),
        columns=["code", "name", "urban", "wkb"],
    )
    units["geom"] = _wkb(units.pop("wkb").tolist())
    jgeom = (
        area
        if not community_code
        else shapely.from_wkb(
            bytes(
                db.scalar(
                    conn,
                    """
        SELECT ST_AsBinary(COALESCE(geom, (SELECT ST_Multi(ST_Union(geom)) FROM admin_unit WHERE level = 'community')))
          FROM admin_unit WHERE code = %s""",
                    (jur["code"],),
                )
            )
        )
    )
    hh = _households(conn, community_code, area, grids["code"].tolist())
    centres = np.array(
        db.rows(conn, "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM place WHERE kind = 'service_center'"), dtype=object
    )
    roles: dict[str, set] = {}
    for r in db.rows(
        conn,
        """SELECT role, array_agg(DISTINCT grid_code) AS codes FROM grid_staff
                               WHERE grid_code = ANY(%s) GROUP BY 1""",
        (grids["code"].tolist(),),
    ):  # a row per role
        for code in r["codes"]:
            roles.setdefault(code, set()).add(r["role"])
    return dict(
        area=area,
        grids=grids,
        units=units,
        jurisdiction=jgeom,
        households=hh,
        roles=roles,
        centres=[(c["lon"], c["lat"]) for c in centres],
    )


def _households(conn, community_code: str | None, area, grid_codes: list[str]) -> Households:
    """The scope's households as numpy columns (binary COPY, see geo/io/binary_copy.py), with
    their community's urban flag and their stored grid_code as an index into `grid_codes`
    (a hint for the membership test, checked there, never trusted)."""
    cols = binary_copy.read(
        conn,
        """
        SELECT h.id, h.persons, ST_X(h.geom), ST_Y(h.geom), h.admin_code, h.grid_code FROM household h
         WHERE %(c)s::text IS NULL OR h.admin_code = %(c)s OR ST_Intersects(h.geom, ST_GeomFromWKB(%(a)s, 4326))""",
        dict(c=community_code, a=area.wkb),
        [
            ("id", "int8"),
            ("persons", "int2"),
            ("lon", "float8"),
            ("lat", "float8"),
            ("admin_code", "text"),
            ("grid_code", "text"),
        ],
    )
    if not len(cols["id"]):
        return Households.empty()
    ids = cols["id"]
    order = slice(None) if (ids[1:] > ids[:-1]).all() else np.argsort(ids, kind="stable")
    admin, grid = cols["admin_code"], cols["grid_code"]
    admin_codes = np.array(list(admin.categories), dtype=object)
    urban_of = {
        r["code"]: bool(r["urban"])
        for r in db.rows(conn, "SELECT code, urban FROM admin_unit WHERE code = ANY(%s)", (admin_codes.tolist(),))
    }
    index = {code: i for i, code in enumerate(grid_codes)}
    hint_of = np.array([index.get(code, -1) for code in grid.categories] + [-1], dtype=np.int64)  # [-1]: NULL
    admin_index = admin.codes.astype(np.int64)[order]
    return Households(
        id=ids[order],
        persons=cols["persons"].astype(np.int64)[order],
        lon=cols["lon"][order],
        lat=cols["lat"][order],
        admin=admin_index,
        admin_codes=admin_codes,
        urban=np.array([urban_of.get(c, False) for c in admin_codes], dtype=bool)[admin_index],  # no unit: rural
        hint=hint_of[grid.codes.astype(np.int64)][order],
    )


def _overlaps(conn, codes: list[str], geoms=None) -> list[tuple[str, str, shapely.Geometry]]:
    """Pairs of current official grids sharing area (interiors meeting: ST_Intersects and
    not ST_Touches), with the shared polygon, in code order.

    `geoms` None: the pairs with a grid of `codes` (a community's scope: a grid outside it
    may overlap one inside), by a GiST self-join. Otherwise `codes` and `geoms` are every
    current grid and the pairs are found here: only grids whose boxes overlap with area
    can share area (lattice neighbours' boxes merely touch), and one vectorised DE-9IM
    test settles those (about 0.2 s for 20,000 grids, where the self-join took 0.85 s);
    PostGIS then computes the shared polygons of the few pairs found, as before."""
    if geoms is None:
        found = db.rows(
            conn,
            """
            SELECT a.code AS a, b.code AS b, ST_AsBinary(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)) AS wkb
              FROM grid_current a JOIN grid_current b
                ON a.code < b.code AND ST_Intersects(a.geom, b.geom) AND NOT ST_Touches(a.geom, b.geom)
             WHERE a.code = ANY(%(codes)s) OR b.code = ANY(%(codes)s)
             ORDER BY 1, 2""",
            dict(codes=codes),
        )
    else:
        geoms = np.asarray(geoms, dtype=object)
        i, j = shapely.STRtree(geoms).query(geoms) if len(geoms) else (np.zeros(0, int), np.zeros(0, int))
        box = shapely.bounds(geoms).reshape(-1, 4)
        keep = (
            (i < j)
            & (np.minimum(box[i, 2], box[j, 2]) > np.maximum(box[i, 0], box[j, 0]))
            & (np.minimum(box[i, 3], box[j, 3]) > np.maximum(box[i, 1], box[j, 1]))
        )
        i, j = i[keep], j[keep]
        meet = shapely.relate_pattern(geoms[i], geoms[j], "T********")  # the interiors intersect
        names = np.asarray(codes, dtype=object)
        a, b = names[i[meet]], names[j[meet]]
        first = np.where(a < b, a, b).tolist()
        second = np.where(a < b, b, a).tolist()
        found = (
            db.rows(
                conn,
                """
            SELECT p.a, p.b, ST_AsBinary(ST_CollectionExtract(ST_Intersection(ga.geom, gb.geom), 3)) AS wkb
              FROM unnest(%(a)s::text[], %(b)s::text[]) AS p(a, b)
              JOIN grid_current ga ON ga.code = p.a JOIN grid_current gb ON gb.code = p.b
             ORDER BY 1, 2""",
                dict(a=first, b=second),
            )
            if first
            else []
        )
    return [(r["a"], r["b"], shapely.from_wkb(bytes(r["wkb"]))) for r in found]


# --------------------------------------------------------------------------- analysis


def _scores(
    units: pd.DataFrame, scope: tuple[str, str, shapely.Geometry], defects: list[Defect], overlap_union, meter: Meter
) -> tuple[dict, list[dict]]:
    """Share of each community's area (and of the scope's) covered by exactly one grid."""
    gap_by_admin: dict[str, float] = {}
    for d in defects:
        if d.kind in ("gap", "sliver"):
            gap_by_admin[d.admin_code] = gap_by_admin.get(d.admin_code, 0.0) + d.area_m2

    def score(code, name, geom, gap_m2):
        area = float(meter.area(geom))
        over = float(meter.area(shapely.intersection(geom, overlap_union))) if not overlap_union.is_empty else 0.0
        once = max(area - gap_m2 - over, 0.0)
        return dict(
            admin_code=code,
            name=name,
            area_m2=round(area, 1),
            gap_m2=round(gap_m2, 1),
            overlap_m2=round(over, 1),
            covered_once_m2=round(once, 1),
            score=round(once / area, 6) if area else None,
        )

    per = [score(u.code, u.name, u.geom, gap_by_admin.get(u.code, 0.0)) for u in units.itertuples(index=False)]
    code, name, geom = scope
    total_gap = sum(
        d.area_m2 for d in defects if d.kind in ("gap", "sliver") and (code not in set(units["code"]) or d.admin_code == code)
    )
    return score(code, name, geom, total_gap), per


def analyse(conn, community_code: str | None = None, config=None) -> CoverageReport:
    """The coverage report of the jurisdiction, or of one community (its own grids and any
    grid entering it). `config`: a PlanningConfig or a dict of overrides."""
    config: PlanningConfig = as_config(config)
    timer, t0 = {}, time.perf_counter()
    jur, unit = _scope(conn, community_code)
    data = _load(conn, jur, unit, community_code)
    grids, units, area = data["grids"], data["units"], data["area"]
    meter = Meter(int(jur["metric_srid"]))
    timer["load"] = time.perf_counter() - t0

    t = time.perf_counter()
    geoms = grids["geom"].to_numpy()
    scope_units = units[units["code"] == community_code] if community_code else units
    locator = AdminLocator(scope_units["code"].tolist(), scope_units["geom"].to_numpy(), unit["code"])
    union = grid_union(geoms)
    tree = shapely.STRtree(geoms) if len(geoms) else shapely.STRtree([shapely.Point()])
    defects = gap_defects(area, union, locator, (grids["code"].tolist(), tree), meter, config)
    overlap_geoms = []
    pairs = _overlaps(conn, grids["code"].tolist(), None if community_code else geoms)
    position = {code: i for i, code in enumerate(grids["code"])}
    shared = np.zeros(len(grids), dtype=bool)  # grids sharing area with another: hints into them are not trusted
    shared[[position[c] for a, b, _ in pairs for c in (a, b) if c in position]] = True
    for a, b, geom in pairs:
        d = make_defect("overlap", [a, b], locator.of(geom) if polygon_parts(geom) else unit["code"], geom, meter, config)
        if d:
            defects.append(d)
            if d.kind == "overlap":
                overlap_geoms.append(d.geom)
    own = grids if not community_code else grids[grids["admin_code"] == community_code]
    defects += outside_defects(
        own["code"].tolist(),
        own["geom"].to_numpy(),
        own["admin_code"].tolist(),
        data["jurisdiction"],
        dict(zip(units["code"], units["geom"])),
        meter,
        config,
    )
    overlap_union = shapely.union_all(overlap_geoms) if overlap_geoms else shapely.GeometryCollection()
    score, scores = _scores(scope_units, (unit["code"], unit["name"], area), defects, overlap_union, meter)
    noise = [d for d in defects if d.kind == "noise"]
    defects = [d for d in defects if d.kind != "noise"]
    timer["polygons"] = time.perf_counter() - t

    t = time.perf_counter()
    hh = data["households"]
    households, load = household_checks(hh, grids["code"].tolist(), geoms, config, shared)
    centres = np.array(data["centres"], dtype=float).reshape(-1, 2)
    centre_xy = meter.xy(centres[:, 0], centres[:, 1]) if len(centres) else centres
    reach = service_reach(meter.xy(hh.lon, hh.lat), hh, centre_xy, config)
    timer["households"] = time.perf_counter() - t

    t = time.perf_counter()
    roads = blocks.scope_roads(conn, area)
    cut = blocks.cut_blocks(roads, scope_units, grids["code"].tolist(), geoms, meter, config.noise_area_m2)
    timer["blocks"] = time.perf_counter() - t
    timer["total"] = time.perf_counter() - t0
    return CoverageReport(
        scope_code=unit["code"],
        scope_name=unit["name"],
        computed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        grid_version=_versions(conn).get("grid"),
        config=config.to_dict(),
        grids=len(grids),
        seamless=not any(d.kind in ("gap", "sliver", "overlap") for d in defects),
        noise=dict(count=len(noise), area_m2=round(sum(d.area_m2 for d in noise), 1)),
        score=score,
        scores=scores,
        defects=sorted(defects, key=lambda d: (DEFECT_KINDS.index(d.kind), -d.area_m2)),
        households=households,
        grid_load=grid_load_issues(own, load, config),
        staffing=staffing_issues(own, data["roles"]),
        service_reach=reach,
        seconds={k: round(v, 3) for k, v in timer.items()},
        blocks_cut=cut,
    )


# --------------------------------------------------------------------------- stored result

_REFRESH_LOCK_KEY = 7_246_810_005  # one refresh at a time


def refresh_after_bulk_load(conn) -> None:
    """After grids and households were loaded in bulk (the demo, the bench city): the coverage
    defects and the household hexagons the screens read, recomputed and committed now, so
    that the first page load does not wait for them."""
    refresh(conn, force=True)
    db.scalar(conn, "SELECT refresh_household_hex()")
    conn.commit()


def refresh(conn, config=None, force: bool = False) -> dict:
    """Recompute the jurisdiction's defects into coverage_defect unless they are current.

    Current means computed at the present grid and admin_unit data versions with the same
    config; the map layer reads the table and never waits for an analysis. Returns the
    coverage_run row (with `refreshed`: whether this call recomputed).
    """
    if db.current_scope() is not None:
        # Set off by a signed-in request: the stored defects are the whole jurisdiction's, so
        # they are computed as the owner; the caller reads them back through its own scope.
        with db.system(db.url_of(conn)) as owner:
            return refresh(owner, config, force)
    config = as_config(config)
    versions = _versions(conn)
    last = db.one(conn, "SELECT * FROM coverage_run ORDER BY id DESC LIMIT 1")
    if (
        not force
        and last
        and last["grid_version"] == versions.get("grid", 0)
        and last["admin_version"] == versions.get("admin_unit", 0)
        and last["config"] == config.to_dict()
    ):
        return dict(last, refreshed=False)
    report = analyse(conn, None, config)
    with db.transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_REFRESH_LOCK_KEY,))
        cur.execute("DELETE FROM coverage_run")
        cur.execute(
            """INSERT INTO coverage_run (grid_version, admin_version, config, score, scores, summary, seconds)
                       VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                versions.get("grid", 0),
                versions.get("admin_unit", 0),
                Json(config.to_dict()),
                report.score["score"],
                Json({s["admin_code"]: s["score"] for s in report.scores}),
                Json(report.summary()),
                report.seconds["total"],
            ),
        )
        run_id = cur.fetchone()[0]
        db.copy_rows(
            cur,
            "coverage_defect",
            ["run_id", "kind", "grid_codes", "admin_code", "area_m2", "width_m", "lon", "lat", "grid_version", "geom"],
            (
                (
                    run_id,
                    d.kind,
                    d.grid_codes,
                    d.admin_code,
                    d.area_m2,
                    d.width_m,
                    d.lon,
                    d.lat,
                    versions.get("grid", 0),
                    "SRID=4326;" + shapely.to_wkt(d.geom, rounding_precision=-1),
                )
                for d in report.defects
            ),
        )
    return dict(db.one(conn, "SELECT * FROM coverage_run WHERE id = %s", (run_id,)), refreshed=True)


def stored_defects(conn, community_code: str | None = None) -> list[dict]:
    """The stored defects as GeoJSON features (what the map layer draws, colored by kind)."""
    found = db.rows(
        conn,
        """
        SELECT kind, grid_codes, admin_code, area_m2, width_m, lon, lat, grid_version, ST_AsGeoJSON(geom, 7)::json AS geometry
          FROM coverage_defect WHERE %(c)s::text IS NULL OR admin_code = %(c)s ORDER BY kind, area_m2 DESC""",
        dict(c=community_code),
    )
    return [dict(type="Feature", geometry=r.pop("geometry"), properties=r) for r in found]
