"""The unit a page opens on: the jurisdiction for a district account, the account's own
town or community otherwise.

Row-level security already hides everything outside the account's unit; this only makes
the pages *start* there (title, map bounds, KPI scope), so that a town leader's big screen
says the town's name and fits the town instead of showing a district with one town lit.
"""

from __future__ import annotations

from geo import db
from geo.security.access import code_prefix


def home_code(conn) -> str:
    """The scope argument for geo.analysis.dashboard (a code prefix its queries extend with
    '%'): "" for the whole jurisdiction, else the account's unit as a prefix. Compared as
    prefixes because six-digit codes nest by their trailing zeros: in a province (990000,
    prefix 99) a city account (990100, prefix 9901) and a county account (990101) are units
    below it, though all three codes have six digits."""
    scope = db.current_scope()
    if scope is None:
        return ""
    jurisdiction = db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1") or ""
    own = code_prefix(scope.admin_code)
    return "" if len(own) <= len(code_prefix(jurisdiction)) else own


def unit_code(prefix: str) -> str:
    """The administrative code of a home_code prefix (9901 → 990100; longer codes are their own)."""
    return prefix.ljust(6, "0") if prefix and len(prefix) < 6 else prefix


def home_unit(conn, jurisdiction: dict, code: str) -> dict:
    """dashboard.jurisdiction() narrowed to the account's unit: its code, name and bounds."""
    if not code:
        return jurisdiction
    code = unit_code(code)
    row = db.one(
        conn,
        """SELECT code, name, ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
                            FROM (SELECT code, name, ST_Extent(geom)::box2d AS e FROM admin_unit WHERE code = %s
                                   GROUP BY code, name) u""",
        (code,),
    )
    return dict(jurisdiction, **row) if row else jurisdiction
