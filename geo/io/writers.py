"""Writing a staged import into its table: insert, update in place by external id, replace.

Why one module per job: the staging (geo.io.staging) knows where rows lie; these writers
know each table's rules: grid boundaries are versioned, incidents keep their status
history and risk tier, rows with an office's own id (工单编号, 户编号, 场所编号) are updated in
place on re-import (mode upsert), never duplicated. Every writer counts what it inserted,
updated, left unchanged and removed, and keeps what it overwrote for undo (geo.io.batches).
"""

from __future__ import annotations

from geo.io import batches, jurisdiction, staging


def _counts(**kw) -> dict:
    return {"inserted": 0, "updated": 0, "unchanged": 0, "removed": 0, **kw}


# --------------------------------------------------------------------------- points


def write_points(table: str, cur, ctx, problems, columns) -> tuple[dict, list[str]]:
    """Households, places and incidents: located points, upserted by external_id."""
    staging.assign_admin(cur, ctx, problems)
    names = [c for c, _ in columns]
    counts, notes = _counts(), []
    if ctx.mode == "replace":
        if table == "incident":
            problems.add(
                None,
                "--mode replace is not offered for incidents (they carry a status history): use upsert by 工单编号, or undo the earlier batch",
            )
            problems.fail()
        counts["removed"] = batches.keep_old(cur, ctx.batch, table, "delete", "t.import_batch IS NOT NULL")
        cur.execute(f"DELETE FROM {table} WHERE import_batch IS NOT NULL")
        notes.append(f"replace: {counts['removed']} row(s) of earlier imports removed (undo puts them back)")
    if not ctx.keyed and ctx.mode == "upsert" and table in NATURAL_KEYS:
        counts.update(_match_by_content(table, cur, ctx, names, notes))
    if ctx.keyed:
        cur.execute("ALTER TABLE import_stage ADD COLUMN target bigint, ADD COLUMN changed boolean")
        cur.execute(f"UPDATE import_stage s SET target = t.id FROM {table} t WHERE t.external_id = s.external_id")
        if ctx.mode == "append":
            for n, ext, target in _fetch(
                cur, "SELECT n, external_id, target FROM import_stage WHERE target IS NOT NULL ORDER BY n"
            ):
                problems.add(n, f"id {ext} is already in the database (row {target}): use --mode upsert to update it")
            staging.reject(cur, ctx, problems)
        else:
            counts.update(_update_in_place(table, cur, ctx, names))
            cur.execute("DELETE FROM import_stage WHERE target IS NOT NULL")
    ctx.say(f"写入 inserting into {table} …", 0.85)
    if table == "incident":
        from geo.incidents import archive

        loaded, touched, months = 0, [], []
        if ctx.history:
            from geo.io import history

            loaded, touched, months = history.load(cur, ctx, names)
            notes.append(
                f"history: {loaded} row(s) of {len(months)} closed month(s) loaded as new partitions"
                + (f" ({months[0]} … {months[-1]})" if months else "")
            )
            ctx.say("写入 remaining rows (current month, months that have rows) …", 0.95)
        archive.make_staged_months(cur)  # rows of a month without partition go straight into it
        counts["inserted"], more = _insert_incidents(cur, ctx, names)
        counts["inserted"] += loaded
        touched = sorted(set(touched) | set(more))
        if touched:
            ctx.say(f"风险 recomputing {len(touched)} grid(s) …", 0.95)
            cur.execute("SELECT risk_recompute_grids(%s)", (touched,))
    else:
        cur.execute(
            f"""INSERT INTO {table} ({", ".join(names)}, grid_code, admin_code, geom, import_batch)
                SELECT {", ".join("s." + c for c in names)}, s.grid_code, s.admin_code, s.geom, %s FROM import_stage s ORDER BY s.n""",
            (ctx.batch,),
        )
        counts["inserted"] = cur.rowcount
    if table == "household":  # the map's hexagons of the towns this file touched, here, not on a screen's first tile
        ctx.say("汇总 counting household hexagons of the towns imported …", 0.95)
        cur.execute("SELECT refresh_household_hex_changed()")
    cur.execute(f"SELECT count(*) FROM {table} WHERE import_batch = %s AND grid_code IS NULL", (ctx.batch,))
    gridless = cur.fetchone()[0]
    if gridless:
        notes.append(f"{gridless} row(s) lie in no official grid (grid_code left empty)")
    return counts, notes


# What names a row when the file has no id column: a 公安 register has no 户编号 (its 身份证号
# is not kept), a place list often no 场所编号.
NATURAL_KEYS = {"household": ("address", "head_name"), "place": ("name", "category")}


