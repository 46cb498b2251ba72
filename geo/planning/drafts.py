"""Draft plans of a community's grids: edits, each checked at once, with undo and redo.

A plan starts as a copy of the community's current official grids (plan_grid) and every
edit rewrites rows of that copy only; `grid` is touched once, when the plan is published
(geo.planning.publish). An edit is computed in memory, checked (geo.planning.check: gaps,
overlaps, crossings, household loads, score before and after) and refused when it would
leave more gap or overlap than before, unless the planner insists (`force`). Its exact
before/after rows go onto the plan's edit stack, so undo restores the previous geometry
bit for bit and redo replays it.

Moving households between grids is done by moving the boundary, not by an override
list: a household's grid is derived from its point (locate_points, coverage analysis,
the big screen's counts), so an override would be silently undone by the next
re-derivation and would make the map lie about who serves whom. `move_households`
therefore carves the households' surroundings out of one grid into its neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from psycopg2.extras import Json
from shapely import ops

from geo import db, streets
from geo.coverage.geometry import Meter, polygon_parts
from geo.coverage.standards import as_config
from geo.planning.check import Check, Context, check, worsened
from geo.planning.snapping import Snapper

COLUMNS = ("code", "name", "kind", "household_standard", "action")


class PlanError(ValueError):
    """An edit or a plan operation that cannot be done as asked; the message says why."""


@dataclass
class EditResult:
    applied: bool
    op: str
    before: Check
    after: Check
    worse: list[str]  # what the edit made worse ('gap', 'overlap', 'crossing'); empty when fine
    codes: list[str]  # grids the edit wrote

    def to_dict(self) -> dict:
        return dict(
            applied=self.applied,
            op=self.op,
            worse=self.worse,
            codes=self.codes,
            score_before=self.before.score,
            score_after=self.after.score,
            before=self.before.summary,
            after=self.after.to_dict(),
        )


# --------------------------------------------------------------------------- plans


def _community(conn, admin_code: str) -> dict:
    unit = db.one(conn, "SELECT code, name, level FROM admin_unit WHERE code = %s", (admin_code,))
    if not unit or unit["level"] != "community":
        raise PlanError(f"{admin_code!r} is not a community (村/社区, 12 digits) of this database")
    return unit


def default_name(conn, admin_code: str) -> str:
    """The name a new draft of the community gets (shown before the draft exists, too)."""
    return f"{_community(conn, admin_code)['name']} 网格调整"


def create(conn, admin_code: str, name: str | None = None, created_by: str | None = None) -> int:
    """A new draft plan holding a copy of the community's current official grids."""
    unit = _community(conn, admin_code)
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO plan (name, admin_code, created_by, base_grid_version)
                       VALUES (%s, %s, %s, (SELECT version FROM data_version WHERE name = 'grid')) RETURNING id""",
            (name or default_name(conn, unit["code"]), admin_code, created_by),
        )
        plan_id = cur.fetchone()[0]
        cur.execute(
            """INSERT INTO plan_grid (plan_id, code, name, kind, household_standard, geom, action)
                       SELECT %s, code, name, kind, household_standard, geom, 'keep' FROM grid_current
                        WHERE admin_code = %s""",
            (plan_id, admin_code),
        )
    return plan_id


def get(conn, plan_id: int) -> dict:
    plan = db.one(conn, "SELECT * FROM plan WHERE id = %s", (plan_id,))
    if not plan:
        raise PlanError(f"no plan {plan_id}")
    return plan


def plans(conn, admin_code: str | None = None) -> list[dict]:
    return db.rows(
        conn,
        """
        SELECT p.id, p.name, p.admin_code, a.name AS community, p.status, p.created_by, p.created_at, p.published_at,
               (SELECT count(*) FROM plan_grid g WHERE g.plan_id = p.id AND g.action <> 'keep') AS changed,
               (SELECT count(*) FROM plan_edit e WHERE e.plan_id = p.id AND NOT e.undone) AS edits
          FROM plan p JOIN admin_unit a ON a.code = p.admin_code
         WHERE %(c)s::text IS NULL OR p.admin_code = %(c)s ORDER BY p.id DESC""",
        dict(c=admin_code),
    )


def grids(conn, plan_id: int, include_removed: bool = False) -> dict[str, dict]:
    """The plan's grids: code -> {name, kind, household_standard, action, geom (shapely)}."""
    out = {}
    for r in db.rows(
        conn,
        """SELECT code, name, kind, household_standard, action, ST_AsBinary(geom) AS wkb
                                FROM plan_grid WHERE plan_id = %s ORDER BY code""",
        (plan_id,),
    ):
        wkb = r.pop("wkb")
        r["geom"] = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
        if r["geom"] is not None or include_removed:
            out[r["code"]] = r
    return out


