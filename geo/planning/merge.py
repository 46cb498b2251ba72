"""多网合一: one merged grid layer proposed from the departments' layers (police beats,
urban management, civil affairs, ...), accepted or rejected by the planner piece by piece.

Departmental polygons rarely match official grids one to one (a police beat may hold ten
grids, or half of one), so a department's opinion is read through its "home" polygons:
for each layer, every draft grid's home is the departmental polygon holding most of it.
The official grids and every layer are overlaid inside the community (the faces of all
their boundaries, noded and polygonized); in each face a layer votes for

  * the grid the face lies in, when the face lies in that grid's home polygon (agreement);
  * else the grid whose home is the polygon the face lies in and which borders the part of
    the face's grid inside that polygon (the department's boundary runs elsewhere and puts
    that part with that grid);
  * nothing, when the layer does not cover the face or names no bordering grid.

Faces where some layer votes for another grid are joined (same grid, same votes,
touching) into pieces. Each piece is proposed to the grid most layers vote for; a tie
goes to the choice that keeps the grids' household counts nearer their standard, then to
the grid it is in now. A piece whose proposal is its current grid is still listed: the
layers disagree there (with the official grid or with each other), and the planner may
give it to another voted grid. Pieces below MIN_AREA_M2 or thinner than MIN_WIDTH_M are
drawing noise of near-coincident boundaries and are dropped.

Accepting a piece is one plan edit (the piece leaves its grid and joins the chosen one),
checked and undoable like any other; rejecting it is an edit too (no geometry changes,
the piece's key in the note), so that it stops being proposed and undo brings it back.
A piece's key is a hash of its grid, candidates and rounded geometry: stable while the
draft around it does not change.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo import db
from geo.coverage.geometry import polygon_parts
from geo.planning.check import loads
from geo.planning.drafts import EditResult, PlanError, _draft, apply, context
from geo.planning.drafts import grids as plan_grids

MIN_AREA_M2 = 500.0
MIN_WIDTH_M = 5.0  # 2·area/perimeter: a 5 m wide strip is a drawing error, not a boundary
ACCEPT_OP, REJECT_OP = "accept_piece", "reject_piece"


@dataclass
class Piece:
    key: str
    grid: str  # the draft grid it lies in now
    votes: dict  # layer -> grid code that layer puts it with
    proposed: str  # the grid the merged layer gives it
    candidates: list[str]  # every grid some layer (or the official grid) puts it with, proposed first
    area_m2: float
    households: int
    geom: shapely.Geometry = field(repr=False)

    @property
    def change(self) -> bool:
        return self.proposed != self.grid

    def to_dict(self) -> dict:
        where = shapely.point_on_surface(self.geom)
        return dict(
            key=self.key,
            grid=self.grid,
            votes=self.votes,
            proposed=self.proposed,
            candidates=self.candidates,
            area_m2=round(self.area_m2, 1),
            households=self.households,
            change=self.change,
            lon=round(where.x, 7),
            lat=round(where.y, 7),
        )


def departmental(conn, admin_code: str) -> list[dict]:
    """Current departmental polygons (layer <> 'official') entering the community."""
    return [
        dict(r, geom=shapely.from_wkb(bytes(r.pop("wkb"))))
        for r in db.rows(
            conn,
            """
        SELECT g.layer, g.code, g.name, ST_AsBinary(g.geom) AS wkb FROM grid g, admin_unit a
         WHERE a.code = %s AND g.valid_to IS NULL AND g.layer <> 'official' AND ST_Intersects(g.geom, a.geom)
           AND NOT ST_Touches(g.geom, a.geom)
         ORDER BY g.layer, g.code""",
            (admin_code,),
        )
    ]


def _faces(area, geoms) -> list:
    """The faces of all boundaries (the community's, the grids', the layers') inside the community."""
    lines = shapely.union_all([shapely.boundary(g) for g in [area, *geoms]])  # noded at every crossing
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    return [f for f in faces if shapely.contains(area, shapely.point_on_surface(f))]


def _bordering(own, codes, g: int, poly, homed: list[int]) -> list[tuple]:
    """(part, grid) for each connected part of grid g inside a departmental polygon that is
    not g's home: the grid homed in that polygon sharing the longest boundary with the part
    (None when no such grid borders it: the department names no official grid there)."""
    out = []
    for part in polygon_parts(shapely.intersection(own[g], poly)):
        shared = [
            (float(shapely.length(shapely.intersection(shapely.boundary(part), shapely.boundary(own[h])))), codes[h])
            for h in homed
        ]
        shared = [s for s in shared if s[0] > 0]
        out.append((part, max(shared)[1] if shared else None))
    return out


def _key(grid: str, candidates: list[str], geom) -> str:
    norm = shapely.normalize(shapely.set_precision(geom, 1e-7))
    return hashlib.sha1(f"{grid}|{','.join(sorted(candidates))}|".encode() + shapely.to_wkb(norm)).hexdigest()[:16]


def choose(grid: str, votes: dict, counts: dict, standards: dict, moving: int) -> str:
    """The grid a piece goes to: most votes; on a tie the one leaving the tied grids' (and
    the current grid's) household counts nearest their standards; then the current grid."""
    tally = Counter(votes.values())
    best = max(tally.values())
    tied = sorted(c for c, n in tally.items() if n == best)
    if len(tied) == 1:
        return tied[0]
    involved = set(tied) | {grid}

    def cost(target: str) -> float:
        after = dict(counts)
        if target != grid:
            after[grid] = after.get(grid, 0) - moving
            after[target] = after.get(target, 0) + moving
        return round(sum(abs(after.get(c, 0) / standards[c] - 1.0) for c in involved), 9)

    return min(tied, key=lambda c: (cost(c), c != grid, c))


def _rejected(conn, plan_id: int) -> set[str]:
    return {
        r["note"]
        for r in db.rows(conn, "SELECT note FROM plan_edit WHERE plan_id = %s AND op = %s AND NOT undone", (plan_id, REJECT_OP))
    }


def pieces(conn, plan_id: int | None, ctx=None, live: dict | None = None, include_rejected: bool = False) -> list[Piece]:
    """The pieces where the departments' layers put area in another grid than the draft does
    (plan_id None: the grids in force, given as ctx and live, before any draft exists)."""
    ctx = ctx or context(conn, plan_id)
    live = live if live is not None else plan_grids(conn, plan_id)
    area = ctx.area
    layers: dict[str, list] = {}
    for d in departmental(conn, ctx.admin_code):
        inside = shapely.intersection(d["geom"], area)
        if polygon_parts(inside):
            layers.setdefault(d["layer"], []).append(shapely.MultiPolygon(polygon_parts(inside)))
    if not layers or not live:
        return []
    codes = sorted(live)
    own = [shapely.intersection(live[c]["geom"], area) for c in codes]
    homes = {}  # layer -> [index of the layer's polygon holding most of each grid, or -1]
    for name, polys in layers.items():
        shares = np.array([[shapely.area(shapely.intersection(g, p)) for p in polys] for g in own])
        homes[name] = np.where(shares.max(axis=1) > 0, shares.argmax(axis=1), -1)
    faces = _faces(area, [live[c]["geom"] for c in codes] + [p for polys in layers.values() for p in polys])
    groups: dict[tuple, list] = {}
    bordering: dict[tuple, list] = {}
    for face in faces:
        at = shapely.point_on_surface(face)
        held = [i for i, g in enumerate(own) if shapely.contains(g, at)]
        if len(held) != 1:
            continue  # a gap or an overlap: coverage defects, fixed by their own tools
        g = held[0]
        votes = {}
        for name, polys in layers.items():
            inside = [k for k, p in enumerate(polys) if shapely.contains(p, at)]
            if not inside:
                continue
            k = inside[0]
            if homes[name][g] == k:
                votes[name] = codes[g]
                continue
            if (g, name, k) not in bordering:
                bordering[g, name, k] = _bordering(
                    own, codes, g, polys[k], [h for h in range(len(codes)) if h != g and homes[name][h] == k]
                )
            votes[name] = next((c for part, c in bordering[g, name, k] if shapely.contains(part, at)), None)
            if votes[name] is None:
                del votes[name]
        if any(v != codes[g] for v in votes.values()):
            groups.setdefault((codes[g], tuple(sorted(votes.items()))), []).append(face)
    if not groups:
        return []
    counts = {r["code"]: r["households"] for r in loads(ctx, live)[0]}
    standards = {c: live[c].get("household_standard") or ctx.config.household_standard_urban for c in codes}
    rejected = set() if include_rejected or plan_id is None else _rejected(conn, plan_id)
    out = []
    for (grid, votes), group in sorted(groups.items()):
        votes = dict(votes)
        for part in polygon_parts(shapely.union_all(group)):
            m2 = float(ctx.meter.area(part))
            width = 2 * m2 / max(float(shapely.length(ctx.meter.metric(part))), 1e-9)
            if m2 < MIN_AREA_M2 or width < MIN_WIDTH_M:
                continue
            n = int(shapely.contains_xy(part, ctx.lon, ctx.lat).sum()) if len(ctx.lon) else 0
            proposed = choose(grid, votes, counts, standards, n)
            candidates = [proposed] + sorted({*votes.values(), grid} - {proposed})
            key = _key(grid, candidates, part)
            if key not in rejected:
                out.append(Piece(key, grid, votes, proposed, candidates, m2, n, part))
    out.sort(key=lambda p: (not p.change, -p.area_m2))
    return out


def _find(conn, plan_id: int, key: str, ctx) -> Piece:
    found = [p for p in pieces(conn, plan_id, ctx) if p.key == key]
    if not found:
        raise PlanError("this piece is no longer proposed (the draft changed around it); the list has been refreshed")
    return found[0]


def accept(conn, plan_id: int, key: str, to_code: str | None = None, force: bool = False) -> EditResult:
    """Give a piece to `to_code` (its proposed grid when None): one edit on the undo stack."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    piece = _find(conn, plan_id, key, ctx)
    target = to_code or piece.proposed
    if target not in piece.candidates or target == piece.grid:
        raise PlanError(f"no layer puts this piece in grid {target}")
    live = plan_grids(conn, plan_id)
    rest = shapely.difference(live[piece.grid]["geom"], piece.geom)
    changes = {
        piece.grid: dict(live[piece.grid], geom=rest) if polygon_parts(rest) else None,
        target: dict(live[target], geom=shapely.union(live[target]["geom"], piece.geom)),
    }
    return apply(conn, plan_id, ACCEPT_OP, changes, note=key, force=force, ctx=ctx)


def reject(conn, plan_id: int, key: str) -> EditResult:
    """Keep a piece where it is and stop proposing it (an edit without geometry; undo revives it)."""
    _draft(conn, plan_id)
    ctx = context(conn, plan_id)
    _find(conn, plan_id, key, ctx)
    return apply(conn, plan_id, REJECT_OP, {}, note=key, force=True, ctx=ctx)
