"""The unit a page opens on: the jurisdiction for a district account, the account's own
town or community otherwise.

Row-level security already hides everything outside the account's unit; this only makes
the pages *start* there (title, map bounds, KPI scope), so that a town leader's big screen
says the town's name and fits the town instead of showing a district with one town lit.
"""

from __future__ import annotations

from geo import db


def home_code(conn) -> str:
    """The scope argument for geo.analysis.dashboard: "" for the whole jurisdiction, else the unit code."""
    scope = db.current_scope()
    if scope is None:
        return ""
    jurisdiction = db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1") or ""
    return "" if len(scope.admin_code) <= len(jurisdiction) else scope.admin_code


def home_unit(conn, jurisdiction: dict, code: str) -> dict:
    """dashboard.jurisdiction() narrowed to the account's unit: its code, name and bounds."""
    if not code:
        return jurisdiction
    row = db.one(
        conn,
        """SELECT code, name, ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
                            FROM (SELECT code, name, ST_Extent(geom)::box2d AS e FROM admin_unit WHERE code = %s
                                   GROUP BY code, name) u""",
        (code,),
    )
    return dict(jurisdiction, **row) if row else jurisdiction
