"""Import batches (导入批次): each import's id, file, user, time and counts; history; undo.

What undo means (said in `python -m geo import undo --help`): the rows the batch added are
removed, and the rows it changed (an upsert by 工单编号/户编号) or removed (--mode replace)
are put back as they were before it, in one transaction. Grid boundaries are never deleted
(they are history): undo closes the versions the batch added and, where it replaced one,
adds the previous boundary back as a new version. Undo refuses, and says why, when a later
import changed the same rows (undo that one first) or when an imported incident has been
worked on since (its history would be lost). Categories are reference data: re-import the
previous table instead.

Why this design: rows carry the batch that created them (`import_batch`), so a first import
of 100k rows logs nothing per row; only what a batch overwrites is kept, as JSON of the old
row (`import_batch_row`), enough to restore it column for column.
"""

from __future__ import annotations

from geo import db

TABLES = {
    "boundary": "admin_unit",
    "grids": "grid",
    "households": "household",
    "incidents": "incident",
    "places": "place",
    "staff": "grid_staff",
    "reference": "basemap_feature",  # the county's reference layers (geo.io.basemap), "reference:roads" ...
}
KEY = {"admin_unit": "code", "grid": "gid"}  # the row key when it is not `id`


class UndoRefused(ValueError):
    """The batch cannot be undone (yet); the message says why and what to do."""