def current_grids(conn, admin_code: str) -> dict[str, dict]:
    """The community's grids in force, shaped as a plan's grids (`grids`, every action 'keep'):
    what the workbench shows and checks before any draft exists."""
    out = {}
    for r in db.rows(
        conn,
        """SELECT code, name, kind, household_standard, 'keep' AS action, ST_AsBinary(geom) AS wkb
             FROM grid_current WHERE admin_code = %s AND geom IS NOT NULL ORDER BY code""",
        (admin_code,),
    ):
        r["geom"] = shapely.from_wkb(bytes(r.pop("wkb")))
        out[r["code"]] = r
    return out


def context(conn, plan_id: int, config=None) -> Context:
    """The community, its neighbours' grids and its households, for checking this plan."""
    return community_context(conn, get(conn, plan_id)["admin_code"], config)


def community_context(conn, code: str, config=None) -> Context:
    """The community, its neighbours' grids and its households (a plan's or the grids in force)."""
    unit = db.one(
        conn,
        """SELECT a.urban, ST_AsBinary(a.geom) AS wkb, j.metric_srid FROM admin_unit a
                             JOIN jurisdiction j ON a.code LIKE j.code || '%%' WHERE a.code = %s""",
        (code,),
    )
    if not unit or unit["wkb"] is None:
        raise PlanError(f"community {code} has no boundary")
    area = shapely.from_wkb(bytes(unit["wkb"]))
    neighbours = {
        r["code"]: shapely.from_wkb(bytes(r["wkb"]))
        for r in db.rows(
            conn,
            """
        SELECT code, ST_AsBinary(geom) AS wkb FROM grid_current
         WHERE admin_code <> %(c)s AND ST_Intersects(geom, ST_GeomFromWKB(%(a)s, 4326))""",
            dict(c=code, a=area.wkb),
        )
    }
    with conn.cursor() as cur:
        cur.execute(
            """SELECT ST_X(geom), ST_Y(geom), persons FROM household
                        WHERE admin_code = %(c)s OR ST_Intersects(geom, ST_GeomFromWKB(%(a)s, 4326)) ORDER BY id""",
            dict(c=code, a=area.wkb),
        )
        hh = np.array(cur.fetchall(), dtype=float).reshape(-1, 3)
    return Context(
        code,
        area,
        neighbours,
        hh[:, 0],
        hh[:, 1],
        hh[:, 2],
        Meter(int(unit["metric_srid"])),
        as_config(config),
        bool(unit["urban"]),
        streets.roads_over(conn, code),
    )


def evaluate(conn, plan_id: int, ctx: Context | None = None) -> Check:
    return check(ctx or context(conn, plan_id), grids(conn, plan_id))


# --------------------------------------------------------------------------- edit stack


def _row(g: dict | None) -> dict | None:
    if g is None:
        return None
    row = {k: g.get(k) for k in COLUMNS}
    row["wkb"] = None if g.get("geom") is None else shapely.to_wkb(_multi(g["geom"]), hex=True)
    return row


def _multi(geom):
    parts = polygon_parts(geom)
    if not parts:
        raise PlanError("the edit leaves an empty grid; remove it by merging it into a neighbour instead")
    return shapely.MultiPolygon(parts)


def _write(cur, plan_id: int, rows: dict[str, dict | None]) -> None:
    for code, row in rows.items():
        cur.execute("DELETE FROM plan_grid WHERE plan_id = %s AND code = %s", (plan_id, code))
        if row is not None:
            cur.execute(
                """INSERT INTO plan_grid (plan_id, code, name, kind, household_standard, action, geom)
                           VALUES (%(p)s, %(code)s, %(name)s, %(kind)s, %(household_standard)s, %(action)s,
                                   ST_GeomFromWKB(decode(%(wkb)s, 'hex'), 4326))""",
                dict(row, p=plan_id),
            )


