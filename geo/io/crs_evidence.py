"""Evidence about a file's coordinate system from its own content: grid codes against the map,
and metres where degrees were assumed.

Why: a .prj says what the exporting tool was told, not what the coordinates are. GCJ-02
data (picked on AMap) behind a WGS84 .prj put 14 grids silently in the wrong community
(issue #14). A grid code names its community (its first 12 digits); when more than a few
grids lie in another community than their code says, the other systems are tried, and the
one under which the codes agree is used, said in the output; otherwise a warning names the
likely cause before anything is written.

A shapefile from a surveying office often comes without its .prj, in metres of a CGCS2000
Gauss-Kruger zone: read as WGS84 every feature was "outside China" and the user was told to
pass an EPSG code a clerk does not know. The coordinates say their zone when the easting
carries it (33622229 m: 3-degree zone 33), and the jurisdiction says it when they do not
(622229 m near Lijiang: CM 99°E); the zone under which they land in China (and in the
jurisdiction, once there is one) is used, and the output says which and why.
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
POINT_SAMPLE = 2000  # points whose address is read for a community name


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
    raw = np.array(source.geometry, dtype=object)[coded]
    _decide(prep, raw, disagreements, base, len(coded), "grids lie outside the community their code names")


def check_points(prep) -> None:
    """Points (households, incidents, places) whose address names a community they do not lie
    in, by more than a few: a register's 经度/纬度 picked on AMap are GCJ-02, yet a table says
    nothing and WGS84 is assumed, which moved every point some hundreds of metres, into the
    neighbouring community and grid, without a word. The address is the evidence, as the code
    is for grids: if another system makes the addresses agree, it is used and said."""
    conn, source, mapping = prep.ctx.conn, prep.source, prep.mapping
    if "address" not in mapping.fields or prep.crs.key not in (crs_mod.WGS84.key, crs_mod.CGCS2000.key):
        return
    units = db.rows(
        conn, "SELECT code, name, ST_AsBinary(geom) AS wkb FROM admin_unit WHERE level = 'community' AND geom IS NOT NULL"
    )
    by_name: dict[str, set] = {}
    for u in units:
        if u["name"] and len(u["name"]) >= 2:
            by_name.setdefault(u["name"], set()).add(u["code"])
    names = {n: next(iter(c)) for n, c in by_name.items() if len(c) == 1}  # a name two towns share says nothing
    if not names:
        return
    expected = np.full(len(source), None, dtype=object)
    addresses = source.frame[mapping.fields["address"]].tolist()
    located = [i for i, g in enumerate(prep.geoms) if g is not None and addresses[i] is not None]
    for i in located[:: max(1, len(located) // POINT_SAMPLE)]:  # a sample is evidence enough (history loads)
        address = addresses[i]
        found = [n for n in names if n in str(address)]
        found = [n for n in found if not any(n != m and n in m for m in found)]  # 新村 inside 新村社区
        if len({names[n] for n in found}) == 1:
            expected[i] = names[found[0]]
    named = np.flatnonzero(expected != None)  # noqa: E711 (elementwise)
    if len(named) < CRS_DISAGREE_MIN:
        return
    unit_codes = np.array([u["code"] for u in units], dtype=object)
    tree = shapely.STRtree(shapely.from_wkb([bytes(u["wkb"]) for u in units]))

    def disagreements(geoms) -> int:
        hits = tree.query(geoms, predicate="within")
        where = np.full(len(geoms), None, dtype=object)
        where[hits[0]] = unit_codes[hits[1]]
        return int(sum(1 for e, w in zip(expected[named], where) if e != w))

    base = disagreements(prep.geoms[named])
    raw = np.array(source.geometry, dtype=object)[named]
    _decide(prep, raw, disagreements, base, len(named), "points lie outside the community their address names")


def _decide(prep, raw, disagreements, base: int, total: int, what: str) -> None:
    """Given `base` of `total` features disagreeing with their own evidence in the system
    assumed: nothing when few do; else the other system under which at most a quarter as many
    disagree, used and said; else a warning that names the likely cause."""
    if base < max(CRS_DISAGREE_MIN, 0.1 * total):
        return
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
        why = f"{prep.crs_reason}, but read so {base} of {total} {what}; read as {alt.label} {total - n} agree"
        _reread(prep, alt, why)
    else:
        prep.warnings.append(
            f"{base} of {total} {what}: the coordinate system may be "
            f"wrong ({prep.crs.label} assumed: {prep.crs_reason}); check it, or pass --crs"
        )
        prep.ctx.say("警告 warning: " + prep.warnings[-1])


def _reread(prep, alt: crs_mod.Crs, why: str) -> None:
    """Read the file's geometries again in `alt`, said as a warning and kept with the batch."""
    prep.crs, prep.crs_reason = alt, why
    prep.crs_line = crs_line(alt, why)
    prep.ctx.say("警告 warning: " + why + f": using {alt.label}; pass --crs to decide otherwise")
    prep.warnings.append(f"coordinate system corrected: {why}")
    problems = Problems(prep.source, prep.path, prep.crs_line)
    problems.file, problems.by_row, problems.values = prep.problems.file, {}, {}
    prep.geoms, prep.repairs = geometry.prepare(prep.source, prep.spec.geometry, alt, problems)
    prep.problems = problems