def _match_by_content(table: str, cur, ctx, names: list[str], notes: list[str]) -> dict:
    """Rows of a file without ids matched to rows imported before without ids, by their
    natural key (a household's address and head, a place's name and type), where the key names
    one row on each side: updated in place or left alone, as rows with ids are. Before, every
    re-import of a register without 户编号 added every household again."""
    key = NATURAL_KEYS[table]
    folded = ", ".join(f"coalesce({k}, '') AS {k}" for k in key)  # NULL is a value here; = keeps hash joins
    same = " AND ".join(f"{{a}}.{k} = coalesce({{b}}.{k}, '')" for k in key)
    cur.execute("ALTER TABLE import_stage ADD COLUMN target bigint, ADD COLUMN changed boolean")
    cur.execute(
        f"""UPDATE import_stage s SET target = t.id
              FROM (SELECT min(id) AS id, {folded} FROM {table} WHERE external_id IS NULL
                     GROUP BY {", ".join(f"coalesce({k}, '')" for k in key)} HAVING count(*) = 1) t,
                   (SELECT {folded} FROM import_stage
                     GROUP BY {", ".join(f"coalesce({k}, '')" for k in key)} HAVING count(*) = 1) once
             WHERE {same.format(a="t", b="s")} AND {same.format(a="once", b="s")}"""
    )
    counts = _update_in_place(table, cur, ctx, names)
    cur.execute("DELETE FROM import_stage WHERE target IS NOT NULL")
    if counts["updated"] or counts["unchanged"]:
        words = {"household": "地址 and 户主姓名", "place": "名称 and 类型"}[table]
        notes.append(
            f"no id column: {counts['updated'] + counts['unchanged']} row(s) matched rows imported before by {words} "
            f"({counts['updated']} updated, {counts['unchanged']} unchanged)"
        )
    cur.execute("ALTER TABLE import_stage DROP COLUMN target, DROP COLUMN changed")
    return counts


def _compared(table: str, names: list[str], ctx) -> tuple[list[str], list[str]]:
    """(table expressions, new values) compared to decide whether a matched row changed."""
    old, new = [], []
    for c in names + ["grid_code", "admin_code", "geom"]:
        if c == "closed_at" and table == "incident" and ctx.derived_closed:
            # a closing time derived from the status: kept once set, so a re-import changes nothing
            old.append("t.closed_at IS NULL")
            new.append("s.closed_at IS NULL")
        else:
            old.append(f"t.{c}")
            new.append(f"s.{c}")
    return old, new


def _update_in_place(table: str, cur, ctx, names: list[str]) -> dict:
    old, new = _compared(table, names, ctx)
    cur.execute(
        f"""UPDATE import_stage s SET changed = ({", ".join(old)}) IS DISTINCT FROM ({", ".join(new)})
              FROM {table} t WHERE t.id = s.target"""
    )
    cur.execute(
        "SELECT count(*) FILTER (WHERE changed), count(*) FILTER (WHERE NOT changed) FROM import_stage WHERE target IS NOT NULL"
    )
    updated, unchanged = cur.fetchone()
    if not updated:
        return {"updated": 0, "unchanged": unchanged}
    batches.keep_old(cur, ctx.batch, table, "update", "t.id IN (SELECT target FROM import_stage WHERE changed)")
    sets = []
    for c in names + ["grid_code", "admin_code", "geom"]:
        if c == "closed_at" and table == "incident" and ctx.derived_closed:
            sets.append("closed_at = CASE WHEN s.closed_at IS NULL THEN NULL ELSE COALESCE(t.closed_at, s.closed_at) END")
        else:
            sets.append(f"{c} = s.{c}")
    if table == "incident":
        cur.execute(
            """CREATE TEMP TABLE import_status ON COMMIT DROP AS
               SELECT t.id, t.status AS before, s.status AS after FROM incident t JOIN import_stage s ON s.target = t.id
                WHERE s.changed AND t.status IS DISTINCT FROM s.status"""
        )
        cur.execute("SELECT set_config('quanyu.import_sync', 'on', true)")
    cur.execute(f"UPDATE {table} t SET {', '.join(sets)} FROM import_stage s WHERE t.id = s.target AND s.changed")
    if table == "incident":
        cur.execute(
            """INSERT INTO incident_history (incident_id, from_status, to_status, actor, note, admin_code)
               SELECT c.id, c.before, c.after, %s, 'synced from the ledger (re-import)', i.admin_code
                 FROM import_status c JOIN incident i ON i.id = c.id ORDER BY c.id""",
            (ctx.actor,),
        )
        cur.execute("SELECT set_config('quanyu.import_sync', '', true)")
    return {"updated": updated, "unchanged": unchanged}