def own_ground(conn):
    """The outline of the signed-in account's unit (its town, say), or None for the owner
    (the CLI, imports) or a unit without one: what the account's grids may cover."""
    wkb = db.scalar(conn, "SELECT ST_AsBinary(geom) FROM admin_unit WHERE code = quanyu_unit()")
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


GROUND_SLACK_DEG = 1e-7  # about 1 cm: a grid along the unit's edge is inside it, floating-point noise aside


def _within_ground(changes: dict[str, dict | None], ground) -> dict[str, dict | None]:
    """The changes with every grid clipped to the account's unit.

    Why: publishing relocates the points under a grid (locate_points, as the owner), so a
    town planner's grid drawn over a community of another town took in its households and
    incidents: their admin_code became the planner's community, the other town lost them
    and the planner's town could read them (found by attacking the running app). A grid
    may cross its community's boundary within the account's unit (a crossing, shown and
    refused unless forced), never the unit's own boundary."""
    if ground is None:
        return changes
    slack = shapely.buffer(ground, GROUND_SLACK_DEG)
    out = {}
    for code, g in changes.items():
        if g is None or g.get("geom") is None or shapely.covers(slack, g["geom"]):
            out[code] = g
            continue
        inside = polygon_parts(shapely.intersection(g["geom"], ground))
        if not inside:
            raise PlanError(f"网格 {code} 不在本账号的辖区内 (grid {code} lies outside the unit of this account)")
        out[code] = dict(g, geom=shapely.MultiPolygon(inside))
    return out


def _draft(conn, plan_id: int) -> dict:
    plan = get(conn, plan_id)
    if plan["status"] != "draft":
        raise PlanError(f"plan {plan_id} is {plan['status']}: only a draft can be edited")
    return plan


def _stack_pointer(conn, plan_id: int) -> int:
    return db.scalar(conn, "SELECT COALESCE(max(seq), 0) FROM plan_edit WHERE plan_id = %s AND NOT undone", (plan_id,))


def apply(
    conn,
    plan_id: int,
    op: str,
    changes: dict[str, dict | None],
    note: str | None = None,
    force: bool = False,
    ctx: Context | None = None,
) -> EditResult:
    """Check the changes (code -> new grid dict, None to remove) against the plan and save
    them as one edit unless they make coverage worse (then only with `force`)."""
    _draft(conn, plan_id)
    ctx = ctx or context(conn, plan_id)
    changes = _within_ground(changes, own_ground(conn))
    current = grids(conn, plan_id, include_removed=True)
    live = {c: g for c, g in current.items() if g["geom"] is not None}
    after_grids = dict(live)
    for code, g in changes.items():
        if g is None or g.get("geom") is None:
            after_grids.pop(code, None)
        else:
            after_grids[code] = dict(g, geom=_multi(g["geom"]))
    before, after = check(ctx, live), check(ctx, after_grids)
    worse = worsened(before, after)
    result = EditResult(not worse or force, op, before, after, worse, sorted(changes))
    if not result.applied:
        return result
    old_rows = {c: _row(current.get(c)) for c in changes}
    new_rows = {}
    for code, g in changes.items():
        base = current.get(code)
        if g is None or g.get("geom") is None:
            new_rows[code] = None if base is None or base["action"] == "new" else dict(_row(base), action="removed", wkb=None)
        else:
            action = "new" if base is None or base["action"] == "new" else "changed"
            new_rows[code] = _row(dict(g, action=action))
    with db.transaction(conn) as cur:
        seq = _stack_pointer(conn, plan_id) + 1
        cur.execute("DELETE FROM plan_edit WHERE plan_id = %s AND seq >= %s", (plan_id, seq))  # the redo branch dies
        _write(cur, plan_id, new_rows)
        cur.execute(
            "INSERT INTO plan_edit (plan_id, seq, op, note, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
            (plan_id, seq, op, note, _json(old_rows), _json(new_rows)),
        )
    return result


def _json(value):
    return Json(value)


def _step(conn, plan_id: int, undoing: bool) -> dict | None:
    """Move the stack pointer one edit down (undo: write the rows the edit replaced) or up
    (redo: write the rows it wrote); None when there is nothing to move over."""
    _draft(conn, plan_id)
    edit = db.one(
        conn,
        """SELECT seq, op, before, after FROM plan_edit WHERE plan_id = %(p)s AND undone <> %(u)s
                            ORDER BY CASE WHEN %(u)s THEN -seq ELSE seq END LIMIT 1""",
        dict(p=plan_id, u=undoing),
    )
    if not edit:
        return None
    with db.transaction(conn) as cur:
        _write(cur, plan_id, edit["before"] if undoing else edit["after"])
        cur.execute("UPDATE plan_edit SET undone = %s WHERE plan_id = %s AND seq = %s", (undoing, plan_id, edit["seq"]))
    return dict(seq=edit["seq"], op=edit["op"])


