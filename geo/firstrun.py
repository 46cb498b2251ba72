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

# (key, table and condition counted) of the data steps, in the order a county does them.
_COUNTS = (
    ("boundary", "admin_unit", "true"),
    ("grids", "grid", "valid_to IS NULL AND layer = 'official'"),
    ("households", "household", "true"),
    ("incidents", "incident", "true"),
    ("places", "place", "true"),
    ("staff", "grid_staff", "true"),
)
# Every step in order: the administrator comes second (an account is bound to a unit).
ORDER = ("boundary", "admin", "grids", "households", "incidents", "places", "staff")


def counts(conn) -> dict:
    """Rows of each data step's table (as far as the connection's scope sees) and the
    jurisdiction (code, name) or None."""
    selects = ", ".join(f"(SELECT count(*) FROM {table} WHERE {where}) AS {key}" for key, table, where in _COUNTS)
    row = db.one(conn, f"SELECT {selects}")
    jurisdiction = db.one(conn, "SELECT code, name FROM jurisdiction ORDER BY code LIMIT 1")
    return dict(row, jurisdiction=jurisdiction)


def admins(conn) -> int:
    """Active administrators (needs a system connection: web roles do not read accounts)."""
    return db.scalar(conn, "SELECT count(*) FROM app_user WHERE role = 'admin' AND active")


def has_accounts(conn) -> bool:
    """Whether any account exists (before the first, nobody can sign in: the welcome page)."""
    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM app_user)"))


def steps(c: dict, admin_count: int) -> list[dict]:
    """Every step with its count and done (bool), in ORDER; the first not done is `next`."""
    c = dict(c, admin=admin_count)
    out = [dict(key=key, count=c[key], done=c[key] > 0) for key in ORDER]
    pending = next((s for s in out if not s["done"]), None)
    for s in out:
        s["next"] = s is pending
    return out


def ready(conn) -> bool:
    """Whether the jurisdiction has what the big screen needs (a boundary and grids).

    Two existence probes, not counts: the big screen asks on every load, at city scale too."""
    return bool(
        db.scalar(
            conn,
            """SELECT EXISTS (SELECT 1 FROM jurisdiction)
                  AND EXISTS (SELECT 1 FROM grid WHERE valid_to IS NULL AND layer = 'official')""",
        )
    )