def create(cur, layer: str, file_name: str, user: str, mode: str, source_crs: str | None, encoding: str | None) -> int:
    cur.execute(
        """INSERT INTO import_batch (layer, file_name, imported_by, mode, source_crs, encoding)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (layer, file_name, user, mode, source_crs, encoding),
    )
    return cur.fetchone()[0]


def finish(cur, batch: int, counts: dict, note: str) -> None:
    cur.execute(
        """UPDATE import_batch SET rows_read = %(rows_read)s, inserted = %(inserted)s, updated = %(updated)s,
                  unchanged = %(unchanged)s, removed = %(removed)s, rejected = %(rejected)s, note = %(note)s
            WHERE id = %(batch)s""",
        {
            **{k: counts.get(k, 0) for k in ("rows_read", "inserted", "updated", "unchanged", "removed", "rejected")},
            "note": note,
            "batch": batch,
        },
    )


def _old_row_sql(table: str) -> str:
    geom = " || jsonb_build_object('geom', encode(ST_AsEWKB(t.geom), 'hex'))" if table != "grid_staff" else ""
    return f"to_jsonb(t){geom}"


def keep_old(cur, batch: int, table: str, action: str, where: str, params: dict | None = None) -> int:
    """Save the rows of `table` matching `where` (SQL over alias t) before the batch changes
    (`update`) or removes (`delete`) them. Returns how many were saved."""
    key = KEY.get(table, "id")
    row_id = f"t.{key}::bigint" if key != "id" else "t.id"
    cur.execute(
        f"""INSERT INTO import_batch_row (batch_id, tbl, row_id, action, old)
            SELECT %(batch)s, %(tbl)s, {row_id}, %(action)s, {_old_row_sql(table)} FROM {table} t WHERE {where}
            ON CONFLICT DO NOTHING""",
        {"batch": batch, "tbl": table, "action": action, **(params or {})},
    )
    return cur.rowcount


def writable_columns(conn_or_cur, table: str) -> list[str]:
    sql = """SELECT column_name FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position"""
    if hasattr(conn_or_cur, "execute") and not hasattr(conn_or_cur, "cursor"):
        conn_or_cur.execute(sql, (table,))
        return [r[0] for r in conn_or_cur.fetchall()]
    return [r["column_name"] for r in db.rows(conn_or_cur, sql, (table,))]


def history(conn, limit: int = 50) -> list[dict]:
    """The latest batches, newest first."""
    return db.rows(
        conn,
        """SELECT id, layer, file_name, imported_by, imported_at, mode, rows_read, inserted, updated, unchanged,
                  removed, rejected, source_crs, encoding, note, undone_at, undone_by
             FROM import_batch ORDER BY id DESC LIMIT %s""",
        (limit,),
    )


def undo(conn, batch: int, user: str) -> dict:
    """Undo one batch (see the module docstring); returns what was removed and restored."""
    row = db.one(conn, "SELECT * FROM import_batch WHERE id = %s", (batch,))
    if row is None:
        raise UndoRefused(f"there is no import batch {batch}: see python -m geo import history")
    if row["undone_at"] is not None:
        raise UndoRefused(f"batch {batch} was already undone at {row['undone_at']:%Y-%m-%d %H:%M} by {row['undone_by']}")
    table = TABLES.get(row["layer"].split(":")[0])
    if table is None:
        raise UndoRefused(
            f"batch {batch} loaded {row['layer']}, which is reference data: import the previous table again instead"
        )
    with db.transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(7246810030)")
        _refuse_if_later(cur, batch, table)
        if table == "grid":
            removed, restored = _undo_grids(cur, batch, user)
        else:
            removed, restored = _undo_rows(cur, batch, table, user)
        cur.execute("UPDATE import_batch SET undone_at = now(), undone_by = %s WHERE id = %s", (user, batch))
        if table == "admin_unit":
            from geo.io import jurisdiction

            jurisdiction.refresh(cur, None, f"undo of batch {batch}")
    return {"batch": batch, "layer": row["layer"], "file_name": row["file_name"], "removed": removed, "restored": restored}


def _refuse_if_later(cur, batch: int, table: str) -> None:
    key = KEY.get(table, "id")
    row_id = f"t.{key}::bigint" if key != "id" else "t.id"
    cur.execute(
        f"""SELECT DISTINCT r.batch_id FROM import_batch_row r JOIN import_batch b ON b.id = r.batch_id
             WHERE r.batch_id > %(batch)s AND b.undone_at IS NULL AND r.tbl = %(tbl)s
               AND (r.row_id IN (SELECT {row_id} FROM {table} t WHERE t.import_batch = %(batch)s)
                    OR r.row_id IN (SELECT row_id FROM import_batch_row WHERE batch_id = %(batch)s AND tbl = %(tbl)s))
             ORDER BY 1""",
        {"batch": batch, "tbl": table},
    )
    later = [r[0] for r in cur.fetchall()]
    if table == "grid":
        cur.execute(
            """SELECT DISTINCT g2.import_batch FROM grid g JOIN grid g2 ON g2.layer = g.layer AND g2.code = g.code
                JOIN import_batch b ON b.id = g2.import_batch
               WHERE g.import_batch = %(batch)s AND g2.import_batch > %(batch)s AND b.undone_at IS NULL""",
            {"batch": batch},
        )
        later += [r[0] for r in cur.fetchall()]
    if later:
        ids = ", ".join(str(b) for b in sorted(set(later)))
        raise UndoRefused(f"a later import changed the same rows (batch {ids}): undo {ids} first, then batch {batch}")
    if table == "incident":
        cur.execute(
            """SELECT i.id, coalesce(i.external_id, i.id::text) FROM incident i
                WHERE i.import_batch = %(batch)s
                  AND (EXISTS (SELECT 1 FROM incident_history h WHERE h.incident_id = i.id AND h.actor NOT LIKE 'import:%%')
                       OR EXISTS (SELECT 1 FROM incident m WHERE m.merged_into = i.id)
                       OR EXISTS (SELECT 1 FROM reminder r WHERE r.incident_id = i.id))
                ORDER BY i.id LIMIT 6""",
            {"batch": batch},
        )
        worked = [r[1] for r in cur.fetchall()]
        if worked:
            raise UndoRefused(
                f"incident(s) {', '.join(worked[:5])} of batch {batch} were worked on after the import "
                "(dispatched, merged or reminded): undo would erase that history; close or cancel them instead"
            )
    if table == "admin_unit":
        cur.execute(
            """SELECT a.code FROM admin_unit a WHERE a.import_batch = %(batch)s
                 AND (EXISTS (SELECT 1 FROM grid g WHERE g.admin_code = a.code AND (g.import_batch IS DISTINCT FROM %(batch)s))
                      OR EXISTS (SELECT 1 FROM household h WHERE h.admin_code = a.code)
                      OR EXISTS (SELECT 1 FROM incident i WHERE i.admin_code = a.code)
                      OR EXISTS (SELECT 1 FROM admin_unit c WHERE c.parent_code = a.code AND c.import_batch IS DISTINCT FROM %(batch)s))
                LIMIT 5""",
            {"batch": batch},
        )
        used = [r[0] for r in cur.fetchall()]
        if used:
            raise UndoRefused(
                f"unit(s) {', '.join(used)} of batch {batch} hold grids, households or incidents imported since: undo those imports first"
            )


def _undo_rows(cur, batch: int, table: str, user: str) -> tuple[int, int]:
    columns = writable_columns(cur, table)
    key = KEY.get(table, "id")
    if table == "incident":
        cur.execute("SELECT set_config('quanyu.undo_batch', %s, true)", (str(batch),))
        cur.execute(
            "DELETE FROM incident_history WHERE incident_id IN (SELECT id FROM incident WHERE import_batch = %s)", (batch,)
        )
    if table == "admin_unit":  # a unit the batch created may be the parent of units it updated
        cur.execute(
            "UPDATE admin_unit SET parent_code = NULL WHERE parent_code IN (SELECT code FROM admin_unit WHERE import_batch = %s)",
            (batch,),
        )
    cur.execute(f"DELETE FROM {table} WHERE import_batch = %s", (batch,))
    removed = cur.rowcount
    if table == "incident":
        cur.execute("SELECT set_config('quanyu.undo_batch', '', true)")
        cur.execute("SELECT set_config('quanyu.import_sync', 'on', true)")
    cur.execute(
        "SELECT row_id, action, old FROM import_batch_row WHERE batch_id = %s AND tbl = %s ORDER BY row_id", (batch, table)
    )
    saved = cur.fetchall()
    restore_cols = [c for c in columns if c != key]
    record = f"jsonb_populate_record(NULL::{table}, %(old)s)"
    for row_id, action, old in saved:
        params = {"old": _json(old)}
        if action == "update":
            status_before = None
            if table == "incident":
                cur.execute("SELECT status FROM incident WHERE id = %s", (row_id,))
                status_before = cur.fetchone()[0]
            cur.execute(
                f"""UPDATE {table} t SET ({", ".join(restore_cols)}) = (SELECT {", ".join("r." + c for c in restore_cols)} FROM {record} r)
                     WHERE t.{key} = (SELECT r.{key} FROM {record} r)""",
                params,
            )
            if table == "incident" and status_before != old["status"]:
                cur.execute(
                    """INSERT INTO incident_history (incident_id, from_status, to_status, actor, note, admin_code)
                       SELECT id, %s, status, %s, %s, admin_code FROM incident WHERE id = %s""",
                    (status_before, f"import:undo:{user}", f"undo of import batch {batch}", row_id),
                )
        else:
            cur.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join('r.' + c for c in columns)} FROM {record} r",
                params,
            )
    if table == "incident":
        cur.execute("SELECT set_config('quanyu.import_sync', '', true)")
    return removed, len(saved)


def _undo_grids(cur, batch: int, user: str) -> tuple[int, int]:
    cur.execute("UPDATE grid SET valid_to = now() WHERE import_batch = %s AND valid_to IS NULL RETURNING layer, code", (batch,))
    removed = cur.rowcount
    cur.execute(
        """INSERT INTO grid (code, name, kind, dedicated_type, layer, household_standard, admin_code, version, edited_by, edit_note, geom)
           SELECT r.code, r.name, r.kind, r.dedicated_type, r.layer, r.household_standard, r.admin_code,
                  (SELECT max(g.version) FROM grid g WHERE g.layer = r.layer AND g.code = r.code) + 1,
                  %(user)s, %(note)s, r.geom
             FROM import_batch_row b, jsonb_populate_record(NULL::grid, b.old) r
            WHERE b.batch_id = %(batch)s AND b.tbl = 'grid'""",
        {"batch": batch, "user": f"undo:{user}", "note": f"undo of import batch {batch}"},
    )
    return removed, cur.rowcount


def _json(value):
    import psycopg2.extras

    return psycopg2.extras.Json(value)
