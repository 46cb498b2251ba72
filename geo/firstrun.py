"""First run without the demo: what a new installation still lacks, in the order to do it.

Why: `make serve` on an empty database used to open an empty big screen (or a sign-in page
nobody could pass, since no account exists yet). A county starting from its own files has
to do a few things in a fixed order: the boundary first (it names the jurisdiction, and an
account is bound to a unit of it), then the administrator, then the grids (households,
incidents and places are located in them), then the rest. This module says which of those
are done; the welcome page and the big screen show it (geo/web/welcome.py).
"""

from __future__ import annotations

from geo import db

# (key, table and condition counted) in the order a county does them.
_COUNTS = (
    ("boundary", "admin_unit", "true"),
    ("admin", "app_user", "role = 'admin' AND active"),
    ("grids", "grid", "valid_to IS NULL AND layer = 'official'"),
    ("households", "household", "true"),
    ("incidents", "incident", "true"),
    ("places", "place", "true"),
    ("staff", "grid_staff", "true"),
)
# Steps without which the big screen has nothing to show.
REQUIRED = ("boundary", "admin", "grids")


def counts(conn) -> dict:
    """Rows of each step's table (run as the system: the welcome page has no account yet)."""
    selects = ", ".join(f"(SELECT count(*) FROM {table} WHERE {where}) AS {key}" for key, table, where in _COUNTS)
    row = db.one(conn, f"SELECT {selects}")
    jurisdiction = db.one(conn, "SELECT code, name FROM jurisdiction ORDER BY code LIMIT 1")
    return dict(row, jurisdiction=jurisdiction)


def steps(conn) -> list[dict]:
    """Every step with done (bool) and its count, in order; the first not done is `next`."""
    c = counts(conn)
    out = [dict(key=key, count=c[key], done=c[key] > 0) for key, _, _ in _COUNTS]
    pending = next((s for s in out if not s["done"]), None)
    for s in out:
        s["next"] = s is pending
    return out


def has_accounts(conn) -> bool:
    """Whether any account exists (before the first, nobody can sign in: show the welcome page)."""
    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM app_user)"))


def ready(conn) -> bool:
    """Whether the jurisdiction has what the big screen needs (a boundary and grids)."""
    c = counts(conn)
    return c["jurisdiction"] is not None and c["grids"] > 0