def risk_select(names: list[str], stage: str, where: str = "true") -> str:
    """The staged incidents of `stage` (those `where` picks, alias s) with their batch
    (%(batch)s) and their risk tier, set-based from the same function as the row trigger
    (risk_assess_incident, 0004), in file order: the SELECT of both the normal insert and the
    history load (geo.io.history)."""
    return f"""SELECT {", ".join("s." + c for c in names)}, s.grid_code, s.admin_code, s.geom, %(batch)s,
                       (s.a).score, (s.a).tier, (s.a).reasons
                  FROM (SELECT s.*, CASE WHEN r.incident_params IS NOT NULL THEN
                               risk_assess_incident(r.incident_params, c.severity, s.people_involved, s.duration_days,
                                                    s.conflict_intensity, s.behaviour_risk, s.status, 0) END AS a
                          FROM {stage} s JOIN category c ON c.minor_code = s.minor_code
                          LEFT JOIN risk_config r ON r.id = 1 WHERE {where} OFFSET 0) s
                 ORDER BY s.n"""


def _insert_incidents(cur, ctx, names: list[str]) -> tuple[int, list]:
    """Insert the staged incidents in one statement, with their risk tier set-based from the
    same function as the row trigger (risk_assess_incident, 0004), which is switched off for
    it (quanyu.risk_bulk, 0019); the grids they touch are recomputed once by the caller."""
    cur.execute("SET LOCAL quanyu.risk_bulk = 'on'")
    cur.execute("SET LOCAL quanyu.risk_defer = 'on'")
    cur.execute(
        f"""WITH ins AS (
                INSERT INTO incident ({", ".join(names)}, grid_code, admin_code, geom, import_batch, risk_score, risk_tier, risk_reasons)
                {risk_select(names, "import_stage")}
                RETURNING id, status, admin_code, grid_code),
             hist AS (INSERT INTO incident_history (incident_id, to_status, actor, note, admin_code)
                      SELECT id, status, %(actor)s, 'imported', admin_code FROM ins ORDER BY id)
        SELECT count(*), array_agg(DISTINCT grid_code) FILTER (WHERE grid_code IS NOT NULL) FROM ins""",
        {"actor": ctx.actor, "batch": ctx.batch},
    )
    inserted, touched = cur.fetchone()
    cur.execute("SET LOCAL quanyu.risk_bulk = 'off'")
    cur.execute("SET LOCAL quanyu.risk_defer = 'off'")
    return inserted, touched or []


# --------------------------------------------------------------------------- boundaries


def write_boundary(cur, ctx, problems, columns) -> tuple[dict, list[str]]:
    ctx.say("写入 upserting administrative units …", 0.85)
    cur.execute(
        """ALTER TABLE import_stage ADD COLUMN existed boolean, ADD COLUMN changed boolean;
           UPDATE import_stage s SET existed = true,
                  changed = (u.level, u.name, u.kind, u.urban, u.geom) IS DISTINCT FROM (s.level, s.name, s.kind, s.urban, s.geom)
             FROM admin_unit u WHERE u.code = s.code"""
    )
    batches.keep_old(cur, ctx.batch, "admin_unit", "update", "t.code IN (SELECT code FROM import_stage WHERE changed)")
    cur.execute(
        """INSERT INTO admin_unit AS u (code, level, name, kind, urban, parent_code, geom, source, import_batch)
           SELECT s.code, s.level, s.name, s.kind, s.urban,
                  CASE WHEN EXISTS (SELECT 1 FROM admin_unit p WHERE p.code = s.parent)
                         OR EXISTS (SELECT 1 FROM import_stage p WHERE p.code = s.parent) THEN s.parent END,
                  s.geom, s.source, %s
             FROM import_stage s WHERE s.existed IS NULL OR s.changed ORDER BY length(s.code), s.n
           ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name, kind = EXCLUDED.kind,
                  urban = EXCLUDED.urban, parent_code = COALESCE(EXCLUDED.parent_code, u.parent_code),
                  geom = EXCLUDED.geom, source = EXCLUDED.source
           RETURNING xmax = 0""",
        (ctx.batch,),
    )
    inserted = sum(1 for (new,) in cur.fetchall() if new)
    cur.execute("SELECT count(*) FROM import_stage WHERE existed AND NOT changed")
    counts = _counts(inserted=inserted, unchanged=cur.fetchone()[0])
    cur.execute("SELECT count(*) FROM import_stage WHERE existed AND changed")
    counts["updated"] = cur.fetchone()[0]
    notes = [f"{inserted} new, {counts['updated']} updated and {counts['unchanged']} unchanged administrative unit(s)"]
    try:
        said = jurisdiction.refresh(cur, ctx.jurisdiction, ctx.actor, only_if_needed=ctx.jurisdiction is None)
    except ValueError as exc:
        problems.add(None, str(exc))
        problems.fail()
    if said:
        notes.append(said)
    return counts, notes


