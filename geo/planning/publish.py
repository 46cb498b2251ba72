"""Publishing a plan as one atomic version switch, and the difference between two versions.

Publish closes the current row of every changed or removed grid (valid_to = now) and
inserts each changed or new grid as its next version (valid_from = the same now), then
re-derives the grid of every household, incident and place inside the community and the
changed grids (locate_points), all in one transaction: a failure anywhere leaves the old
version current and the plan a draft. Coverage is refreshed after the commit (it is
derived data; a failure there does not undo a sound publish).

The jurisdiction-wide refresh (coverage_defect for the map layer, every community's score)
takes seconds on a district, and nothing about the publish waits for it: the workbench
publishes with refresh_coverage="later", which starts the refresh on a background thread
as the database owner (db.system: a planner's role may not write derived tables) and
answers at once with the community's own score, the draft's check at the moment of the
switch (the same function coverage analysis uses, so the same number). Stored coverage
stays correct meanwhile because it is tagged with the grid data_version it was computed
at: readers (the map layer, /api/coverage/defects) see it is older than the grids and
refresh or wait, never take it for current.

The grids of a community at any moment are the rows with valid_from <= t < valid_to, so
the difference between two moments (or a draft and now) is an overlay of two sets of
polygons: area added to some grid, area no longer in any, and area handed between grids.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import shapely

from geo import db
from geo.coverage import report as coverage
from geo.coverage.geometry import polygon_parts
from geo.planning.drafts import PlanError, evaluate, get, grids

OUTSIDE_M2 = 1.0  # a grid's area beyond the account's unit that is floating-point noise, not ground

log = logging.getLogger(__name__)


def publish(conn, plan_id: int, by: str | None = None, refresh_coverage: bool | str = True) -> dict:
    """Switch the community to the plan's grids; returns counts and the moment of the switch.

    refresh_coverage: True refreshes the stored coverage before returning (CLI, tests),
    "later" on a background thread after the commit (the workbench), False not at all.
    With "later" the result carries the community's score from the draft's check."""
    plan = get(conn, plan_id)
    if plan["status"] != "draft":
        raise PlanError(f"plan {plan_id} is {plan['status']}: only a draft can be published")
    community_score = evaluate(conn, plan_id).score if refresh_coverage == "later" else None
    note = f"plan {plan_id}: {plan['name']}"
    with db.transaction(conn) as cur:
        cur.execute("SELECT status FROM plan WHERE id = %s FOR UPDATE", (plan_id,))
        if cur.fetchone()[0] != "draft":
            raise PlanError(f"plan {plan_id} was published or abandoned meanwhile")
        # A draft written before its edits were clipped to the account's unit (or by anyone
        # but geo.planning.drafts) must not take in another unit's ground either: publishing
        # relocates every point under its grids as the owner (drafts._within_ground).
        cur.execute(
            """SELECT array_agg(p.code ORDER BY p.code) FROM plan_grid p JOIN admin_unit u ON u.code = quanyu_unit()
                WHERE p.plan_id = %s AND p.action IN ('changed', 'new')
                  AND ST_Area(ST_Difference(p.geom, u.geom)::geography) > %s""",
            (plan_id, OUTSIDE_M2),
        )
        outside = cur.fetchone()[0]
        if outside:
            raise PlanError(
                f"网格 {'、'.join(outside)} 超出本账号的辖区，不能发布 (grids reaching beyond the unit of this account "
                "cannot be published: redraw them inside it, or ask a planner of the whole jurisdiction)"
            )
        cur.execute("SELECT now()")
        at = cur.fetchone()[0]
        # what the switch does, grid by grid, for the message a planner reads: which grids
        # take a new version, which are new, and which are retired
        cur.execute(
            """SELECT action, array_agg(code ORDER BY code) FROM plan_grid
                WHERE plan_id = %s AND action IN ('changed', 'new', 'removed') GROUP BY action""",
            (plan_id,),
        )
        actions = dict(cur.fetchall())
        cur.execute(
            """UPDATE grid g SET valid_to = now()
                         FROM plan_grid p
                        WHERE p.plan_id = %s AND p.action IN ('changed', 'removed', 'new')
                          AND g.layer = 'official' AND g.code = p.code AND g.valid_to IS NULL
                    RETURNING g.code""",
            (plan_id,),
        )
        closed = len(cur.fetchall())
        cur.execute(
            """INSERT INTO grid (code, name, kind, layer, household_standard, admin_code, version, valid_from,
                                         edited_by, edit_note, geom)
                       SELECT p.code, p.name, p.kind, 'official', p.household_standard, pl.admin_code,
                              COALESCE((SELECT max(version) FROM grid g WHERE g.layer = 'official' AND g.code = p.code), 0) + 1,
                              now(), %s, %s, p.geom
                         FROM plan_grid p JOIN plan pl ON pl.id = p.plan_id AND pl.admin_code = p.admin_code
                        WHERE p.plan_id = %s AND p.action IN ('changed', 'new')""",
            (by, note, plan_id),
        )
        inserted = cur.rowcount
        cur.execute(
            """SELECT ST_Union(geom) FROM (
                           SELECT geom FROM admin_unit WHERE code = %(c)s
                           UNION ALL SELECT geom FROM grid WHERE layer = 'official' AND code IN (
                               SELECT code FROM plan_grid WHERE plan_id = %(p)s AND action <> 'keep')
                             AND (valid_to IS NULL OR valid_to = now())) s""",
            dict(c=plan["admin_code"], p=plan_id),
        )
        area = cur.fetchone()[0]
        located = {}
        for table in ("household", "incident", "place"):
            cur.execute("SELECT locate_points(%s::regclass, %s::geometry)", (table, area))
            located[table] = cur.fetchone()[0]
        cur.execute("UPDATE plan SET status = 'published', published_at = now() WHERE id = %s", (plan_id,))
    result = dict(
        plan_id=plan_id,
        published_at=at,
        closed=closed,
        inserted=inserted,
        relocated=located,
        changed=actions.get("changed", []),
        new=actions.get("new", []),
        retired=actions.get("removed", []),
    )
    if refresh_coverage == "later":
        result["community_score"] = community_score
        result["refresh"] = refresh_later()
    elif refresh_coverage:
        run = coverage.refresh(conn)
        result["coverage_score"] = run.get("score")
    return result


_refresh = dict(thread=None, again=False)
_refresh_lock = threading.Lock()


def refresh_later(url: str | None = None) -> threading.Thread:
    """Refresh stored coverage on a background thread (one at a time; a publish during a
    running refresh makes it run once more, so the last grids are always covered).

    It refreshes the database of `url`, by default the application's (DATABASE_URL, the one
    the web app's pool serves), not necessarily that of the connection publish was given:
    the CLI and the tests publish with refresh_coverage=True instead."""
    with _refresh_lock:
        running = _refresh["thread"]
        if running is not None and running.is_alive():
            _refresh["again"] = True
            return running
        thread = threading.Thread(target=_refresh_loop, args=(url,), name="coverage-refresh", daemon=True)
        _refresh.update(thread=thread, again=False)
        thread.start()
        return thread


def _refresh_loop(url: str | None) -> None:
    while True:
        try:
            with db.system(url) as conn:
                coverage.refresh(conn)
        except Exception:  # derived data: log it; the next publish or reader refreshes again
            log.exception("coverage refresh after publish failed")
        with _refresh_lock:
            if not _refresh["again"]:
                _refresh["thread"] = None
                return
            _refresh["again"] = False


# --------------------------------------------------------------------------- versions and differences


def grids_at(conn, admin_code: str, at: datetime | None = None) -> dict[str, shapely.Geometry]:
    """The community's official grids at a moment (now when None): code -> geometry."""
    return {
        r["code"]: shapely.from_wkb(bytes(r["wkb"]))
        for r in db.rows(
            conn,
            """
        SELECT code, ST_AsBinary(geom) AS wkb FROM grid
         WHERE layer = 'official' AND admin_code = %(c)s
           AND CASE WHEN %(t)s::timestamptz IS NULL THEN valid_to IS NULL  -- now(): not the start of a long transaction
                    ELSE valid_from <= %(t)s AND (valid_to IS NULL OR valid_to > %(t)s) END
         ORDER BY code""",
            dict(c=admin_code, t=at),
        )
    }


