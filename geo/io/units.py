"""Administrative units listed by name only (communities as many offices keep them).

Why: a county's community layer often has 社区名称 and no 12-digit code. Refusing it left the
user with no way forward; making codes up silently would break the next import. So the
parent is the unit holding most of it (or the one its 所属乡镇 column names), the code is that
of the parent's unit with the same name if there is one, else the parent's code + the next
free number; the output lists what was matched and what was generated.
"""

from __future__ import annotations

from geo.io import staging, writers


def codes_for_named(cur, ctx, problems, notes: list[str]) -> None:
    """Units with a name but no code (communities as many offices list them): the parent is
    the unit holding most of it (or the one its 所属乡镇 names); the code is that of the
    parent's unit with the same name, else the parent's code + the next free number."""
    cur.execute("SELECT count(*) FROM import_stage WHERE code IS NULL")
    if not cur.fetchone()[0]:
        return
    cur.execute(
        """WITH units AS (SELECT code, name, geom FROM admin_unit WHERE length(code) IN (6, 9)
                          UNION ALL SELECT code, name, geom FROM import_stage WHERE code IS NOT NULL AND length(code) IN (6, 9))
           UPDATE import_stage s SET parent = (
               SELECT u.code FROM units u
                WHERE (s.parent_name IS NOT NULL AND u.name = s.parent_name)
                   OR (s.parent_name IS NULL AND ST_Intersects(u.geom, s.geom)
                       AND ST_Area(ST_Intersection(u.geom, s.geom)) > 0.5 * ST_Area(s.geom))
                ORDER BY length(u.code) DESC, u.code LIMIT 1)
            WHERE s.code IS NULL"""
    )
    for n, name in writers._fetch(cur, "SELECT n, name FROM import_stage WHERE code IS NULL AND parent IS NULL ORDER BY n"):
        problems.add(
            n, f"{name} has no code and lies in no imported town or district: add a 区划代码 column, or import the towns first"
        )
    staging.reject(cur, ctx, problems)
    cur.execute(
        """UPDATE import_stage s SET code = a.code FROM admin_unit a
            WHERE s.code IS NULL AND a.parent_code = s.parent AND a.name = s.name"""
    )
    matched = cur.rowcount
    cur.execute(
        """WITH used AS (SELECT left(code, length(code) - 3) AS parent, max(right(code, 3)::int) AS top
                           FROM (SELECT code FROM admin_unit UNION ALL SELECT code FROM import_stage WHERE code IS NOT NULL) c
                          WHERE length(code) IN (9, 12) GROUP BY 1),
                todo AS (SELECT n, parent, row_number() OVER (PARTITION BY parent
                                ORDER BY round(ST_Y(ST_Centroid(geom))::numeric, 3) DESC, ST_X(ST_Centroid(geom)), n) AS k
                           FROM import_stage WHERE code IS NULL)
           UPDATE import_stage s SET code = t.parent || lpad((COALESCE(u.top, 0) + t.k)::text, 3, '0')
             FROM todo t LEFT JOIN used u ON u.parent = t.parent WHERE s.n = t.n AND COALESCE(u.top, 0) + t.k <= 999
           RETURNING s.name, s.code"""
    )
    generated = cur.fetchall()
    cur.execute(
        """UPDATE import_stage SET level = CASE length(code) WHEN 12 THEN 'community' WHEN 9 THEN 'town' END
            WHERE level IS NULL AND code IS NOT NULL"""
    )
    shown = "、".join(f"{name} {code}" for name, code in generated[:8]) + (" …" if len(generated) > 8 else "")
    notes.append(
        f"{matched + len(generated)} unit(s) had names only: {matched} code(s) matched by name within their town, "
        f"{len(generated)} generated (parent code + sequence, north→south, west→east)" + (f": {shown}" if generated else "")
    )