SAMPLE = 200  # geometries converted to test a zone


def check_metres(prep) -> None:
    """Coordinates in metres where the file declares no CRS (a shapefile without its .prj, a
    table of x/y): read them in the CGCS2000 Gauss-Kruger zone they name (an easting with the
    zone prefix) or in the jurisdiction's zones (3 and 6 degrees), whichever puts them in China
    and in the jurisdiction. Nothing changes when the file declares its CRS, or when the
    coordinates are degrees, or when no zone fits (the rows then say "projected metres?")."""
    source = prep.source
    if prep.crs.key != crs_mod.WGS84.key or source.declared_crs is not None or source.coord_system or source.top_note:
        return
    raw = np.array([g for g in source.geometry if g is not None], dtype=object)
    if not len(raw):
        return
    bounds = shapely.bounds(raw)
    if not ((np.abs(bounds[:, [0, 2]]) > 180).all() and (np.abs(bounds[:, [1, 3]]) > 90).all()):
        return
    sample = shapely.force_2d(raw[:: max(1, len(raw) // SAMPLE)])
    area = _jurisdiction_box(prep.ctx.conn)
    for code, why in _zones(float(np.median(bounds[:, 0])), area):
        alt = crs_mod.parse_crs(code)
        moved = shapely.bounds(crs_mod.geometry_to_wgs84(sample, alt))
        inside = crs_mod.in_china(moved[:, 0], moved[:, 1]) & crs_mod.in_china(moved[:, 2], moved[:, 3])
        if area is not None:
            x0, y0, x1, y1 = area
            inside &= (moved[:, 2] >= x0) & (moved[:, 0] <= x1) & (moved[:, 3] >= y0) & (moved[:, 1] <= y1)
        if inside.mean() >= 0.9:
            reason = (
                f"{prep.crs_reason.split(', so WGS84')[0]}; the coordinates are metres, {why}: read as {alt.label} "
                "(CGCS2000; pass --crs if they are Xian 1980 or Beijing 1954)"
            )
            _reread(prep, alt, reason)
            return


def _zones(easting: float, area) -> list[tuple[int, str]]:
    """(EPSG, why) of the CGCS2000 Gauss-Kruger zones that may hold this easting."""
    zone = int(easting // 1_000_000)
    if 25 <= zone <= 45:  # 3-degree zone number as the easting's prefix
        return [(4513 + zone - 25, f"their easting starts with the 3-degree zone number {zone}")]
    if 13 <= zone <= 23:
        return [(4491 + zone - 13, f"their easting starts with the 6-degree zone number {zone}")]
    if zone != 0 or area is None:
        return []
    lon = (area[0] + area[2]) / 2
    cm3 = int(np.clip(3 * round(lon / 3), 75, 135))
    cm6 = int(np.clip(6 * np.floor(lon / 6) + 3, 75, 135))
    return [
        (4534 + (cm3 - 75) // 3, f"with no zone prefix, in the jurisdiction's 3-degree zone (CM {cm3}°E)"),
        (4502 + (cm6 - 75) // 6, f"with no zone prefix, in the jurisdiction's 6-degree zone (CM {cm6}°E)"),
    ]


def _jurisdiction_box(conn) -> tuple[float, float, float, float] | None:
    """The jurisdiction's bounds in WGS84, a little widened (None before the first boundary)."""
    row = db.rows(
        conn,
        """SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
             FROM (SELECT ST_Extent(u.geom) AS e FROM jurisdiction j JOIN admin_unit u ON u.code = j.code) s""",
    )
    if not row or row[0]["x0"] is None:
        return None
    r = row[0]
    return (r["x0"] - 0.05, r["y0"] - 0.05, r["x1"] + 0.05, r["y1"] + 0.05)


def _code_or_none(v) -> str | None:
    try:
        return values.code(15)(v)
    except (ValueError, TypeError):
        return None