# --------------------------------------------------------------------------- grids


def grid_communities(cur) -> None:
    """admin_code of each staged grid: the community it overlaps most."""
    cur.execute(
        """UPDATE import_stage s SET admin_code = (
               SELECT code FROM (SELECT a.code, ST_Area(ST_Intersection(a.geom, s.geom)) AS overlap
                                   FROM admin_unit a WHERE a.level = 'community' AND ST_Intersects(a.geom, s.geom)) o
                WHERE overlap > 0 ORDER BY overlap DESC, code LIMIT 1)"""
    )


def write_grids(cur, ctx, problems, columns) -> tuple[dict, list[str]]:
    ctx.say("空间关联 matching grids to communities …", 0.8)
    grid_communities(cur)
    for (n,) in _fetch(cur, "SELECT n FROM import_stage WHERE admin_code IS NULL ORDER BY n"):
        problems.add(
            n, "overlaps no community: every grid belongs to one village/community (import the community boundaries first)"
        )
    staging.reject(cur, ctx, problems)
    notes = [
        f"{ctx.source.label(n)}: code {code} is under community {code[:12]} but the grid lies mostly in {admin}; admin_code follows the map"
        for n, code, admin in _fetch(
            cur, "SELECT n, code, admin_code FROM import_stage WHERE left(code, 12) <> admin_code ORDER BY n"
        )
    ]
    # Missing codes: the community code + the next free 3-digit sequence, numbered
    # west -> east within rows taken north -> south (GB/T 30428 practice).
    cur.execute(
        """WITH used AS (SELECT left(code, 12) AS prefix, max(right(code, 3)::int) AS top
                           FROM (SELECT code FROM grid UNION ALL SELECT code FROM import_stage WHERE code IS NOT NULL) c
                          GROUP BY 1),
                todo AS (SELECT n, admin_code, row_number() OVER (PARTITION BY admin_code
                                ORDER BY round(ST_Y(ST_Centroid(geom))::numeric, 3) DESC, ST_X(ST_Centroid(geom)), n) AS k
                           FROM import_stage WHERE code IS NULL)
           UPDATE import_stage s SET code = CASE WHEN COALESCE(u.top, 0) + t.k <= 999
                                                 THEN t.admin_code || lpad((COALESCE(u.top, 0) + t.k)::text, 3, '0') END
             FROM todo t LEFT JOIN used u ON u.prefix = t.admin_code WHERE s.n = t.n"""
    )
    generated = cur.rowcount
    for n, admin in _fetch(cur, "SELECT n, admin_code FROM import_stage WHERE code IS NULL ORDER BY n"):
        problems.add(n, f"no free grid number left under community {admin} (001-999 are taken)")
    staging.reject(cur, ctx, problems)
    cur.execute(
        """UPDATE import_stage s SET name = COALESCE(s.name, a.name || '第' || right(s.code, 3)::int || '网格'),
                                     kind = COALESCE(s.kind, CASE WHEN a.urban THEN 'urban' ELSE 'rural' END)
             FROM admin_unit a WHERE a.code = s.admin_code"""
    )
    # Unchanged grids (same boundary and attributes) are left alone: a re-import changes nothing.
    cur.execute(
        """ALTER TABLE import_stage ADD COLUMN existed boolean, ADD COLUMN changed boolean;
           UPDATE import_stage s SET existed = true,
                  changed = (g.name, g.kind, g.dedicated_type, g.household_standard, g.admin_code, g.geom)
                            IS DISTINCT FROM (s.name, s.kind, s.dedicated_type, s.household_standard, s.admin_code, s.geom)
             FROM grid g WHERE g.layer = %(layer)s AND g.code = s.code AND g.valid_to IS NULL""",
        {"layer": ctx.grid_layer},
    )
    cur.execute("SELECT count(*) FROM import_stage WHERE existed AND NOT changed")
    unchanged = cur.fetchone()[0]
    cur.execute("DELETE FROM import_stage WHERE existed AND NOT changed")
    batches.keep_old(
        cur,
        ctx.batch,
        "grid",
        "update",
        "t.valid_to IS NULL AND t.layer = %(layer)s AND t.code IN (SELECT code FROM import_stage WHERE changed)",
        {"layer": ctx.grid_layer},
    )
    # A boundary is never edited in place: close the current version, add the next one.
    cur.execute(
        """UPDATE grid g SET valid_to = now() FROM import_stage s
            WHERE g.layer = %(layer)s AND g.code = s.code AND g.valid_to IS NULL""",
        {"layer": ctx.grid_layer},
    )
    replaced = cur.rowcount
    cur.execute(
        """INSERT INTO grid (code, name, kind, dedicated_type, layer, household_standard, admin_code, version,
                             edited_by, edit_note, geom, import_batch)
           SELECT s.code, s.name, s.kind, s.dedicated_type, %(layer)s, s.household_standard, s.admin_code,
                  COALESCE((SELECT max(g.version) FROM grid g WHERE g.layer = %(layer)s AND g.code = s.code), 0) + 1,
                  %(actor)s, 'imported', s.geom, %(batch)s
             FROM import_stage s ORDER BY s.n""",
        {"layer": ctx.grid_layer, "actor": ctx.actor, "batch": ctx.batch},
    )
    counts = _counts(inserted=cur.rowcount - replaced, updated=replaced, unchanged=unchanged)
    if generated:
        notes.append(f"generated codes for {generated} grid(s) (community code + sequence, west→east, north→south)")
    if replaced:
        notes.append(f"{replaced} grid(s) already existed: old version closed (valid_to), new version added")
    if unchanged:
        notes.append(f"{unchanged} grid(s) unchanged (same boundary and attributes)")
    return counts, notes


