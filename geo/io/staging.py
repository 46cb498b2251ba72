"""The staging table of an import, and where its points lie (grid, community, jurisdiction).

Why: rows go through a TEMP table loaded with COPY, and the spatial work is one set-based
statement each, so that 100k rows take seconds, not the minutes row-by-row INSERTs would.
"""

from __future__ import annotations

import io
import itertools
from datetime import datetime

import numpy as np
import shapely

from geo import assign, db

TOLERANCE_M = 50  # points this close outside the jurisdiction are accepted (GPS noise)
_TOLERANCE_DEG = 0.001  # index pre-filter for TOLERANCE_M (50 m < 0.001 deg of lon below 60 N)
CHUNK = 20_000


def stage(cur, ctx, spec, records: list[dict], geoms, located=None) -> None:
    """TEMP table import_stage(n, columns..., derived..., geom), the columns filled by one COPY.

    The rows are written by the csv module's C writer straight from column lists (about 3x
    faster than a pandas frame's to_csv); `located` adds the grid_code/admin_code columns
    found in memory (see locate). Rows with problems (None in `records`) are left out."""
    keep = [i for i, rec in enumerate(records) if rec is not None]
    ctx.say(f"写入 writing {len(keep)} rows to the staging table …", 0.7)
    derived = spec.derived + ((("grid_code", "varchar(15)"),) if located is not None else ())
    defs = ", ".join(f"{name} {sqltype}" for name, sqltype in spec.columns + derived)
    geom_col = ""
    if spec.geometry is not None:
        geom_type = "Point" if spec.geometry == "point" else "MultiPolygon"
        geom_col = f", geom geometry({geom_type}, 4326)"
    cur.execute(f"CREATE TEMP TABLE import_stage (n integer PRIMARY KEY, {defs}{geom_col}) ON COMMIT DROP")
    names = ["n"] + [name for name, _ in spec.columns]
    columns = [keep]
    for name, sqltype in spec.columns:
        values = [records[i].get(name) for i in keep]
        if sqltype.endswith("[]"):
            values = [db._copy_value(v) for v in values]  # arrays as PostgreSQL literals
        elif any(isinstance(v, datetime) for v in values[:1000]) or sqltype == "timestamptz":
            values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        columns.append(values)
    if located is not None:
        names += ["grid_code", "admin_code"]
        columns += [located[0][keep].tolist(), located[1][keep].tolist()]
    if spec.geometry is not None:
        names.append("geom")
        chosen = geoms[keep] if len(keep) else np.empty(0, dtype=object)
        columns.append(shapely.to_wkb(shapely.set_srid(chosen, 4326), hex=True, include_srid=True).tolist())
    # COPY's text format, built by column: each value as text once (None as \N, backslash, tab
    # and line ends escaped, so that a cell holding "\N" stays that text), the rows joined by
    # str.join over zip, not by a writer per field (the csv module cost 1 us a field).
    columns = [_text_column(c) for c in columns]
    rows = zip(*columns)
    for _start in range(0, len(keep), CHUNK * 10):
        lines = list(map("\t".join, itertools.islice(rows, CHUNK * 10)))
        buf = io.StringIO("\n".join(lines) + "\n" if lines else "")
        cur.copy_expert(f"COPY import_stage ({', '.join(names)}) FROM STDIN", buf)
    if located is None and spec.geometry is not None:
        cur.execute("CREATE INDEX ON import_stage USING gist (geom)")
    cur.execute("ANALYZE import_stage")


_SPECIAL = ("\\", "\t", "\n", "\r")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text_column(values: list) -> list[str]:
    """One column as COPY text: None as \\N, other values as str() gives them (as the csv
    module wrote them), escaped only when the column's text holds a backslash, tab or line
    end (checked once over the joined column)."""
    out = ["\\N" if v is None else v if type(v) is str else str(v) for v in values]
    joined = "".join([v for v in values if type(v) is str])  # numbers and times never need escaping
    if any(c in joined for c in _SPECIAL):
        out = [v if orig is None else v.translate(_ESCAPES) for v, orig in zip(out, values)]
    return out