def undo(conn, plan_id: int) -> dict | None:
    """Restore the rows the last edit replaced, exactly; None when there is nothing to undo."""
    return _step(conn, plan_id, undoing=True)


def redo(conn, plan_id: int) -> dict | None:
    """Replay the first undone edit; None when there is nothing to redo."""
    return _step(conn, plan_id, undoing=False)


def history(conn, plan_id: int) -> dict:
    """How deep undo and redo go (for the buttons) and the edits in order."""
    edits = db.rows(conn, "SELECT seq, op, note, undone, created_at FROM plan_edit WHERE plan_id = %s ORDER BY seq", (plan_id,))
    return dict(undo=sum(not e["undone"] for e in edits), redo=sum(e["undone"] for e in edits), edits=edits)


def abandon(conn, plan_id: int) -> None:
    _draft(conn, plan_id)
    with db.transaction(conn) as cur:
        cur.execute("UPDATE plan SET status = 'abandoned' WHERE id = %s", (plan_id,))


# --------------------------------------------------------------------------- edits


def _grid(live: dict, code: str) -> dict:
    if code not in live:
        raise PlanError(f"grid {code} is not in this plan (or was removed)")
    return live[code]


def _snapper(ctx: Context, live: dict, exclude: set[str]) -> Snapper:
    """Snap targets: the other grids, the neighbours' grids, the community's edge and, where the
    county's road layer is imported, the streets (以路为界: a boundary drawn near a road lands on it)."""
    others = [g["geom"] for c, g in live.items() if c not in exclude] + list(ctx.neighbours.values())
    roads = [ctx.roads] if ctx.roads is not None else []
    return Snapper(others + [ctx.area.boundary] + roads)


def next_code(conn, plan_id: int, admin_code: str, taken: set[str] = frozenset()) -> str:
    """The community's next free grid code (12-digit community code + 3-digit number),
    never reusing a code that any version in `grid` or this plan has had."""
    used = {
        r["code"]
        for r in db.rows(
            conn,
            """SELECT code FROM grid WHERE admin_code = %(c)s
                                                UNION SELECT code FROM plan_grid WHERE plan_id = %(p)s""",
            dict(c=admin_code, p=plan_id),
        )
    } | set(taken)
    n = max((int(c[12:]) for c in used if c.startswith(admin_code)), default=0) + 1
    if n > 999:
        raise PlanError(f"community {admin_code} has used all 999 grid numbers")
    return f"{admin_code}{n:03d}"


def draw(
    conn, plan_id: int, geom, name: str | None = None, kind: str | None = None, tolerance: float = 0.0, force: bool = False
) -> EditResult:
    """A new grid (snapped onto its neighbours within `tolerance` degrees)."""
    plan = _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    live = grids(conn, plan_id)
    geom = _snapper(ctx, live, set()).snap(geom, tolerance)
    code = next_code(conn, plan_id, plan["admin_code"])
    kind = kind or ("urban" if ctx.urban else "rural")
    new = dict(
        code=code,
        name=name or f"新网格{code[-3:]}",
        kind=kind,
        household_standard=ctx.config.household_standard_urban if kind == "urban" else None,
        geom=geom,
    )
    return apply(conn, plan_id, "draw", {code: new}, force=force, ctx=ctx)