# --------------------------------------------------------------------------- staff


def write_staff(cur, ctx, problems, columns) -> tuple[dict, list[str]]:
    """Grid staff (1+1+N) by grid code; a person is (grid, name): role and phone updated in place."""
    cur.execute(
        "UPDATE import_stage s SET admin_code = g.admin_code FROM grid g WHERE g.code = s.grid_code AND g.valid_to IS NULL AND g.layer = 'official'"
    )
    cur.execute("SELECT code FROM grid WHERE valid_to IS NULL AND layer = 'official'")
    known = [r[0] for r in cur.fetchall()]
    from geo.io import values

    for n, code in _fetch(cur, "SELECT n, grid_code FROM import_stage WHERE admin_code IS NULL ORDER BY n"):
        near = values.suggest(code, known)
        problems.add_value(
            n,
            ctx.mapping.fields.get("grid_code") or ctx.mapping.fields.get("grid_name", "grid_code"),
            code,
            "no current official grid has this code" + (f"; did you mean {near}?" if near else ""),
            near,
        )
    staging.reject(cur, ctx, problems)
    counts, notes = _counts(), []
    if ctx.mode == "replace":
        where = "t.grid_code IN (SELECT grid_code FROM import_stage)"
        counts["removed"] = batches.keep_old(cur, ctx.batch, "grid_staff", "delete", where)
        cur.execute("DELETE FROM grid_staff t WHERE " + where)
    cur.execute(
        """ALTER TABLE import_stage ADD COLUMN target bigint, ADD COLUMN changed boolean;
           UPDATE import_stage s SET target = t.id, changed = (t.role, t.phone) IS DISTINCT FROM (s.role, s.phone)
             FROM grid_staff t WHERE t.grid_code = s.grid_code AND t.name = s.name"""
    )
    if ctx.mode == "append":
        cur.execute("UPDATE import_stage SET target = NULL")
    batches.keep_old(cur, ctx.batch, "grid_staff", "update", "t.id IN (SELECT target FROM import_stage WHERE changed)")
    cur.execute("UPDATE grid_staff t SET role = s.role, phone = s.phone FROM import_stage s WHERE t.id = s.target AND s.changed")
    counts["updated"] = cur.rowcount
    cur.execute("SELECT count(*) FROM import_stage WHERE target IS NOT NULL AND NOT changed")
    counts["unchanged"] = cur.fetchone()[0]
    cur.execute(
        """INSERT INTO grid_staff (grid_code, role, name, phone, admin_code, import_batch)
           SELECT grid_code, role, name, phone, admin_code, %s FROM import_stage WHERE target IS NULL ORDER BY n""",
        (ctx.batch,),
    )
    counts["inserted"] = cur.rowcount
    cur.execute(
        """SELECT count(*) FROM grid g WHERE g.valid_to IS NULL AND g.layer = 'official'
              AND NOT EXISTS (SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code)"""
    )
    without = cur.fetchone()[0]
    if without:
        notes.append(f"{without} current grid(s) still have no staff")
    return counts, notes


def _fetch(cur, sql: str, params=None) -> list[tuple]:
    cur.execute(sql, params)
    return cur.fetchall()