def plan_moment(conn, plan_id: int) -> tuple[str, datetime | None]:
    """(community, the moment just before the plan was published) — its 'old version'."""
    plan = get(conn, plan_id)
    if plan["published_at"] is None:
        raise PlanError(f"plan {plan_id} is {plan['status']}: it has no old version to compare with")
    before = db.scalar(conn, "SELECT %s::timestamptz - interval '1 microsecond'", (plan["published_at"],))
    return plan["admin_code"], before


def difference(old: dict, new: dict) -> dict:
    """What changed between two sets of grids (code -> geometry), as GeoJSON-ready pieces:
    'added' (now in a grid, before in none), 'removed' (before in a grid, now in none) and
    'changed' (in a grid both times, but in another one), the old grids' outlines ('old'),
    and the codes of the grids changed."""
    old_union = shapely.union_all(list(old.values())) if old else shapely.GeometryCollection()
    new_union = shapely.union_all(list(new.values())) if new else shapely.GeometryCollection()
    pieces = {"added": shapely.difference(new_union, old_union), "removed": shapely.difference(old_union, new_union)}
    moved = []
    for code, geom in new.items():
        before = old.get(code)
        handed = (
            shapely.intersection(geom, old_union)
            if before is None
            else shapely.difference(shapely.intersection(geom, old_union), before)
        )
        moved.extend(polygon_parts(handed))
    pieces["changed"] = shapely.union_all(moved) if moved else shapely.GeometryCollection()
    changed_codes = sorted(
        c for c in set(old) | set(new) if c not in old or c not in new or not shapely.equals_exact(old[c], new[c], 0)
    )
    features = []
    for kind, geom in pieces.items():
        for part in polygon_parts(geom):
            if part.area > 1e-12:  # rounding dust of the overlay
                features.append(dict(type="Feature", properties=dict(change=kind), geometry=shapely.geometry.mapping(part)))
    counts = {k: sum(f["properties"]["change"] == k for f in features) for k in pieces}
    features += [
        dict(type="Feature", properties=dict(change="old", code=c), geometry=shapely.geometry.mapping(g))
        for c, g in sorted(old.items())
    ]  # the old version's outlines, to look at
    # and in grids, which is what a planner counts ("9 grids become 3"): the pieces above are
    # areas, and a merge of nine grids into three adds or removes no area at all
    grids_count = dict(
        before=len(old),
        after=len(new),
        created=sum(c not in old for c in new),
        retired=sum(c not in new for c in old),
        reshaped=sum(c in old and c in new and c in changed_codes for c in new),
    )
    return dict(type="FeatureCollection", features=features, changed_grids=changed_codes, counts=counts, grids=grids_count)


def diff(conn, admin_code: str, at_from: datetime | None, at_to: datetime | None = None) -> dict:
    """The community's grids at `at_from` against `at_to` (now when None)."""
    return difference(grids_at(conn, admin_code, at_from), grids_at(conn, admin_code, at_to))


def draft_diff(conn, plan_id: int) -> dict:
    """A draft against the current grids: what publishing it would change."""
    plan = get(conn, plan_id)
    return difference(grids_at(conn, plan["admin_code"]), {c: g["geom"] for c, g in grids(conn, plan_id).items()})
