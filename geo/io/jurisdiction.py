"""Which unit this database serves (the `jurisdiction` row), from the boundaries imported.

Why: a city platform loads its districts one file at a time, without the city's outline.
Taking the first district as the jurisdiction put every other district's grids "outside".
The jurisdiction is the one top-level unit imported, or, with several, the city (or
province) their codes share, made from their union, or the unit the user names
(`--jurisdiction 620800` or `--jurisdiction "620800 平凉市"`). The import says which.
"""

from __future__ import annotations

import re

from geo import crs as crs_mod


def parse(text: str | None) -> tuple[str, str | None] | None:
    """`620800` or `620800 平凉市` -> (code, name); ValueError for anything else."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{6}(?:\d{3}){0,2})\s*[:：,， ]?\s*(.*?)\s*", text)
    if not match:
        raise ValueError(f"--jurisdiction {text!r}: give a division code, e.g. 620800 or '620800 平凉市'")
    return match.group(1), match.group(2) or None


def _common_code(codes: list[str]) -> str:
    """The city (4 shared digits) or province (2) that holds all the codes, as 6 digits."""
    for width in (4, 2):
        if len({c[:width] for c in codes}) == 1:
            return codes[0][:width].ljust(6, "0")
    raise ValueError(
        f"the top-level units {', '.join(codes)} lie in different provinces: this database serves one jurisdiction; "
        "import one province's units, or name the unit with --jurisdiction CODE"
    )


def refresh(cur, forced: tuple[str, str | None] | None, source: str, *, only_if_needed: bool = False) -> str | None:
    """Set the jurisdiction after boundaries changed; returns the sentence for the output.

    only_if_needed: keep an existing jurisdiction when every top-level unit lies under it."""
    cur.execute("SELECT code, name FROM admin_unit WHERE parent_code IS NULL AND level IN ('city', 'district') ORDER BY code")
    tops = cur.fetchall()
    cur.execute("SELECT code FROM jurisdiction ORDER BY code")
    current = [r[0] for r in cur.fetchall()]
    if forced is None and not tops:
        return None
    if forced is None and only_if_needed and current:
        prefixes = [_prefix(c) for c in current]
        if all(any(code.startswith(p) for p in prefixes) for code, _ in tops):
            return None
    if forced is not None:
        code, name = forced
        why = "named by --jurisdiction"
    elif len(tops) == 1:
        code, name = tops[0]
        why = "the top-level unit imported"
    else:
        code, name = _common_code([c for c, _ in tops]), None
        why = f"every top-level unit imported ({'、'.join(n for _, n in tops)})"
    cur.execute("SELECT name FROM admin_unit WHERE code = %s", (code,))
    known = cur.fetchone()
    if known is None:
        name = name or "、".join(n for c, n in tops if c.startswith(_prefix(code))) or code
        level = "district" if len(code) == 6 and not code.endswith("00") else "city"
        if len(code) != 6:
            raise ValueError(f"--jurisdiction {code}: the unit is not in the imported boundaries; name a city or district code")
        cur.execute(
            """INSERT INTO admin_unit (code, level, name, kind, urban, geom, source)
               SELECT %(code)s, %(level)s, %(name)s, NULL, false, ST_Multi(ST_Union(geom)), %(source)s
                 FROM admin_unit WHERE parent_code IS NULL AND code <> %(code)s AND code LIKE %(prefix)s""",
            {
                "code": code,
                "level": level,
                "name": name,
                "source": f"derived: union of its districts ({source})",
                "prefix": _prefix(code) + "%",
            },
        )
    else:
        name = name or known[0]
        if forced is not None and forced[1]:
            cur.execute("UPDATE admin_unit SET name = %s WHERE code = %s", (forced[1], code))
        cur.execute(
            """UPDATE admin_unit u SET geom = (SELECT ST_Multi(ST_Union(geom)) FROM admin_unit c
                                                WHERE c.parent_code IS NULL AND c.code <> u.code AND c.code LIKE %(prefix)s)
                WHERE u.code = %(code)s AND u.source LIKE 'derived:%%'""",
            {"code": code, "prefix": _prefix(code) + "%"},
        )
    cur.execute(
        "UPDATE admin_unit SET parent_code = %s WHERE parent_code IS NULL AND code <> %s AND code LIKE %s",
        (code, code, _prefix(code) + "%"),
    )
    cur.execute("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM admin_unit WHERE code = %s", (code,))
    x, y = cur.fetchone()
    srid = crs_mod.metric_crs_for(x, y) if x is not None else 4545
    cur.execute("DELETE FROM jurisdiction")
    cur.execute("INSERT INTO jurisdiction (code, name, metric_srid, source) VALUES (%s, %s, %s, %s)", (code, name, srid, source))
    return f"jurisdiction set to {name} ({code}), {why}, metric CRS EPSG:{srid}"


def _prefix(code: str) -> str:
    return re.sub(r"(00)+$", "", code) if len(code) == 6 else code
