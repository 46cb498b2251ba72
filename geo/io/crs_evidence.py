"""Evidence about a file's coordinate system from its own content: grid codes against the map.

Why: a .prj says what the exporting tool was told, not what the coordinates are. GCJ-02
data (picked on AMap) behind a WGS84 .prj put 14 grids silently in the wrong community
(issue #14). A grid code names its community (its first 12 digits); when more than a few
grids lie in another community than their code says, the other systems are tried, and the
one under which the codes agree is used, said in the output; otherwise a warning names the
likely cause before anything is written.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo import crs as crs_mod
from geo import db
from geo.io import geometry, values
from geo.io.geometry import crs_line
from geo.io.problems import Problems

CRS_DISAGREE_MIN = 3  # grids whose code names another community than the map, before the CRS is doubted


def check_grids(prep) -> None:
    """Grids whose codes name another community than the one they lie in, by more than a
    few: the usual cause is coordinates in another system than the file says (GCJ-02 data
    behind a WGS84 .prj). If reading them in another system makes the codes agree, that
    system is used and the output says why; otherwise a warning names the likely cause."""
    conn, source = prep.ctx.conn, prep.source
    mapping = prep.mapping
    if "code" not in mapping.fields:
        return
    codes = np.array([_code_or_none(v) for v in source.frame[mapping.fields["code"]].tolist()], dtype=object)
    units = db.rows(conn, "SELECT code, ST_AsBinary(geom) AS wkb FROM admin_unit WHERE level = 'community' AND geom IS NOT NULL")
    coded = np.flatnonzero([c is not None and g is not None for c, g in zip(codes, prep.geoms)])
    if not units or len(coded) < CRS_DISAGREE_MIN:
        return
    unit_codes = np.array([u["code"] for u in units], dtype=object)
    tree = shapely.STRtree(shapely.from_wkb([bytes(u["wkb"]) for u in units]))

    def disagreements(geoms) -> int:
        points = shapely.point_on_surface(geoms)
        hits = tree.query(points, predicate="within")
        where = np.full(len(points), None, dtype=object)
        where[hits[0]] = unit_codes[hits[1]]
        return int(sum(1 for c, w in zip(codes[coded], where) if c[:12] != w))

    base = disagreements(prep.geoms[coded])
    if base < max(CRS_DISAGREE_MIN, 0.1 * len(coded)):
        return
    raw = np.array(source.geometry, dtype=object)[coded]
    geographic = prep.crs.key in (crs_mod.WGS84.key, crs_mod.CGCS2000.key)
    candidates = (crs_mod.GCJ02, crs_mod.BD09) if geographic else (crs_mod.WGS84,) if prep.crs.epsg is None else ()
    best = None
    for alt in candidates:
        try:
            moved = crs_mod.geometry_to_wgs84(shapely.force_2d(raw), alt)
        except Exception:  # noqa: BLE001 (a system that cannot even convert these is not the answer)
            continue
        n = disagreements(moved)
        if best is None or n < best[1]:
            best = (alt, n)
    if best is not None and best[1] <= base / 4:
        alt, n = best
        why = (
            f"{prep.crs_reason}, but read so {base} of {len(coded)} grids lie outside the community their code names; "
            f"read as {alt.label} {len(coded) - n} agree"
        )
        prep.crs, prep.crs_reason = alt, why
        prep.crs_line = crs_line(alt, why)
        prep.problems.crs_line = prep.crs_line
        prep.ctx.say("警告 warning: " + why + f": using {alt.label}; pass --crs to decide otherwise")
        prep.warnings.append(f"coordinate system corrected: {why}")
        problems = Problems(source, prep.path, prep.crs_line)
        problems.file, problems.by_row, problems.values = prep.problems.file, {}, {}
        prep.geoms, prep.repairs = geometry.prepare(source, geometry.POLYGON, alt, problems)
        prep.problems = problems
    else:
        prep.warnings.append(
            f"{base} of {len(coded)} grids lie outside the community their code names: the coordinate system may be "
            f"wrong ({prep.crs.label} assumed: {prep.crs_reason}); check it, or pass --crs"
        )
        prep.ctx.say("警告 warning: " + prep.warnings[-1])


def _code_or_none(v) -> str | None:
    try:
        return values.code(15)(v)
    except (ValueError, TypeError):
        return None