def reshape(conn, plan_id: int, code: str, geom, tolerance: float = 0.0, force: bool = False) -> EditResult:
    """A grid's new boundary (vertices moved), snapped onto its neighbours."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    live = grids(conn, plan_id)
    g = _grid(live, code)
    snapped = _snapper(ctx, live, {code}).snap(geom, tolerance)
    return apply(conn, plan_id, "reshape", {code: dict(g, geom=snapped)}, force=force, ctx=ctx)


def split(conn, plan_id: int, code: str, line, tolerance: float = 0.0, force: bool = False) -> EditResult:
    """A grid cut in two (or more) along a drawn line; the largest piece keeps the code."""
    plan = _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    live = grids(conn, plan_id)
    g = _grid(live, code)
    line = _snapper(ctx, live, {code}).snap(line, tolerance) if tolerance else line
    pieces = sorted(polygon_parts(ops.split(g["geom"], line)), key=lambda p: -p.area)
    if len(pieces) < 2:
        raise PlanError("the line does not cut the grid in two: draw it across the grid from edge to edge")
    changes, taken = {code: dict(g, geom=pieces[0])}, set()
    for piece in pieces[1:]:
        new_code = next_code(conn, plan_id, plan["admin_code"], taken)
        taken.add(new_code)
        changes[new_code] = dict(g, code=new_code, name=f"{g['name']}-{len(taken)}", geom=piece)
    return apply(conn, plan_id, "split", changes, force=force, ctx=ctx)


def merge(conn, plan_id: int, codes: list[str], force: bool = False) -> EditResult:
    """Grids merged into one (their union); the first code keeps the merged grid."""
    _draft(conn, plan_id)
    if len(set(codes)) < 2:
        raise PlanError("select at least two grids to merge")
    live = grids(conn, plan_id)
    chosen = [_grid(live, c) for c in dict.fromkeys(codes)]
    union = shapely.union_all([g["geom"] for g in chosen])
    keep = chosen[0]
    changes = {keep["code"]: dict(keep, geom=union)}
    changes.update({g["code"]: None for g in chosen[1:]})
    return apply(conn, plan_id, "merge", changes, force=force)


def fill(conn, plan_id: int, code: str, piece, force: bool = False) -> EditResult:
    """A gap (or any piece) given to a grid: the grid becomes its union with the piece,
    clipped to the community so that filling never crosses the boundary."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    g = _grid(grids(conn, plan_id), code)
    grown = shapely.union(g["geom"], shapely.intersection(piece, ctx.area))
    return apply(conn, plan_id, "fill", {code: dict(g, geom=grown)}, force=force, ctx=ctx)


def trim(conn, plan_id: int, code: str, piece, force: bool = False) -> EditResult:
    """A piece (an overlap, a crossing) taken out of a grid."""
    _draft(conn, plan_id)
    g = _grid(grids(conn, plan_id), code)
    return apply(conn, plan_id, "trim", {code: dict(g, geom=shapely.difference(g["geom"], piece))}, force=force)


