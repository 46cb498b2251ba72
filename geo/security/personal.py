"""Personal data in and out of the database: the columns a page may read, and unmasking.

No web role is granted the raw name, phone or ID number columns (migration 0016); pages
read the masked generated copies (`reporter_name_masked`, ...). The full value of one
record comes only from reveal_personal(), which checks the role and writes the audit row in
the same statement, so an unmasking that is not logged cannot happen.
"""

from __future__ import annotations

import psycopg2

from geo import db

# Incident columns every web role may read (the grant in 0016 lists the same ones).
INCIDENT_COLUMNS = (
    "id",
    "title",
    "description",
    "minor_code",
    "source",
    "reported_at",
    "people_involved",
    "duration_days",
    "conflict_intensity",
    "behaviour_risk",
    "status",
    "level_handled",
    "deadline",
    "closed_at",
    "satisfaction",
    "address",
    "grid_code",
    "admin_code",
    "geom",
    "synthetic",
    "risk_score",
    "risk_tier",
    "risk_reasons",
    "merged_into",
    "media_url",
    "reporter_name_masked",
    "reporter_phone_masked",
    "assigned_to",
)
KINDS = ("household", "incident", "place")


def incident_columns(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c for c in INCIDENT_COLUMNS)


class UnmaskRefused(PermissionError):
    """The account's role may not see personal data in full, or the record is not in its unit."""


def reveal(conn, kind: str, record_id: int) -> dict:
    """The full personal fields of one record, logged; UnmaskRefused (also logged) otherwise."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    try:
        value = db.scalar(conn, "SELECT reveal_personal(%s, %s)", (kind, int(record_id)))
        conn.commit()
        return value
    except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.NoDataFound) as e:
        conn.rollback()
        from geo.security import accounts

        accounts.audit(conn, "unmask.refused", f"{kind}:{record_id}", {"reason": str(e).splitlines()[0]}, ok=False)
        conn.commit()
        raise UnmaskRefused(str(e).splitlines()[0]) from None