def locate(conn, geoms) -> tuple[np.ndarray, np.ndarray]:
    """Grid and community of every point, in memory (geo.assign: one bulk STRtree query, on
    every core) instead of one index probe per point in SQL. Same rules as locate_points()
    (0002): the smallest grid code on shared edges and overlaps, the grid's community; for a
    point in no grid, the most specific unit containing it. Points in no unit (or None) get
    admin_code None (checked in SQL with the tolerance, see assign_admin)."""
    n = len(geoms)
    grid_code = np.full(n, None, dtype=object)
    admin_code = np.full(n, None, dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    idx = np.flatnonzero(present)
    if not len(idx):
        return grid_code, admin_code
    points = geoms[idx]
    grids = db.rows(
        conn,
        """SELECT code, admin_code, ST_AsBinary(geom) AS wkb FROM grid
            WHERE valid_to IS NULL AND layer = 'official' ORDER BY code""",
    )
    if grids:
        won = assign.assign(points, shapely.from_wkb([bytes(r["wkb"]) for r in grids]))
        hit = won >= 0
        grid_code[idx[hit]] = np.array([r["code"] for r in grids], dtype=object)[won[hit]]
        admin_code[idx[hit]] = np.array([r["admin_code"] for r in grids], dtype=object)[won[hit]]
    rest = idx[grid_code[idx] == None]  # noqa: E711 (elementwise)
    if len(rest):  # only these need the units: few polygons, but large (real boundaries)
        units = db.rows(
            conn,
            "SELECT code, ST_AsBinary(geom) AS wkb FROM admin_unit WHERE geom IS NOT NULL ORDER BY length(code) DESC, level = 'city', code",
        )
        if units:
            won = assign.assign(geoms[rest], shapely.from_wkb([bytes(r["wkb"]) for r in units]))
            hit = won >= 0
            admin_code[rest[hit]] = np.array([r["code"] for r in units], dtype=object)[won[hit]]
    return grid_code, admin_code


def assign_admin(cur, ctx, problems) -> None:
    """admin_code of each point: the most specific unit containing it, else the nearest
    within TOLERANCE_M; a point near none is outside the jurisdiction (a problem of its row,
    or, with --skip-invalid, a rejected row)."""
    ctx.say("空间关联 matching points outside every unit (50 m tolerance) …", 0.75)
    cur.execute(
        """UPDATE import_stage s SET admin_code = COALESCE(
               (SELECT a.code FROM admin_unit a WHERE ST_Intersects(a.geom, s.geom)
                 ORDER BY length(a.code) DESC, a.level = 'city', a.code LIMIT 1),
               (SELECT a.code FROM admin_unit a
                 WHERE ST_DWithin(a.geom, s.geom, %(deg)s) AND ST_DWithin(a.geom::geography, s.geom::geography, %(m)s)
                 ORDER BY length(a.code) DESC, a.level = 'city', ST_Distance(a.geom::geography, s.geom::geography), a.code LIMIT 1))
            WHERE s.admin_code IS NULL""",
        {"deg": _TOLERANCE_DEG, "m": TOLERANCE_M},
    )
    cur.execute("SELECT n, ST_X(geom), ST_Y(geom) FROM import_stage WHERE admin_code IS NULL ORDER BY n")
    outside = cur.fetchall()
    if not outside:
        return
    if not db.scalar(ctx.conn, "SELECT EXISTS (SELECT 1 FROM admin_unit WHERE geom IS NOT NULL)"):
        problems.add(
            None,
            "no administrative boundaries in the database yet: import the boundary first (python -m geo import boundary FILE)",
        )
    else:
        name = db.scalar(ctx.conn, "SELECT string_agg(name, '、') FROM jurisdiction") or "the jurisdiction"
        for n, x, y in outside:
            problems.add(n, f"point ({x:.6f}, {y:.6f}) is outside {name} (more than {TOLERANCE_M} m from its boundary)")
    reject(cur, ctx, problems)


def reject(cur, ctx, problems) -> None:
    """After an SQL check added row problems: fail (default), or drop those rows from the
    stage (--skip-invalid; they go to the rejected file)."""
    if not ctx.skip_invalid or problems.file:
        problems.fail()
    if problems.rows:
        cur.execute("DELETE FROM import_stage WHERE n = ANY(%s)", (sorted(problems.rows),))