def move_households(
    conn, plan_id: int, from_code: str, to_code: str, lon, lat, corridor_deg: float = 0.00005, force: bool = False
) -> EditResult:
    """Households at (lon, lat) handed from one grid to a neighbour by moving the boundary.

    The piece that changes grid is the households' own Voronoi cells among all households
    of `from_code` (clipped to it): exactly the chosen households move (with any others at
    the very same point), and the new boundary runs halfway between them and the
    neighbours who stay. A chosen cell that does not reach `to_code` is joined to it by a
    corridor (corridor_deg wide, about 5 m) along the shortest way to the shared boundary,
    which carries along only households standing in it. The result must stay contiguous,
    or it is refused."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    live = grids(conn, plan_id)
    src, dst = _grid(live, from_code), _grid(live, to_code)
    shared = shapely.intersection(shapely.boundary(src["geom"]), shapely.boundary(dst["geom"]))
    if shapely.length(shared) <= 0:
        raise PlanError(f"grid {from_code} does not border grid {to_code}: households can only move to a neighbouring grid")
    chosen = [shapely.Point(x, y) for x, y in zip(np.asarray(lon, float), np.asarray(lat, float))]
    points = shapely.multipoints(chosen)
    inside = shapely.contains_xy(src["geom"], ctx.lon, ctx.lat)
    resident = shapely.multipoints(np.column_stack([ctx.lon[inside], ctx.lat[inside]])) if inside.any() else points
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.union(resident, points), extend_to=src["geom"].envelope))
    mine = [c for c in cells if shapely.intersects(c, points)]
    parts = polygon_parts(shapely.intersection(shapely.union_all(mine), src["geom"])) if mine else []
    if not parts:
        raise PlanError(f"none of these households lies in grid {from_code}")
    pieces = []
    for part in parts:
        pieces.append(part)
        if shapely.length(shapely.intersection(shapely.boundary(part), shared)) > 0:
            continue
        for pt in (p for p in chosen if shapely.intersects(part, p)):
            _, there = ops.nearest_points(pt, shared)
            pieces.append(shapely.buffer(shapely.LineString([pt, there]), corridor_deg / 2, cap_style="flat"))
    piece = shapely.intersection(shapely.union_all(pieces), src["geom"])
    changes = {
        from_code: dict(src, geom=_without_dust(shapely.difference(src["geom"], piece))),
        to_code: dict(dst, geom=_without_dust(shapely.union(dst["geom"], piece))),
    }
    if any(len(polygon_parts(c["geom"])) != 1 for c in changes.values()):
        raise PlanError("moving these households would leave a grid in two pieces; pick households next to the other grid")
    return apply(conn, plan_id, "move", changes, force=force, ctx=ctx)


def _without_dust(geom, min_area_deg2: float = 1e-12):
    """The polygons of an overlay result without its zero-width crumbs (well under 0.01 m²),
    which a Voronoi edge meeting a grid edge at a grazing angle leaves behind."""
    parts = [p for p in polygon_parts(geom) if p.area > min_area_deg2]
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()


def replace_all(conn, plan_id: int, geoms: list, op: str = "accept_proposal", force: bool = False) -> EditResult:
    """The plan's grids replaced by a new set (an accepted auto-partition). A code carries a
    grid's history (its incidents, its staff, its versions), so it stays with the territory:
    each new grid keeps the code of the old grid it mostly covers (largest overlaps first,
    each code once), a new grid over mostly new ground gets a new code, and the codes left
    over are retired. Reusing 001-003 in order gave old codes to unrelated areas."""
    plan = _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    live = grids(conn, plan_id)
    keep = match_codes(live, geoms)
    changes, taken = {}, set()
    kind = "urban" if ctx.urban else "rural"
    for i, geom in enumerate(geoms):
        if i in keep:
            changes[keep[i]] = dict(live[keep[i]], geom=geom)
            continue
        code = next_code(conn, plan_id, plan["admin_code"], taken)
        taken.add(code)
        changes[code] = dict(
            code=code,
            name=f"新网格{code[-3:]}",
            kind=kind,
            geom=geom,
            household_standard=ctx.config.household_standard_urban if kind == "urban" else None,
        )
    changes.update({c: None for c in sorted(set(live) - set(keep.values()))})
    return apply(conn, plan_id, op, changes, force=force, ctx=ctx)


def match_codes(live: dict[str, dict], geoms: list, share: float = 0.5) -> dict[int, str]:
    """Index of a new grid -> the old code it keeps: pairs taken by overlap area, largest
    first, each side once, and only where the overlap is at least `share` of the new grid
    or of the old one (the same territory, give or take a boundary move)."""
    pairs = []
    for i, geom in enumerate(geoms):
        for code, g in live.items():
            overlap = shapely.area(shapely.intersection(geom, g["geom"]))
            if overlap > 0 and overlap >= share * min(shapely.area(geom), shapely.area(g["geom"])):
                pairs.append((overlap, i, code))
    out: dict[int, str] = {}
    for _, i, code in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if i not in out and code not in out.values():
            out[i] = code
    return out


# --------------------------------------------------------------------------- for the workbench


def communities(conn) -> list[dict]:
    """Every community with its town, for the picker (town · community)."""
    return db.rows(
        conn,
        """SELECT c.code, c.name, t.name AS town FROM admin_unit c
                              LEFT JOIN admin_unit t ON t.code = c.parent_code
                             WHERE c.level = 'community' AND c.geom IS NOT NULL ORDER BY c.code""",
    )


def latest_draft(conn, admin_code: str) -> int | None:
    """The community's latest draft, None when it has none (reading only: looking at a
    community must not start a plan nobody asked for)."""
    return db.scalar(conn, "SELECT max(id) FROM plan WHERE admin_code = %s AND status = 'draft'", (admin_code,))


def open_draft(conn, admin_code: str, created_by: str | None = None, name: str | None = None) -> int:
    """The community's latest draft, or a new one: called on the first edit, so a draft holds
    someone's work and repeated edits do not pile up drafts."""
    return latest_draft(conn, admin_code) or create(conn, admin_code, name=name, created_by=created_by)


def rename(conn, plan_id: int, name: str) -> None:
    _draft(conn, plan_id)
    if not (name or "").strip():
        raise PlanError("a plan needs a name")
    with db.transaction(conn) as cur:
        cur.execute("UPDATE plan SET name = %s WHERE id = %s", (name.strip(), plan_id))
